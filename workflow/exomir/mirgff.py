"""IsomiRs as mirGFF3, the miRTop community format, and mirtop's statistics of them.

mirGFF3 (https://github.com/miRTop/mirGFF3) is what mirtop, isomiRs (Bioconductor) and
the miRTop tools read. One line per (mature miRNA, read sequence) of the cohort's isomiR
table, all samples in ``Expression`` (``COLDATA`` order):

- seqid/Parent: the hairpin the read sits on; a read on several loci of one mature
  (let-7a-5p on let-7a-1/2/3) is one line on the first, by name, of the loci where its
  templated part has the fewest mismatches, and ``Hits`` is the number of those loci.
- start/end: 1-based, inclusive, on that hairpin, the whole read (tail included), as
  mirtop writes them.
- Variant, in mirtop's notation, comma-separated and sorted as mirtop sorts them:
  ``iso_5p:-N``/``+N`` (the read starts N nt before/after the mature), ``iso_3p:+N``/``-N``
  (its templated end is N nt past/short of the mature's end), ``iso_add3p:N`` (N non-
  templated 3' nt, the ``tail`` column), one ``iso_snv_seed`` (read positions 2-7),
  ``iso_snv_central_offset`` (8), ``iso_snv_central`` (9-12), ``iso_snv_central_supp``
  (13-17) or ``iso_snv`` (elsewhere) per substitution; ``NA`` for the mature itself
  (type ``ref_miRNA``; every other line is ``isomiR``).
- Cigar in mirtop's form: ``M`` runs where the read matches the hairpin, the read's base
  elsewhere (``22MAA``: two added bases; a tail base that happens to match is ``M``).
- Expression: counts rounded to whole reads (molecules), as mirtop's tools parse them as
  integers; an isomiR below 0.5 in every sample is left out. UID: mirtop's sequence
  "license plate" (MINTplates). Reads with bases other than ACGT are left out, as mirtop
  leaves them out.
Lines follow the isomiR table's order (miRNA, then sequence), so the file is streamed.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from exomir.atomic import atomic_open, atomic_path
from exomir.counting import NO_TAIL, read_mature_positions
from exomir.errors import ExomirError
from exomir.reference import read_fasta
from exomir.tables import MERGED_ISOMIR_COLUMNS

MIRGFF_VERSION = "1.2"
SOURCE_ONTOLOGY = {
    "mirbase": "doi:10.25504/fairsharing.hmgte8",
    "mirgenedb": "http://mirgenedb.org",
}
_ACGT = frozenset("ACGT")
# More than bowtie's largest -v (config schema): the row was not aligned to this reference.
MAX_SUBSTITUTIONS = 3


def database_name(reference_json: str | os.PathLike) -> str:
    """GFF source column: ``miRBasev{release}`` from reference.json, MirGeneDB kept as such."""
    try:
        summary = json.loads(Path(reference_json).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ExomirError(f"{reference_json}: cannot read reference summary ({error})") from None
    release = str(summary.get("release") or "").strip()
    if "mirgenedb" in release.lower():
        return release.replace(" ", "")
    return f"miRBasev{release}" if release else "miRBase"


def snv_variant(position: int) -> str:
    """mirtop's name for a substitution at 1-based read ``position``."""
    if 2 <= position <= 7:
        return "iso_snv_seed"
    if position == 8:
        return "iso_snv_central_offset"
    if 9 <= position <= 12:
        return "iso_snv_central"
    if 13 <= position <= 17:
        return "iso_snv_central_supp"
    return "iso_snv"


def variant(start_offset: int, end_offset: int, tail: str, substitutions: Iterable[int]) -> str:
    """The Variant attribute (see the module doc); ``substitutions``: 1-based read positions."""
    values = {snv_variant(p) for p in substitutions}
    if tail:
        values.add(f"iso_add3p:{len(tail)}")
    if start_offset:
        values.add(f"iso_5p:{start_offset:+d}")
    if end_offset:
        values.add(f"iso_3p:{end_offset:+d}")
    return ",".join(sorted(values)) if values else "NA"


