"""miRBase references: parse mature/hairpin FASTA and place each mature miRNA on its hairpins.

Counting is position-based (a read counts for a mature miRNA when it sits on the mature
arm of a hairpin), so the reference this module builds is the hairpins of one species
plus, for every mature sequence, its 0-based half-open span on each hairpin that holds it.
miRBase files come in two header styles (``>hsa-mir-21 MI0000077`` and the long one with
the species name) and wrap sequences over several lines; both parse the same here.
A species GFF3, when given, supplies the spans from coordinates, trusted only where the
hairpin sequence confirms them. build_reference writes the whole reference directory.
"""

from __future__ import annotations

import difflib
import gzip
import json
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from exomir import arms
from exomir.atomic import atomic_open
from exomir.config import schema_default
from exomir.download import file_digests
from exomir.errors import ExomirError
from exomir.names import is_species, species_code


@dataclass(frozen=True)
class FastaRecord:
    name: str
    description: str
    sequence: str


@dataclass(frozen=True)
class MaturePlacement:
    """One mature miRNA on one hairpin: ``hairpin[start:end] == sequence``."""

    hairpin: str
    mature: str
    start: int
    end: int
    sequence: str


def _open_text(path: str | os.PathLike):
    path = Path(path)
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt")
    return open(path)


def to_dna(sequence: str) -> str:
    """miRBase writes RNA (U); bowtie and reads use DNA (T)."""
    return sequence.upper().replace("U", "T")


def read_fasta(path: str | os.PathLike) -> Iterator[FastaRecord]:
    """Records of a (possibly gzipped, possibly wrapped) FASTA file, sequences in DNA."""
    name = description = None
    chunks: list[str] = []
    with _open_text(path) as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            if line.startswith(">"):
                if name is not None:
                    yield FastaRecord(name, description, to_dna("".join(chunks)))
                header = line[1:].split(None, 1)
                name = header[0]
                description = header[1] if len(header) > 1 else ""
                chunks = []
            elif name is None:
                raise ExomirError(
                    f"{path}: not FASTA (a sequence line comes before any '>' header)"
                )
            else:
                chunks.append(line)
    if name is not None:
        yield FastaRecord(name, description, to_dna("".join(chunks)))


def species_records(records: Iterable[FastaRecord], species: str) -> list[FastaRecord]:
    """Records of one species, by the name's species code (``hsa-``, MirGeneDB's ``Hsa-``),
    compared case-insensitively."""
    return [r for r in records if is_species(r.name, species)]


def locate_matures(
    matures: Iterable[FastaRecord], hairpins: Iterable[FastaRecord]
) -> tuple[list[MaturePlacement], list[str]]:
    """Place every mature sequence on every hairpin that contains it exactly.

    Returns the placements (in hairpin order, then by start) and the names of matures
    found on no hairpin. A mature that occurs on several hairpins (let-7a-5p on
    let-7a-1/2/3) is placed on each, which is what lets counting treat it as one miRNA.
    On one hairpin a mature is placed at its first occurrence. Matures are indexed by
    their first k bases (k = the shortest mature), so each hairpin position costs one
    dictionary lookup instead of one comparison per mature.
    """
    matures = [m for m in matures]
    by_seed: dict[str, list[tuple[int, FastaRecord]]] = defaultdict(list)
    seed = min((len(m.sequence) for m in matures if m.sequence), default=0)
    for index, mature in enumerate(matures):
        if mature.sequence:  # an empty sequence is no miRNA; it stays unplaced
            by_seed[mature.sequence[:seed]].append((index, mature))
    placements: list[MaturePlacement] = []
    placed: set[int] = set()
    for hairpin in hairpins:
        sequence = hairpin.sequence
        first_start: dict[int, int] = {}
        for start in range(len(sequence) - seed + 1 if seed else 0):
            for index, mature in by_seed.get(sequence[start : start + seed], ()):
                if index not in first_start and sequence.startswith(mature.sequence, start):
                    first_start[index] = start
        found = [
            MaturePlacement(
                hairpin.name,
                matures[index].name,
                start,
                start + len(matures[index].sequence),
                matures[index].sequence,
            )
            for index, start in first_start.items()
        ]
        placements.extend(sorted(found, key=lambda p: (p.start, p.mature)))
        placed.update(first_start)
    unplaced = [m.name for i, m in enumerate(matures) if i not in placed]
    return placements, unplaced


