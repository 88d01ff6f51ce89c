"""Align collapsed reads with bowtie (v1) and keep the alignments as BAM.

Parameters, and why:
- ``-f``: input is the collapsed FASTA (one record per distinct insert, ``{rank}_x{count}``).
- ``-v N`` (default 1): end-to-end with at most N mismatches, qualities ignored. Small-RNA
  reads are shorter than the seed of quality-aware modes; one mismatch admits a sequencing
  error or a non-templated 3' nucleotide (A/U addition) without letting paralogues blur.
- ``--norc``: miRNA reads are sense to the hairpin; antisense hits are noise.
- ``-a --best --strata``: report every alignment in the best mismatch stratum only, so a
  read on let-7a-1/2/3 is seen on all three loci and counting can treat it as one miRNA,
  while a perfect hit is never diluted by 1-mismatch hits elsewhere.
- ``-S`` piped into ``samtools view -b -F 4``: a BAM in bowtie's output order, i.e. all
  alignments of a read consecutive (what counting needs), without unaligned records;
  ``--un`` keeps the reads that did not align for the next reference in line.
  With ``-p`` the order of reads may vary between runs, but each read's alignments stay
  together, and counts do not depend on read order. The ``--un`` reads are put back in
  input (rank) order, so ``unassigned.fa`` is byte-identical between reruns. No ``--reorder`` and no
  ``--no-unal``: bowtie 1.3.1 deadlocks with ``--no-unal --reorder -p 2`` and silently drops
  records with ``--reorder -p 2`` on small inputs (both seen here).
Alignments are made against hairpins, not mature sequences: 3'-extended isomiRs run off
the end of a mature reference and would be lost.

Non-templated 3' tails (the tail pass): a read with a 2- or 3-nt tail that the hairpin does
not continue has 2-3 mismatches end to end, so ``-v 1`` leaves it unaligned (~2.5 % of miRNA
reads). The reads the hairpin pass left are aligned once more without their last k bases
(k = 1 .. ``max_tail``, bowtie's ``-3 k``, one run per k, same parameters; copies shorter
than the shortest insert kept are not counted). A read is rescued when a
trimmed copy lands on a mature arm within the counting tolerances; of its copies, the one
with the fewest mismatches wins, then the shortest tail (the fewest bases called
non-templated). Its alignments are written with the whole read as SEQ and the tail soft-
clipped (CIGAR ``{n}M{k}S``), after the hairpin pass's alignments in the grouped BAM, and it
leaves ``unassigned.fa``. Only reads the hairpin pass did not align are tried, so no read
is counted twice, and only the (few) unaligned reads pay for it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pysam

from exomir.atomic import atomic_path
from exomir.bowtie import bowtie_executable
from exomir.collapsed import read_collapsed
from exomir.config import schema_default
from exomir.counting import (
    DEFAULT_FIVE_PRIME_TOLERANCE,
    DEFAULT_THREE_PRIME_TOLERANCE,
    read_mature_positions,
)
from exomir.errors import ExomirError
from exomir.reference import read_fasta

DEFAULT_MISMATCHES = schema_default("alignment.mismatches")
# Per-sample scratch folder of align_sample (spike-in leftovers, tail pass), next to its outputs.
SCRATCH_PREFIX = ".align."
DEFAULT_MAX_TAIL = schema_default("alignment.max_tail")
# A tail pass copy shorter than this is not aligned (the shortest insert kept by trimming).
DEFAULT_MIN_TEMPLATED_LENGTH = schema_default("min_length")


def bowtie_arguments(
    index: str, reads: str, unaligned: str, mismatches: int, threads: int, trim3: int = 0
) -> list:
    """bowtie's argv (see the module doc); ``trim3``: align without each read's last bases."""
    return [
        bowtie_executable(index),
        *(["-3", str(trim3)] if trim3 else []),
        "-f",
        "-v",
        str(mismatches),
        "--norc",
        "-a",
        "--best",
        "--strata",
        "-S",
        "-p",
        str(threads),
        "--un",
        unaligned,
        "-x",
        index,
        reads,
    ]


def _has_reads(path: Path) -> bool:
    with open(path, "rb") as handle:
        return bool(handle.read(1))


def _empty_bam(reference_fasta: Path | None, bam: str | os.PathLike) -> None:
    """A BAM without alignments, its @SQ lines from ``reference_fasta`` (None: no @SQ)."""
    records = [] if reference_fasta is None else list(read_fasta(reference_fasta))
    header = {
        "HD": {"VN": "1.0", "SO": "unsorted"},
        "SQ": [{"SN": r.name, "LN": len(r.sequence)} for r in records],
    }
    with pysam.AlignmentFile(str(bam), "wb", header=header):
        pass


def align(
    reads: str | os.PathLike,
    index: str,
    reference_fasta: str | os.PathLike,
    bam: str | os.PathLike,
    unaligned: str | os.PathLike,
    log: str | os.PathLike,
    *,
    mismatches: int = DEFAULT_MISMATCHES,
    threads: int = 1,
) -> None:
    """Run bowtie | samtools view -b; write ``bam`` and ``unaligned`` atomically."""
    reads, bam, unaligned = Path(reads), Path(bam), Path(unaligned)
    with atomic_path(bam) as tmp_bam, atomic_path(unaligned) as tmp_un, open(log, "w") as log_fh:
        if not _has_reads(reads):
            log_fh.write(f"exomir: {reads} holds no reads; wrote an empty BAM\n")
            _empty_bam(Path(reference_fasta), tmp_bam)
            tmp_un.write_bytes(b"")
            return
        bowtie = subprocess.Popen(
            bowtie_arguments(index, str(reads), str(tmp_un), mismatches, threads),
            stdout=subprocess.PIPE,
            stderr=log_fh,
        )
        samtools = subprocess.run(
            ["samtools", "view", "-b", "-F", "4", "-o", str(tmp_bam), "-"],
            stdin=bowtie.stdout,
            stderr=log_fh,
        )
        bowtie.stdout.close()
        bowtie_status = bowtie.wait()
        if bowtie_status != 0 or samtools.returncode != 0:
            raise ExomirError(
                f"alignment of {reads} against {index} failed (bowtie exit {bowtie_status}, "
                f"samtools exit {samtools.returncode}); see {log}"
            )
        _sort_by_rank(tmp_un)
        log_fh.write(
            "# exomir: input is collapsed, so the counts above are distinct sequences, not reads\n"
        )


@dataclass(frozen=True)
class Target:
    """One reference in line: its bowtie index prefix, the FASTA it was built from, a log.

    A spike-in target without an index (``index=None``) means no spike-in stage."""

    index: str | None
    reference_fasta: str | os.PathLike
    log: str | os.PathLike


@dataclass(frozen=True)
class TailPass:
    """What the tail pass needs: where matures sit, the counting tolerances, its own log.

    Its log is not the hairpin log: MultiQC's bowtie section reads that one, and a second
    bowtie summary in it would replace the first.
    """

    mature_positions: str | os.PathLike
    log: str | os.PathLike
    max_tail: int = DEFAULT_MAX_TAIL
    min_templated_length: int = DEFAULT_MIN_TEMPLATED_LENGTH
    five_prime_tolerance: int = DEFAULT_FIVE_PRIME_TOLERANCE
    three_prime_tolerance: int = DEFAULT_THREE_PRIME_TOLERANCE


def align_sample(
    reads: str | os.PathLike,
    spikein: Target | None,
    hairpin: Target,
    *,
    spikein_bam: str | os.PathLike,
    hairpin_grouped_bam: str | os.PathLike,
    hairpin_sorted_bam: str | os.PathLike,
    unaligned: str | os.PathLike,
    mismatches: int = DEFAULT_MISMATCHES,
    threads: int = 1,
    tails: TailPass | None = None,
) -> None:
    """Spike-ins, then hairpins on what is left, the tail pass, then a sorted, indexed BAM.

    One call (one job) a sample: these steps take seconds each, and as separate jobs they
    cost a scheduler round-trip each and lengthen the DAG of large cohorts. The grouped BAM
    (bowtie's order, a read's alignments together) is what counting reads; the sorted copy
    with its index is for IGV and samtools. ``spikein=None`` (or a spike-in FASTA without
    records) skips the spike-in stage: ``spikein_bam`` is written empty and all reads go
    to the hairpins. Without ``tails`` there is no tail pass.
    """
    unaligned = Path(unaligned)
    unaligned.parent.mkdir(parents=True, exist_ok=True)
    # A killed (SIGKILL) earlier attempt of this job cannot have removed its scratch folder.
    for stale in unaligned.parent.glob(f"{SCRATCH_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=unaligned.parent))
    try:
        no_records = spikein is not None and not any(
            True for _ in read_fasta(spikein.reference_fasta)
        )
        if spikein is None or spikein.index is None or no_records:
            if spikein is not None:
                reason = (
                    "no spike-in index given" if spikein.index is None else "it holds no records"
                )
                Path(spikein.log).write_text(
                    f"exomir: spike-in stage skipped for {spikein.reference_fasta} ({reason})\n"
                )
            with atomic_path(Path(spikein_bam)) as tmp_bam:
                _empty_bam(None if spikein is None else Path(spikein.reference_fasta), tmp_bam)
            to_hairpins = Path(reads)
        else:
            to_hairpins = scratch / "not_spikein.fa"
            align(
                reads,
                spikein.index,
                spikein.reference_fasta,
                spikein_bam,
                to_hairpins,
                spikein.log,
                mismatches=mismatches,
                threads=threads,
            )
        if tails is None:
            align(
                to_hairpins,
                hairpin.index,
                hairpin.reference_fasta,
                hairpin_grouped_bam,
                unaligned,
                hairpin.log,
                mismatches=mismatches,
                threads=threads,
            )
        else:
            hairpin_bam, not_hairpin = scratch / "hairpin.bam", scratch / "not_hairpin.fa"
            align(
                to_hairpins,
                hairpin.index,
                hairpin.reference_fasta,
                hairpin_bam,
                not_hairpin,
                hairpin.log,
                mismatches=mismatches,
                threads=threads,
            )
            tail_bam = scratch / "tails.bam"
            align_tails(
                not_hairpin,
                hairpin,
                tails,
                tail_bam=tail_bam,
                still_unaligned=unaligned,
                mismatches=mismatches,
                threads=threads,
            )
            with atomic_path(hairpin_grouped_bam) as tmp, open(tails.log, "a") as log_fh:
                _run(["samtools", "cat", "-o", str(tmp), str(hairpin_bam), str(tail_bam)], log_fh)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    sort_and_index(hairpin_grouped_bam, hairpin_sorted_bam, threads=threads, log=hairpin.log)


def _mature_spans(path: Path) -> dict[str, list[tuple[int, int]]]:
    """hairpin -> [(start, end) of each mature placed on it], from mature_positions.tsv."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for hairpin, _, start, end, _region in read_mature_positions(path):
        spans.setdefault(hairpin, []).append((start, end))
    return spans