def mirtop_cigar(read: str, reference: str) -> str:
    """mirtop's Cigar: M runs where the read matches the hairpin, else the read's base.

    ``reference``: the hairpin from the read's start, as far as it goes (up to its length).
    """
    codes = [
        "M" if i < len(reference) and base == reference[i] else base for i, base in enumerate(read)
    ]
    parts = []
    for code, run in itertools.groupby(codes):
        n = len(list(run))
        if code == "M":
            parts.append(f"{n}M" if n > 1 else "M")
        else:
            parts.append(code * n)
    return "".join(parts)


def _license_plate(sequence: str) -> str:
    from mirtop.mirna.mintplates import convert

    return convert(sequence, True, "iso")


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if tuple(reader.fieldnames or ()) != MERGED_ISOMIR_COLUMNS:
            expected = " ".join(MERGED_ISOMIR_COLUMNS)
            raise ExomirError(f"{path}: header must be the tab-separated columns {expected}")
        yield from reader


def _whole(count: float) -> int:
    return math.floor(count + 0.5)


def isomir_lines(
    isomir_counts: str | os.PathLike,
    hairpins: dict[str, str],
    placements: dict[str, list[tuple[str, int, int]]],
    samples: Sequence[str],
    database: str,
) -> Iterator[str]:
    """The body lines of the mirGFF3 file, in the isomiR table's order."""
    path = Path(isomir_counts)
    column = {sample: i for i, sample in enumerate(samples)}
    key = lambda row: (row["mirna"], row["sequence"])  # noqa: E731
    for (mirna, sequence), group in itertools.groupby(_rows(path), key=key):
        group = list(group)
        first = group[0]
        counts = [0.0] * len(samples)
        for row in group:
            if row["sample"] not in column:
                raise ExomirError(f"{path}: sample {row['sample']} is not in the count matrix")
            try:
                counts[column[row["sample"]]] += float(row["count"])
            except ValueError:
                raise ExomirError(f"{path}: count {row['count']!r} is not a number") from None
        expression = [_whole(c) for c in counts]
        if not any(expression) or not set(sequence) <= _ACGT:
            continue
        if mirna not in placements:
            raise ExomirError(f"{path}: miRNA {mirna} is not placed on any hairpin")
        try:
            start_offset, end_offset = int(first["start_offset"]), int(first["end_offset"])
        except ValueError:
            raise ExomirError(f"{path}: offsets of {mirna} {sequence} are not integers") from None
        tail = "" if first["tail"] == NO_TAIL else first["tail"]
        templated = sequence[: len(sequence) - len(tail)]
        best, loci = None, []
        for hairpin, mature_start, _ in sorted(placements[mirna]):
            start = mature_start + start_offset
            reference = hairpins[hairpin][max(start, 0) : start + len(templated)]
            if start < 0 or len(reference) != len(templated):
                continue
            substitutions = [
                i + 1 for i, (a, b) in enumerate(zip(templated, reference, strict=True)) if a != b
            ]
            if best is None or len(substitutions) < len(best[2]):
                best, loci = (hairpin, start, substitutions, reference), []
            if len(substitutions) == len(best[2]):
                loci.append(hairpin)
        if best is None or len(best[2]) > MAX_SUBSTITUTIONS:
            raise ExomirError(
                f"{path}: {mirna} {sequence} (offsets {start_offset}, {end_offset}) does not fit "
                "on its hairpins (isomiR table from another reference?)"
            )
        hairpin, start, substitutions, _ = best
        kind = variant(start_offset, end_offset, tail, substitutions)
        # mirtop's Cigar compares the tail with the hairpin too (M where they agree).
        reference = hairpins[hairpin][start : start + len(sequence)]
        attributes = "; ".join(
            [
                f"Read={sequence}",
                f"UID={_license_plate(sequence)}",
                f"Name={mirna}",
                f"Parent={hairpin}",
                f"Variant={kind}",
                f"Cigar={mirtop_cigar(sequence, reference)}",
                f"Expression={','.join(map(str, expression))}",
                "Filter=Pass",
                f"Hits={len(loci)}",
            ]
        )
        feature = "ref_miRNA" if kind == "NA" else "isomiR"
        yield (
            f"{hairpin}\t{database}\t{feature}\t{start + 1}\t{start + len(sequence)}\t.\t+\t.\t"
            f"{attributes}\n"
        )