# --- miRBase GFF3: mature coordinates relative to their hairpin ---------------------------


@dataclass(frozen=True)
class GffMatureLocus:
    """A mature miRNA's span on its hairpin as the GFF3 states it (0-based, half-open)."""

    hairpin: str
    mature: str
    start: int
    end: int
    line: int


@dataclass(frozen=True)
class _GffFeature:
    seqid: str
    start: int
    end: int
    strand: str
    attributes: dict[str, str]
    line: int


def read_mirbase_gff3(path: str | os.PathLike) -> list[GffMatureLocus]:
    """Mature spans on hairpins from a miRBase species GFF3 (genomic, 1-based, inclusive).

    ``Derives_from`` names the primary transcript's accession, which is not unique when a
    hairpin has several loci (``MI0016830`` and ``MI0016830_2``), so a mature is tied to
    the primary with that ID or Alias on the same chromosome and strand that contains it.
    On the minus strand the hairpin reads from the primary's end: offset = end − end.
    """
    primaries: dict[str, list[_GffFeature]] = defaultdict(list)
    matures: list[_GffFeature] = []
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if line.startswith("#") or not line.strip():
                continue
            feature_type, feature = _parse_gff_line(path, number, line)
            if feature_type == "miRNA_primary_transcript":
                for key in {feature.attributes.get("ID"), feature.attributes.get("Alias")}:
                    if key:
                        primaries[key].append(feature)
            elif feature_type == "miRNA":
                matures.append(feature)
    loci = []
    for mature in matures:
        primary = _derived_from(path, mature, primaries)
        on_minus = primary.strand == "-"
        offset = primary.end - mature.end if on_minus else mature.start - primary.start
        length = mature.end - mature.start + 1
        loci.append(
            GffMatureLocus(
                primary.attributes["Name"],
                mature.attributes["Name"],
                offset,
                offset + length,
                mature.line,
            )
        )
    return loci


def _parse_gff_line(path: str | os.PathLike, number: int, line: str) -> tuple[str, _GffFeature]:
    columns = line.rstrip("\n").split("\t")
    if len(columns) != 9:
        raise ExomirError(f"{path}: line {number}: expected 9 tab-separated GFF3 columns")
    try:
        start, end = int(columns[3]), int(columns[4])
    except ValueError:
        raise ExomirError(f"{path}: line {number}: start/end are not integers") from None
    attributes = dict(item.split("=", 1) for item in columns[8].strip().split(";") if "=" in item)
    if columns[2] in {"miRNA_primary_transcript", "miRNA"} and "Name" not in attributes:
        raise ExomirError(f"{path}: line {number}: {columns[2]} row has no Name attribute")
    return columns[2], _GffFeature(columns[0], start, end, columns[6], attributes, number)


def _derived_from(
    path: str | os.PathLike, mature: _GffFeature, primaries: dict[str, list[_GffFeature]]
) -> _GffFeature:
    parent = mature.attributes.get("Derives_from")
    if parent is None:
        raise ExomirError(f"{path}: line {mature.line}: miRNA row has no Derives_from attribute")
    candidates = [
        p
        for p in primaries.get(parent, [])
        if p.seqid == mature.seqid
        and p.strand == mature.strand
        and p.start <= mature.start
        and mature.end <= p.end
    ]
    if not candidates:
        raise ExomirError(
            f"{path}: line {mature.line}: Derives_from={parent} names no primary transcript "
            f"containing {mature.attributes['Name']}"
        )
    return min(candidates, key=lambda p: p.line)


@dataclass
class Gff3Check:
    """How the GFF3 coordinates compare with exact-sequence placement, for reference.json."""

    loci: int = 0
    not_in_fasta: int = 0
    agree: int = 0
    relocated: int = 0
    disagree: int = 0
    sequence_only: int = 0
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "loci": self.loci,
            "not_in_fasta": self.not_in_fasta,
            "agree": self.agree,
            "relocated": self.relocated,
            "disagree": self.disagree,
            "sequence_only": self.sequence_only,
        }