def align_tails(
    reads: str | os.PathLike,
    hairpin: Target,
    tails: TailPass,
    *,
    tail_bam: str | os.PathLike,
    still_unaligned: str | os.PathLike,
    mismatches: int = DEFAULT_MISMATCHES,
    threads: int = 1,
) -> tuple[int, int]:
    """The tail pass (see the module doc) on the collapsed FASTA ``reads``.

    Writes the rescued reads' alignments to ``tail_bam`` and the other reads, in input
    order, to ``still_unaligned``; returns (distinct sequences, reads) rescued.
    """
    if tails.max_tail < 0:
        raise ExomirError(f"the longest 3' tail must be >= 0 nt, got {tails.max_tail}")
    reads, tail_bam, still_unaligned = Path(reads), Path(tail_bam), Path(still_unaligned)
    on_a_mature = _MatureTest(_mature_spans(Path(tails.mature_positions)), tails)
    scratch = Path(tempfile.mkdtemp(prefix=".tails.", dir=tail_bam.parent))
    try:
        chosen: dict[str, tuple[int, int]] = {}  # read -> (mismatches, k) of its best copy
        kept: dict[tuple[str, int], list[pysam.AlignedSegment]] = {}
        header = None
        with open(tails.log, "w") as log_fh:
            if _has_reads(reads):
                # bowtie -3 k aligns each read without its last k bases: no file of trimmed
                # copies is written (that was most of the pass's cost), one run per k.
                for k in range(1, tails.max_tail + 1):
                    sam = scratch / f"without_{k}.sam"
                    arguments = bowtie_arguments(
                        hairpin.index, str(reads), os.devnull, mismatches, threads, trim3=k
                    )
                    _run([*arguments, str(sam)], log_fh)
                    with pysam.AlignmentFile(str(sam), "r", check_sq=False) as handle:
                        header = header or handle.header.to_dict()
                        for alignment in handle:
                            if (
                                alignment.flag & (0x4 | 0x10)
                                or alignment.query_length < tails.min_templated_length
                            ):
                                continue
                            name = alignment.query_name
                            kept.setdefault((name, k), []).append(alignment)
                            if on_a_mature(alignment):
                                rank = (int(alignment.get_tag("NM")), k)
                                if name not in chosen or rank < chosen[name]:
                                    chosen[name] = rank
                    sam.unlink()
            if header is None:
                header = _hairpin_header(Path(hairpin.reference_fasta))
            rescued_reads = 0
            with (
                atomic_path(tail_bam) as tmp_bam,
                pysam.AlignmentFile(str(tmp_bam), "wb", header=header) as out_bam,
                atomic_path(still_unaligned) as tmp_un,
                open(tmp_un, "w") as out_un,
            ):
                n_reads = 0
                for name, sequence, count in read_collapsed(reads):
                    n_reads += 1
                    if name not in chosen:
                        out_un.write(f">{name}\n{sequence}\n")
                        continue
                    k = chosen[name][1]
                    rescued_reads += count
                    for alignment in kept[(name, k)]:
                        out_bam.write(_with_tail(alignment, name, sequence, k, out_bam.header))
            log_fh.write(
                f"# exomir tail pass: {n_reads} unaligned distinct sequences, aligned "
                f"without their last 1-{tails.max_tail} nt; {len(chosen)} "
                f"sequences ({rescued_reads} reads) rescued onto a mature arm\n"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return len(chosen), rescued_reads


def _hairpin_header(reference_fasta: Path) -> dict:
    return {
        "HD": {"VN": "1.0", "SO": "unsorted"},
        "SQ": [{"SN": r.name, "LN": len(r.sequence)} for r in read_fasta(reference_fasta)],
    }


class _MatureTest:
    """Does an alignment land on a mature arm (counting's tolerances)? Cached by position:
    reads pile up on few positions."""

    def __init__(self, spans: dict[str, list[tuple[int, int]]], tails: TailPass) -> None:
        self.spans, self.five, self.three = (
            spans,
            tails.five_prime_tolerance,
            tails.three_prime_tolerance,
        )
        self.known: dict[tuple[str, int, int], bool] = {}

    def __call__(self, alignment: pysam.AlignedSegment) -> bool:
        key = (alignment.reference_name, alignment.reference_start, alignment.reference_end)
        hit = self.known.get(key)
        if hit is None:
            _, start, end = key
            hit = self.known[key] = any(
                abs(start - mature_start) <= self.five and abs(end - mature_end) <= self.three
                for mature_start, mature_end in self.spans.get(key[0], ())
            )
        return hit


def _with_tail(
    alignment: pysam.AlignedSegment, name: str, sequence: str, k: int, header
) -> pysam.AlignedSegment:
    """The alignment of a trimmed copy as one of the whole read, its tail soft-clipped."""
    record = pysam.AlignedSegment(header)
    record.query_name = name
    record.flag = alignment.flag
    record.reference_id = header.get_tid(alignment.reference_name)
    record.reference_start = alignment.reference_start
    record.mapping_quality = alignment.mapping_quality
    record.query_sequence = sequence
    record.cigartuples = [(0, len(sequence) - k), (4, k)]
    record.set_tags(alignment.get_tags())
    return record


def sort_and_index(
    bam: str | os.PathLike, sorted_bam: str | os.PathLike, *, threads: int, log: str | os.PathLike
) -> None:
    """Coordinate-sort ``bam`` into ``sorted_bam`` and write ``sorted_bam``.bai, atomically."""
    sorted_bam = Path(sorted_bam)
    index = sorted_bam.with_name(sorted_bam.name + ".bai")
    # Leaving the block renames the BAM first, then its (newer) index.
    with (
        open(log, "a") as log_fh,
        atomic_path(index) as tmp_index,
        atomic_path(sorted_bam) as tmp_bam,
    ):
        _run(["samtools", "sort", "-@", str(threads), "-o", str(tmp_bam), str(bam)], log_fh)
        _run(["samtools", "index", "-o", str(tmp_index), str(tmp_bam)], log_fh)


def _run(command: list[str], log_fh) -> None:
    status = subprocess.run(command, stderr=log_fh).returncode
    if status != 0:
        raise ExomirError(f"{' '.join(command[:2])} failed (exit {status}); see {log_fh.name}")


_SORT_BLOCK_READS = 1 << 16


def _sort_by_rank(path: Path) -> None:
    """Rewrite the collapsed FASTA ``path`` (``>{rank}_x{count}``, two lines per read) by rank.

    Vectorised over the file's bytes (a Python loop per read cost ~2 µs): in memory are the
    file itself (~40 bytes per read) and a few integers per read.
    """
    data = np.fromfile(path, dtype=np.uint8)
    if not len(data):
        return
    newlines = np.flatnonzero(data == ord("\n"))
    n = len(newlines) // 2
    if len(newlines) % 2 or newlines[-1] != len(data) - 1:
        raise ExomirError(f"{path}: not a collapsed FASTA ('>rank_xcount' and one sequence line)")
    ends = newlines[1::2] + 1
    starts = np.concatenate(([0], ends[:-1]))
    # The first '_' at or after each record's start; it must be in the header, before 'x'.
    underscores = np.append(np.flatnonzero(data == ord("_")), len(data) - 1)
    underscore = underscores[np.searchsorted(underscores, starts)]
    digits = underscore - starts - 1
    well_formed = (
        (data[starts] == ord(">"))
        & (underscore < newlines[0::2])
        & (data[np.minimum(underscore + 1, len(data) - 1)] == ord("x"))
        & (digits >= 1)
        & (digits <= 18)
    )
    ranks = np.zeros(n, dtype=np.int64)
    for k in range(min(int(digits.max(initial=0)), 18)):
        in_rank = k < digits
        digit = data[np.where(in_rank, starts + 1 + k, 0)].astype(np.int64) - ord("0")
        well_formed &= ~in_rank | ((digit >= 0) & (digit <= 9))
        ranks = np.where(in_rank, ranks * 10 + digit, ranks)
    if not well_formed.all():
        first = int(np.argmin(well_formed))
        header = bytes(data[starts[first] : newlines[2 * first]])
        raise ExomirError(f"{path}: read name {header!r} is not a collapsed '>rank_xcount' name")
    order = np.argsort(ranks, kind="stable")
    if (order == np.arange(n)).all():
        return
    lengths = ends - starts
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        # Gather the records in blocks: byte indices cost 8 bytes per byte of a block.
        for first in range(0, n, _SORT_BLOCK_READS):
            block = order[first : first + _SORT_BLOCK_READS]
            size = lengths[block]
            shift = starts[block] - (np.cumsum(size) - size)
            data[np.arange(int(size.sum())) + np.repeat(shift, size)].tofile(out)


def require_tools(*names: str) -> None:
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        raise ExomirError(f"required program(s) not found on PATH: {', '.join(missing)}")
