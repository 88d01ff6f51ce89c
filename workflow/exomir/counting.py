"""Per-sample counting: bowtie alignments on hairpins (and spike-ins) to miRNA counts.

Rules, and why:

- A read is a collapsed FASTA record ``{rank}_x{count}``: it is processed once and weighs
  ``count`` (reads, or molecules for UMI kits). All its alignments are consecutive in the
  BAM (bowtie's output order), so reads are grouped by query name in file order; a
  coordinate-sorted BAM would split them (and count a read twice), so it is refused.
- An alignment on hairpin ``h`` spanning ``[s, e)`` hits mature ``m`` placed on ``h`` at
  ``[ms, me)`` when ``|s - ms| <= five_prime_tolerance`` (default 2) and
  ``|e - me| <= three_prime_tolerance`` (default 5): isomiRs vary more at the 3' end
  (trimming, non-templated additions) than at the 5' end, which defines the seed.
- A read's *feature set* is the distinct mature names hit over all its alignments, so a
  read on let-7a-1, -2 and -3 at the 5p arm is {hsa-let-7a-5p} and counts once.
- Multi-mapper policy: ``unique`` counts a read only when its feature set has exactly one
  name; ``fractional`` (default) gives ``weight / n`` to each of its ``n`` names;
  ``collapse`` first merges names whose sequences are identical (from the reference FASTA)
  into one feature named ``"/".join(sorted(names))``, then is fractional over those. Hence
  the counts never add up to more than the reads that went in (nf-core/smrnaseq #94).
- Hairpin counts: distinct hairpin names a read aligns to (any position), same policy;
  spike-in counts: distinct spike-in names, same policy. ``collapse`` joins hairpins (or
  spike-ins) with identical sequences.
- Read fates (see :mod:`exomir.tables`): ``spikein`` = weight of reads with any spike-in
  alignment; ``mature`` = hairpin reads with a non-empty feature set, whatever the policy
  (under ``unique`` the ambiguous ones are in this fate but in no count row);
  ``hairpin_only`` = hairpin reads with no mature feature.
- IsomiRs: per (mature feature, read sequence) the read's share of weight, with the
  start/end offsets relative to the mature, the non-templated 3' tail and the mismatches
  of the first alignment that hit that feature. The sequence is SEQ of that alignment,
  i.e. the read itself (bowtie runs with ``--norc``).
- Tails (mirtop's iso_add3p): the read's 3' bases past its last templated base: the bases
  the tail pass soft-clipped (see :mod:`exomir.align`; it already chose how many), or, for
  an end-to-end alignment, its last base when that one mismatches the hairpin (there an
  added base and a substitution look alike; additions are the far more common).
  ``end_offset`` is then the templated end's offset and ``mismatches`` leaves the tail
  out; ``.`` means no tail. Whether a read hits a mature is decided on its aligned span.
- Reverse-strand and unmapped records are skipped: an antisense hit is not the miRNA.
- Arms placed from the hairpin alone (a reference without matures, exomir.arms) carry a
  region in mature_positions.tsv (``region_start``, ``region_end``: the arm's side of the
  terminal loop); such an arm is hit by any alignment inside its region, tolerances aside,
  as the predicted ends are only approximate. Offsets stay relative to the predicted span.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import groupby
from operator import attrgetter
from pathlib import Path

import numpy as np
import pysam

from exomir.collapsed import parse_count
from exomir.config import schema_default
from exomir.errors import ExomirError
from exomir.reference import FastaRecord, ReferenceFiles, read_fasta

MULTIMAPPER_POLICIES = ("unique", "fractional", "collapse")
DEFAULT_FIVE_PRIME_TOLERANCE = schema_default("isomir_tolerance.five_prime")
DEFAULT_THREE_PRIME_TOLERANCE = schema_default("isomir_tolerance.three_prime")
DEFAULT_MULTIMAPPER = schema_default("multimapper")
POSITIONS_HEADER = ("hairpin", "mature", "start", "end", "sequence")
REGION_COLUMNS = ("region_start", "region_end")

NO_TAIL = "."
# An MD tag whose last aligned base is a mismatch ("...A0"); bowtie (v1) has no indels.
_TERMINAL_MISMATCH = re.compile(r"[A-Z]0$")
_SOFT_CLIP = 4
# Unmapped (0x4) and reverse-strand (0x10) records never count.
_SKIPPED_FLAGS = 0x4 | 0x10
_query_name = attrgetter("query_name")


@dataclass(frozen=True)
class FeatureIndex:
    """The rows of one count table and which reference name feeds which row.

    ``names`` is the canonical (sorted) row order shared by every sample; ``row_of`` maps
    each reference name to its row (several names share a row under ``collapse``).
    """

    names: tuple[str, ...]
    row_of: Mapping[str, int]


@dataclass(frozen=True)
class CountingReference:
    """What counting needs from a reference directory, resolved for one policy."""

    matures: FeatureIndex
    hairpins: FeatureIndex
    spikeins: FeatureIndex
    # hairpin name -> ((start, end, mature row, region or None), ...), in placement order
    placements: Mapping[str, tuple[tuple[int, int, int, tuple[int, int] | None], ...]]


@dataclass(frozen=True)
class IsomirCount:
    mirna: str
    sequence: str
    start_offset: int
    end_offset: int
    mismatches: int
    count: float
    tail: str = NO_TAIL


@dataclass(frozen=True)
class SampleCounts:
    """One sample's counts; arrays are aligned with the reference's feature names."""

    mature: np.ndarray
    hairpin: np.ndarray
    spikein: np.ndarray
    isomirs: list[IsomirCount]
    spikein_reads: int
    mature_reads: int
    hairpin_only_reads: int


def check_policy(multimapper: str) -> None:
    if multimapper not in MULTIMAPPER_POLICIES:
        choices = ", ".join(MULTIMAPPER_POLICIES)
        raise ExomirError(f"unknown multimapper policy {multimapper!r}; use one of {choices}")


def feature_index(records: Iterable[FastaRecord], collapse_identical: bool) -> FeatureIndex:
    """Rows sorted by name; with ``collapse_identical``, identical sequences share a row."""
    groups: dict[str, list[str]] = defaultdict(list)
    for record in records:
        key = record.sequence if collapse_identical else record.name
        if record.name not in groups[key]:
            groups[key].append(record.name)
    joined = sorted(("/".join(sorted(members)), members) for members in groups.values())
    names = tuple(name for name, _ in joined)
    row_of = {member: row for row, (_, members) in enumerate(joined) for member in members}
    return FeatureIndex(names, row_of)


def _read_fasta_file(path: Path) -> list[FastaRecord]:
    if not path.exists():
        raise ExomirError(f"{path}: reference file is missing (run exomir build-reference)")
    return list(read_fasta(path))


def read_mature_positions(
    path: str | os.PathLike,
) -> list[tuple[str, str, int, int, tuple[int, int] | None]]:
    """(hairpin, mature, start, end, region) rows of a reference's mature_positions.tsv.

    ``region`` is the (start, end) a read must lie in for arms placed from the hairpin
    alone (hairpin-only references), else None.
    """
    path = Path(path)
    if not path.exists():
        raise ExomirError(f"{path}: reference file is missing (run exomir build-reference)")
    rows = []
    with open(path) as handle:
        header = tuple(handle.readline().rstrip("\n").split("\t"))
        if header not in (POSITIONS_HEADER, POSITIONS_HEADER + REGION_COLUMNS):
            expected = " ".join(POSITIONS_HEADER)
            raise ExomirError(
                f"{path}: header must be the tab-separated columns {expected} "
                f"(then {' '.join(REGION_COLUMNS)} for arms placed from hairpins)"
            )
        for line_number, line in enumerate(handle, start=2):
            fields = line.rstrip("\n").split("\t")
            try:
                if len(fields) != len(header):
                    raise ValueError
                hairpin, mature, start, end = fields[:4]
                region = (int(fields[5]), int(fields[6])) if len(fields) == 7 else None
                rows.append((hairpin, mature, int(start), int(end), region))
            except ValueError:
                raise ExomirError(
                    f"{path}: line {line_number} is not {', '.join(header)}"
                ) from None
    return rows


def load_counting_reference(
    reference: str | os.PathLike | ReferenceFiles, multimapper: str = DEFAULT_MULTIMAPPER
) -> CountingReference:
    """Read the hairpin, mature and spike-in FASTA and the mature positions of a reference.

    ``reference`` names the files, or a directory holding them under their usual names.
    A missing spike-in FASTA means no spike-ins (empty spike-in table).
    """
    check_policy(multimapper)
    files = reference if isinstance(reference, ReferenceFiles) else ReferenceFiles.in_dir(reference)
    collapse = multimapper == "collapse"
    hairpin_records = _read_fasta_file(files.hairpin)
    mature_records = _read_fasta_file(files.mature)
    spikein_path = files.spikein
    spikein_records = list(read_fasta(spikein_path)) if spikein_path.exists() else []
    matures = feature_index(mature_records, collapse)
    hairpins = feature_index(hairpin_records, collapse)
    spikeins = feature_index(spikein_records, collapse)

    positions_path = files.positions
    placements: dict[str, list] = defaultdict(list)
    for hairpin, mature, start, end, region in read_mature_positions(positions_path):
        if hairpin not in hairpins.row_of:
            raise ExomirError(f"{positions_path}: hairpin {hairpin} is not in hairpin.fa")
        if mature not in matures.row_of:
            raise ExomirError(f"{positions_path}: mature {mature} is not in mature.fa")
        placements[hairpin].append((start, end, matures.row_of[mature], region))
    return CountingReference(
        matures=matures,
        hairpins=hairpins,
        spikeins=spikeins,
        placements={name: tuple(spans) for name, spans in placements.items()},
    )


def _read_weight(name: str, bam: Path) -> int:
    """Reads (or molecules) behind one collapsed record; the error names the BAM."""
    try:
        return parse_count(name)
    except ExomirError as error:
        raise ExomirError(f"{bam}: {error}") from None


def _open_bam(path: Path, role: str, feature_rows: Mapping[str, int]) -> pysam.AlignmentFile:
    """Open a BAM in file order and check it was aligned against this reference."""
    if not path.exists():
        raise ExomirError(f"{path}: {role} BAM is missing")
    try:
        bam = pysam.AlignmentFile(str(path), "rb", check_sq=False)
    except (ValueError, OSError) as error:
        raise ExomirError(f"{path}: not a readable BAM file ({error})") from None
    if bam.header.to_dict().get("HD", {}).get("SO") == "coordinate":
        bam.close()
        raise ExomirError(
            f"{path}: BAM is coordinate-sorted; counting needs bowtie's output order "
            "(all alignments of a read consecutive)"
        )
    unknown = [name for name in bam.references if name not in feature_rows]
    if unknown:
        bam.close()
        raise ExomirError(
            f"{path}: reference sequence {unknown[0]} is not in the {role} reference "
            "(aligned against another reference?)"
        )
    return bam


def _read_groups(bam: pysam.AlignmentFile) -> Iterator[tuple[str, list[pysam.AlignedSegment]]]:
    """(query name, its counted alignments) for each read, in file order."""
    for name, records in groupby(bam, key=_query_name):
        alignments = [a for a in records if not a.flag & _SKIPPED_FLAGS]
        if alignments:
            yield name, alignments


def _mismatches(alignment: pysam.AlignedSegment, bam: Path) -> int:
    try:
        return int(alignment.get_tag("NM"))
    except KeyError:
        raise ExomirError(
            f"{bam}: alignment of read {alignment.query_name} has no NM tag (bowtie writes it)"
        ) from None


def _tail(alignment: pysam.AlignedSegment, mismatches: int, bam: Path) -> tuple[str, int]:
    """The read's non-templated 3' bases (see the module doc) and how many were aligned."""
    clipped = alignment.cigartuples[-1]
    if clipped[0] == _SOFT_CLIP:
        return alignment.query_sequence[-clipped[1] :], 0
    n = aligned = 0
    if mismatches:
        try:
            md = alignment.get_tag("MD")
        except KeyError:
            raise ExomirError(
                f"{bam}: alignment of read {alignment.query_name} has no MD tag (bowtie writes it)"
            ) from None
        aligned = 1 if _TERMINAL_MISMATCH.search(md) else 0
    n += aligned
    return (alignment.query_sequence[-n:] if n else NO_TAIL), aligned


def _distribute(
    weights_by_set: Mapping[tuple[int, ...], int], n_rows: int, multimapper: str
) -> np.ndarray:
    """Spread each feature set's total weight over its rows according to the policy.

    Exact fractions over the (few) distinct feature sets keep counts order-independent
    and their sum exactly equal to the counted reads before conversion to float.
    """
    totals = [Fraction(0)] * n_rows
    for rows in sorted(weights_by_set):
        weight = weights_by_set[rows]
        if multimapper == "unique":
            if len(rows) == 1:
                totals[rows[0]] += weight
            continue
        share = Fraction(weight, len(rows))
        for row in rows:
            totals[row] += share
    return np.array([float(t) for t in totals], dtype=np.float64)


def _count_spikeins(path: Path, reference: CountingReference) -> tuple[Counter, int, set[str]]:
    """Weight per spike-in set, total spike-in reads, and their names (for the overlap check)."""
    weights_by_set: Counter = Counter()
    total = 0
    names: set[str] = set()
    with _open_bam(path, "spike-in", reference.spikeins.row_of) as bam:
        row_of_tid = [reference.spikeins.row_of[name] for name in bam.references]
        for name, alignments in _read_groups(bam):
            weight = _read_weight(name, path)
            rows = tuple(sorted({row_of_tid[a.reference_id] for a in alignments}))
            weights_by_set[rows] += weight
            total += weight
            names.add(name)
    return weights_by_set, total, names


def count_sample(
    hairpin_bam: str | os.PathLike,
    spikein_bam: str | os.PathLike | None,
    reference: CountingReference,
    *,
    multimapper: str = DEFAULT_MULTIMAPPER,
    five_prime_tolerance: int = DEFAULT_FIVE_PRIME_TOLERANCE,
    three_prime_tolerance: int = DEFAULT_THREE_PRIME_TOLERANCE,
) -> SampleCounts:
    """Count one sample's hairpin (and spike-in) alignments; see the module rules.

    ``reference`` must have been loaded with the same ``multimapper`` policy (it decides
    whether identical sequences share a row).
    """
    check_policy(multimapper)
    if five_prime_tolerance < 0 or three_prime_tolerance < 0:
        raise ExomirError("isomiR tolerances must be >= 0")
    hairpin_path = Path(hairpin_bam)

    spikein_sets: Counter = Counter()
    spikein_reads = 0
    spikein_names: set[str] = set()
    if spikein_bam is not None:
        spikein_sets, spikein_reads, spikein_names = _count_spikeins(Path(spikein_bam), reference)

    hairpin_sets: Counter = Counter()
    mature_sets: Counter = Counter()
    mature_reads = hairpin_only_reads = 0
    # (mature row, sequence) -> [start_offset, end_offset, mismatches, count]
    isomirs: dict[tuple[int, str], list] = {}
    unique_only = multimapper == "unique"

    with _open_bam(hairpin_path, "hairpin", reference.hairpins.row_of) as bam:
        hairpin_row_of_tid = [reference.hairpins.row_of[name] for name in bam.references]
        placements_of_tid = [reference.placements.get(name, ()) for name in bam.references]
        # (tid, start, end) -> ((mature row, start_offset, end_offset), ...): reads pile up
        # on few positions, so the tolerance test runs once per distinct position.
        hits_at: dict[tuple[int, int, int], tuple[tuple[int, int, int], ...]] = {}

        for name, alignments in _read_groups(bam):
            if name in spikein_names:
                raise ExomirError(
                    f"{hairpin_path}: read {name} is also in the spike-in BAM {spikein_bam}; "
                    "spike-in reads must not be aligned to hairpins"
                )
            weight = _read_weight(name, hairpin_path)
            hairpin_rows = set()
            first_hit: dict[int, tuple[pysam.AlignedSegment, int, int]] = {}
            for alignment in alignments:
                tid = alignment.reference_id
                hairpin_rows.add(hairpin_row_of_tid[tid])
                position = (tid, alignment.reference_start, alignment.reference_end)
                hits = hits_at.get(position)
                if hits is None:
                    hits = hits_at[position] = _mature_hits(
                        placements_of_tid[tid],
                        position[1],
                        position[2],
                        five_prime_tolerance,
                        three_prime_tolerance,
                    )
                for row, start_offset, end_offset in hits:
                    if row not in first_hit:
                        first_hit[row] = (alignment, start_offset, end_offset)

            hairpin_sets[tuple(sorted(hairpin_rows))] += weight
            if not first_hit:
                hairpin_only_reads += weight
                continue
            mature_reads += weight
            rows = tuple(sorted(first_hit))
            mature_sets[rows] += weight
            if unique_only and len(rows) > 1:
                continue
            share = weight / len(rows)
            for row in rows:
                alignment, start_offset, end_offset = first_hit[row]
                key = (row, alignment.query_sequence)
                entry = isomirs.get(key)
                if entry is None:
                    mismatches = _mismatches(alignment, hairpin_path)
                    tail, in_alignment = _tail(alignment, mismatches, hairpin_path)
                    isomirs[key] = [
                        start_offset,
                        end_offset - in_alignment,
                        mismatches - in_alignment,
                        share,
                        tail,
                    ]
                else:
                    entry[3] += share

    mature_names = reference.matures.names
    # Sorted as plain tuples (miRNA, -count, sequence): no key function per isomiR.
    keyed = sorted(
        (mature_names[row], -count, sequence, start, end, mismatches, tail)
        for (row, sequence), (start, end, mismatches, count, tail) in isomirs.items()
    )
    isomir_rows = [
        IsomirCount(mirna, sequence, start, end, mismatches, -negative, tail)
        for mirna, negative, sequence, start, end, mismatches, tail in keyed
    ]
    return SampleCounts(
        mature=_distribute(mature_sets, len(mature_names), multimapper),
        hairpin=_distribute(hairpin_sets, len(reference.hairpins.names), multimapper),
        spikein=_distribute(spikein_sets, len(reference.spikeins.names), multimapper),
        isomirs=isomir_rows,
        spikein_reads=spikein_reads,
        mature_reads=mature_reads,
        hairpin_only_reads=hairpin_only_reads,
    )


def _mature_hits(
    placements: Sequence[tuple[int, int, int, tuple[int, int] | None]],
    start: int,
    end: int,
    five_prime_tolerance: int,
    three_prime_tolerance: int,
) -> tuple[tuple[int, int, int], ...]:
    """Matures of one hairpin that the span [start, end) hits, with its offsets to each."""
    hits = []
    seen = set()
    for mature_start, mature_end, row, region in placements:
        if row in seen:
            continue
        start_offset = start - mature_start
        end_offset = end - mature_end
        if region is not None:
            hit = region[0] <= start and end <= region[1]
        else:
            hit = (
                abs(start_offset) <= five_prime_tolerance
                and abs(end_offset) <= three_prime_tolerance
            )
        if hit:
            hits.append((row, start_offset, end_offset))
            seen.add(row)
    return tuple(hits)