def reconcile_with_gff3(
    placements: list[MaturePlacement],
    loci: Iterable[GffMatureLocus],
    hairpins: list[FastaRecord],
    matures: Iterable[FastaRecord],
) -> tuple[list[MaturePlacement], Gff3Check]:
    """Sequence placements, moved to the GFF3 span wherever the hairpin there reads the mature.

    The GFF3 is trusted only where the sequence confirms it: miRBase's coordinate and
    sequence files drift between releases. A confirmed span differs from the sequence
    placement only when the mature occurs twice on the hairpin (``relocated``); a GFF3
    span the sequence contradicts is a warning and the sequence placement stays.
    Loci of hairpins or matures absent from the FASTA files are counted, not used.
    """
    hairpin_sequence = {h.name: h.sequence for h in hairpins}
    mature_sequence = {m.name: m.sequence for m in matures}
    by_pair = {(p.hairpin, p.mature): p for p in placements}
    check = Gff3Check()
    confirmed: dict[tuple[str, str], MaturePlacement] = {}
    for locus in sorted(set(loci), key=lambda x: x.line):
        check.loci += 1
        key = (locus.hairpin, locus.mature)
        if locus.hairpin not in hairpin_sequence or locus.mature not in mature_sequence:
            check.not_in_fasta += 1
            continue
        expected = mature_sequence[locus.mature]
        found = hairpin_sequence[locus.hairpin][locus.start : locus.end]
        if found != expected:
            check.disagree += 1
            check.warnings.append(
                f"gff3 line {locus.line}: {locus.mature} at {locus.start}-{locus.end} of "
                f"{locus.hairpin} reads {found or '(nothing)'}, not {expected}; "
                "kept the sequence placement"
            )
            continue
        placement = by_pair.get(key)
        if placement is not None and placement.start == locus.start:
            check.agree += 1
        else:
            check.relocated += 1
        # a hairpin with several genomic loci yields the same span several times: keep the first
        confirmed.setdefault(
            key, MaturePlacement(locus.hairpin, locus.mature, locus.start, locus.end, expected)
        )
    check.sequence_only = sum(1 for key in by_pair if key not in confirmed)
    by_pair.update(confirmed)
    order = {h.name: i for i, h in enumerate(hairpins)}
    reconciled = sorted(by_pair.values(), key=lambda p: (order[p.hairpin], p.start, p.mature))
    return reconciled, check


# --- building one species' reference directory -----------------------------------------

DEFAULT_SPIKEINS = tuple(schema_default("spikeins"))
MIRBASE_BASE_URL = schema_default("reference.base_url")
NUCLEOTIDES = frozenset("ACGTRYKMSWBDHVN")  # miRBase hairpins carry a few IUPAC codes