def header(samples: Sequence[str], database: str) -> str:
    ontology = next((v for k, v in SOURCE_ONTOLOGY.items() if k in database.lower()), "Custom.")
    return (
        f"## mirGFF3. VERSION {MIRGFF_VERSION}\n"
        f"## source-ontology: {database} {ontology}\n"
        "## TOOLS: exomir\n"
        f"## COLDATA: {','.join(samples)}\n"
    )


def write_mirgff(
    isomir_counts: str | os.PathLike,
    hairpin_fa: str | os.PathLike,
    mature_positions: str | os.PathLike,
    samples: Sequence[str],
    out: str | os.PathLike,
    *,
    database: str,
) -> int:
    """Write the cohort's isomiRs as mirGFF3 to ``out`` (atomically); return the lines."""
    if not samples:
        raise ExomirError(f"{out}: no samples to write")
    if any("," in s for s in samples):
        raise ExomirError("mirGFF3: sample names must not contain ',' (COLDATA is comma-separated)")
    hairpins = {r.name: r.sequence for r in read_fasta(hairpin_fa)}
    placements: dict[str, list[tuple[str, int, int]]] = {}
    for hairpin, mature, start, end in read_mature_positions(mature_positions):
        placements.setdefault(mature, []).append((hairpin, start, end))
    n = 0
    with atomic_open(out, "w") as handle:
        handle.write(header(samples, database))
        for line in isomir_lines(isomir_counts, hairpins, placements, samples, database):
            handle.write(line)
            n += 1
    return n


def count_matrix_samples(path: str | os.PathLike) -> list[str]:
    """Sample columns of a count matrix (``mirna`` then samples in sheet order)."""
    with open(path) as handle:
        columns = handle.readline().rstrip("\n").split("\t")
    if len(columns) < 2 or columns[0] != "mirna":
        raise ExomirError(f"{path}: count matrix must start with a 'mirna' column, then samples")
    return columns[1:]


def mirtop_stats(gff: str | os.PathLike, log_out: str | os.PathLike, table_out: str | os.PathLike):
    """``mirtop stats`` of ``gff``: its JSON log (MultiQC's mirtop input) and its table.

    MultiQC's mirtop module reads ``*_mirtop_stats.log``. mirtop's own figures are used,
    with one correction: mirtop (0.4.30 and its main branch) pads its count and mean
    tables with zero ``isomiR_sum`` rows for the first sample, and the last row wins when
    it writes the log, so that sample's isomiR_sum would read 0. All genuine figures are
    sums, counts or means of positive counts, so the largest value per sample and
    category is the genuine one.
    """
    from mirtop import version
    from mirtop.gff.stats import _calc_stats, _dump_log

    log_out, table_out = Path(log_out), Path(table_out)
    with open(gff) as handle:
        has_lines = any(not line.startswith("#") for line in handle)
    if has_lines:
        try:
            figures = _calc_stats(str(gff))
        except (KeyError, ValueError, IndexError) as error:
            raise ExomirError(f"{gff}: mirtop stats failed ({error!r})") from None
        figures = figures.groupby(["category", "sample"], as_index=False, sort=False)[
            "counts"
        ].max()
    else:
        import pandas as pd

        figures = pd.DataFrame({"category": [], "sample": [], "counts": []})
    with atomic_path(log_out) as tmp:
        _dump_log(figures, version, str(tmp))
    with atomic_open(table_out, "w") as handle:
        handle.write(f"# mirtop stats version {version.__version__}\n")
        figures.to_csv(handle)