def mirbase_urls(species: str, base_url: str = MIRBASE_BASE_URL) -> dict[str, str]:
    """Where miRBase serves the files build_reference reads (the offline copy is bundled)."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    return {
        "mature": base + "mature.fa",
        "hairpin": base + "hairpin.fa",
        "gff3": base + f"{species.lower()}.gff3",
    }


@dataclass(frozen=True)
class ReferenceFiles:
    """The files of a built reference; the workflow names each one (module prefixes)."""

    hairpin: Path
    mature: Path
    spikein: Path
    positions: Path
    summary: Path | None = None

    def __post_init__(self) -> None:
        # accept str paths from the command line
        for name in ("hairpin", "mature", "spikein", "positions", "summary"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))

    @classmethod
    def in_dir(cls, directory: str | os.PathLike) -> ReferenceFiles:
        """The conventional names inside one directory (tests, scripts)."""
        d = Path(directory)
        return cls(
            d / "hairpin.fa",
            d / "mature.fa",
            d / "spikein.fa",
            d / "mature_positions.tsv",
            d / "reference.json",
        )


def spikeins_expected(
    spikeins: Sequence[str] | None,
    mature_fa: str | os.PathLike | None,
    spikein_fasta: str | os.PathLike | None = None,
) -> bool:
    """Whether build_reference will write any spike-in, known before it runs.

    The workflow needs this when it builds the DAG: without spike-ins there is no spike-in
    index to build and no spike-in stage. For the defaults (``spikeins=None``) the mature
    file's headers are read; a file that does not exist yet (a miRBase download) is
    assumed to have them, as miRBase's mature.fa does.
    """
    if spikein_fasta is not None:
        return True
    if spikeins is not None:
        return bool(spikeins)
    if mature_fa is None:
        return False
    if not Path(mature_fa).is_file():
        return True
    wanted = {f">{name}" for name in DEFAULT_SPIKEINS}
    with _open_text(mature_fa) as handle:
        return any(line.split(None, 1)[0] in wanted for line in handle if line.startswith(">"))


def build_reference(
    mature_fa: str | os.PathLike | None,
    hairpin_fa: str | os.PathLike,
    species: str,
    spikeins: Sequence[str] | None,
    outdir: str | os.PathLike | ReferenceFiles,
    gff3: str | os.PathLike | None = None,
    spikein_fasta: str | os.PathLike | None = None,
    release: str | None = None,
) -> dict:
    """Write hairpin.fa, mature.fa, spikein.fa, mature_positions.tsv and reference.json.

    ``spikeins=None`` means DEFAULT_SPIKEINS, used where the mature file has them (each
    one missing is a warning: a MirGeneDB or hairpin-only reference has no cel-miR-39-3p);
    a name listed explicitly must be found, among all species' matures or in
    ``spikein_fasta``. A spike-in that is also one of the species' own matures
    (cel-miR-39-3p when the species is cel) is kept as a spike-in only: it leaves mature.fa
    and the positions, so a read is never counted both as the spike-in and as an
    endogenous miRNA. ``mature_fa=None`` (a hairpin-only reference): each hairpin's two
    arms are placed from its fold (exomir.arms) and become the matures, and
    mature_positions.tsv gains the ``region_start``/``region_end`` columns counting uses.
    Returns the content of reference.json.
    """
    inputs = {"hairpin": hairpin_fa}
    if mature_fa is not None:
        inputs = {"mature": mature_fa, **inputs}
    if gff3 is not None:
        if mature_fa is None:
            raise ExomirError(f"{gff3}: a GFF3 places matures, but no mature file was given")
        inputs["gff3"] = gff3
    if spikein_fasta is not None:
        inputs["spikein_fasta"] = spikein_fasta
    for path in inputs.values():
        if not Path(path).is_file():
            raise ExomirError(f"{path}: no such file")

    all_matures = [] if mature_fa is None else list(read_fasta(mature_fa))
    all_hairpins = list(read_fasta(hairpin_fa))
    hairpins = _species_or_error(all_hairpins, species, hairpin_fa)
    _check_records(hairpins, hairpin_fa)
    predicted: list[arms.PlacedArm] = []
    armless: list[str] = []
    if mature_fa is None:
        predicted, armless = arms.place_arms(hairpins)
        matures = [FastaRecord(a.name, "", a.sequence) for a in predicted]
    else:
        matures = _species_or_error(all_matures, species, mature_fa)
        _check_records(matures, mature_fa)

    warnings: list[str] = []
    spikein_records = _spikein_records(spikeins, all_matures, mature_fa, spikein_fasta, warnings)
    spikein_names = {r.name for r in spikein_records}
    taken = [m.name for m in matures if m.name in spikein_names]
    matures = [m for m in matures if m.name not in spikein_names]
    warnings.extend(_spikein_sequence_clashes(spikein_records, matures))

    gff3_check = None
    if mature_fa is None:
        placements = [
            MaturePlacement(a.hairpin, a.name, a.start, a.end, a.sequence)
            for a in predicted
            if a.name not in spikein_names
        ]
        unplaced: list[str] = []
        if armless:
            warnings.append(
                f"{len(armless)} hairpin(s) fold into no stem, no arms placed: "
                + ", ".join(armless[:10])
                + (" ..." if len(armless) > 10 else "")
            )
    else:
        placements, unplaced = locate_matures(matures, hairpins)
    if gff3 is not None:
        loci = read_mirbase_gff3(gff3)
        if loci and not any(is_species(locus.hairpin, species) for locus in loci):
            raise ExomirError(f"{gff3}: no hairpin of species {species} (is it another species?)")
        placements, gff3_check = reconcile_with_gff3(placements, loci, hairpins, matures)
        warnings.extend(gff3_check.warnings)
        placed = {p.mature for p in placements}
        unplaced = [m.name for m in matures if m.name not in placed]

    record_counts = {"hairpin": len(all_hairpins)}
    if mature_fa is not None:
        record_counts["mature"] = len(all_matures)
    if gff3 is not None:
        record_counts["gff3"] = _gff3_feature_count(gff3)
    if spikein_fasta is not None:
        record_counts["spikein_fasta"] = sum(1 for _ in read_fasta(spikein_fasta))
    positions_from = "sequence"
    if gff3 is not None:
        positions_from = "gff3"
    elif mature_fa is None:
        positions_from = "predicted_arms"
    summary = {
        "species": species,
        "release": release,
        "inputs": {
            role: {"path": str(path), **_digests(path), "records": record_counts[role]}
            for role, path in inputs.items()
        },
        "hairpins": len(hairpins),
        "matures": len(matures),
        "placements": len(placements),
        "unplaced_matures": unplaced,
        "spikeins": [r.name for r in spikein_records],
        "positions_from": positions_from,
        "matures_taken_as_spikeins": taken,
        "gff3_check": gff3_check.as_dict() if gff3_check is not None else None,
        "arm_prediction": _arm_prediction_summary(armless) if mature_fa is None else None,
        "warnings": warnings,
    }

    files = outdir if isinstance(outdir, ReferenceFiles) else ReferenceFiles.in_dir(outdir)
    _write_fasta(files.hairpin, hairpins)
    _write_fasta(files.mature, matures)
    _write_fasta(files.spikein, spikein_records)
    regions = {(a.hairpin, a.name): (a.region_start, a.region_end) for a in predicted}
    with atomic_open(files.positions, "w", newline="\n") as out:
        header = "hairpin\tmature\tstart\tend\tsequence"
        out.write(header + ("\tregion_start\tregion_end\n" if predicted else "\n"))
        for p in placements:
            out.write(f"{p.hairpin}\t{p.mature}\t{p.start}\t{p.end}\t{p.sequence}")
            if predicted:
                region_start, region_end = regions[(p.hairpin, p.mature)]
                out.write(f"\t{region_start}\t{region_end}")
            out.write("\n")
    # reference.json last: its presence says the directory is complete
    with atomic_open(files.summary, "w", newline="\n") as out:
        json.dump(summary, out, indent=2)
        out.write("\n")
    return summary


def _arm_prediction_summary(armless: list[str]) -> dict:
    return {
        "method": "ViennaRNA RNAfold MFE; arms at fixed distances from the terminal loop's "
        "centre (exomir.arms); reads counted on the arm's side of the loop",
        "viennarna": arms.viennarna_version(),
        "arm_length": arms.ARM_LENGTH,
        "five_prime_start_before_loop": arms.FIVE_PRIME_START_BEFORE_LOOP,
        "three_prime_start_after_loop": arms.THREE_PRIME_START_AFTER_LOOP,
        "hairpins_without_arms": armless,
    }


def _species_or_error(
    records: list[FastaRecord], species: str, path: str | os.PathLike
) -> list[FastaRecord]:
    selected = species_records(records, species)
    if selected:
        return selected
    codes = sorted({species_code(r.name) for r in records if "-" in r.name})
    folded: dict[str, str] = {}
    for code in codes:
        folded.setdefault(code.casefold(), code)
    close = [
        folded[c]
        for c in difflib.get_close_matches(species.casefold(), list(folded), n=5, cutoff=0.5)
    ]
    examples = ", ".join((close + [c for c in codes if c not in close])[:8])
    raise ExomirError(
        f"{path}: no records of species {species!r} ({len(codes)} species present, e.g. {examples})"
    )


def _check_records(records: list[FastaRecord], path: str | os.PathLike) -> None:
    """Names identify count rows and bowtie references, so they must be unique and non-empty."""
    seen: set[str] = set()
    for record in records:
        if record.name in seen:
            raise ExomirError(f"{path}: record {record.name} occurs more than once")
        seen.add(record.name)
        if not record.sequence:
            raise ExomirError(f"{path}: record {record.name} has an empty sequence")
        strange = set(record.sequence) - NUCLEOTIDES
        if strange:
            raise ExomirError(
                f"{path}: record {record.name} has non-nucleotide characters "
                f"{''.join(sorted(strange))!r}"
            )


def _spikein_records(
    names: Sequence[str] | None,
    all_matures: list[FastaRecord],
    mature_fa: str | os.PathLike | None,
    spikein_fasta: str | os.PathLike | None,
    warnings: list[str],
) -> list[FastaRecord]:
    """Spike-in records by name (``None``: the defaults, skipped with a warning if absent),
    then those of ``spikein_fasta``; an explicitly listed name must be found."""
    extra = [] if spikein_fasta is None else list(read_fasta(spikein_fasta))
    if spikein_fasta is not None:
        _check_records(extra, spikein_fasta)
    by_name: dict[str, FastaRecord] = {}
    for record in all_matures:
        by_name.setdefault(record.name, record)
    extra_names = {record.name for record in extra}
    chosen: dict[str, FastaRecord] = {}
    for name in DEFAULT_SPIKEINS if names is None else names:
        if name in extra_names and name not in by_name:
            continue  # taken from spikein_fasta below
        if name not in by_name:
            where = "the reference (no mature file)" if mature_fa is None else mature_fa
            if names is None:
                warnings.append(
                    f"default spike-in {name} is not in {where}: no spike-in counts for it "
                    "(set spikeins: [] to say there are none, or give spikein_fasta)"
                )
                continue
            if mature_fa is None:
                raise ExomirError(
                    f"spike-in {name!r}: the reference has no mature file to take it from; "
                    "give its sequence in spikein_fasta"
                )
            close = difflib.get_close_matches(name, list(by_name), n=3)
            hint = f" (close: {', '.join(close)})" if close else ""
            where = f", nor in {spikein_fasta}" if spikein_fasta is not None else ""
            raise ExomirError(f"{mature_fa}: spike-in {name!r} is not a mature name{where}{hint}")
        chosen.setdefault(name, _plain(by_name[name]))
    for record in extra:
        known = chosen.get(record.name)
        if known is not None and known.sequence != record.sequence:
            raise ExomirError(
                f"{spikein_fasta}: spike-in {record.name} differs from the one in {mature_fa}"
            )
        chosen.setdefault(record.name, _plain(record))
    return list(chosen.values())


def _spikein_sequence_clashes(spikeins: list[FastaRecord], matures: list[FastaRecord]) -> list[str]:
    """A spike-in identical to an endogenous mature cannot be told apart from it: say so."""
    by_sequence = defaultdict(list)
    for mature in matures:
        by_sequence[mature.sequence].append(mature.name)
    return [
        f"spike-in {s.name} has the same sequence as {', '.join(by_sequence[s.sequence])}"
        for s in spikeins
        if s.sequence in by_sequence
    ]


def _plain(record: FastaRecord) -> FastaRecord:
    return FastaRecord(record.name, "", record.sequence)


def _digests(path: str | os.PathLike) -> dict[str, str]:
    digests = file_digests(path)
    return {"sha256": digests["sha256"], "md5": digests["md5"]}


def _gff3_feature_count(path: str | os.PathLike) -> int:
    with _open_text(path) as handle:
        return sum(1 for line in handle if line.strip() and not line.startswith("#"))


def _write_fasta(path: Path, records: Iterable[FastaRecord]) -> None:
    with atomic_open(path, "w", newline="\n") as out:
        for record in records:
            out.write(f">{record.name}\n{record.sequence}\n")
