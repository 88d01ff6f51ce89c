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
from exomir.config import schema_default
from exomir.errors import ExomirError
from exomir.reference import read_fasta

DEFAULT_MISMATCHES = schema_default("alignment.mismatches")


def bowtie_arguments(index: str, reads: str, unaligned: str, mismatches: int, threads: int) -> list:
    return [
        "bowtie",
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


def _empty_bam(reference_fasta: Path, bam: Path) -> None:
    records = list(read_fasta(reference_fasta))
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
    """One reference in line: its bowtie index prefix, the FASTA it was built from, a log."""

    index: str
    reference_fasta: str | os.PathLike
    log: str | os.PathLike


def align_sample(
    reads: str | os.PathLike,
    spikein: Target,
    hairpin: Target,
    *,
    spikein_bam: str | os.PathLike,
    hairpin_grouped_bam: str | os.PathLike,
    hairpin_sorted_bam: str | os.PathLike,
    unaligned: str | os.PathLike,
    mismatches: int = DEFAULT_MISMATCHES,
    threads: int = 1,
) -> None:
    """Spike-ins, then hairpins on what is left, then a sorted, indexed hairpin BAM.

    One call (one job) a sample: these steps take seconds each, and as separate jobs they
    cost a scheduler round-trip each and lengthen the DAG of large cohorts. The grouped BAM
    (bowtie's order, a read's alignments together) is what counting reads; the sorted copy
    with its index is for IGV and samtools.
    """
    unaligned = Path(unaligned)
    unaligned.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".not_spikein.", suffix=".fa.tmp", dir=unaligned.parent)
    os.close(fd)
    not_spikein = Path(name)
    try:
        align(
            reads,
            spikein.index,
            spikein.reference_fasta,
            spikein_bam,
            not_spikein,
            spikein.log,
            mismatches=mismatches,
            threads=threads,
        )
        align(
            not_spikein,
            hairpin.index,
            hairpin.reference_fasta,
            hairpin_grouped_bam,
            unaligned,
            hairpin.log,
            mismatches=mismatches,
            threads=threads,
        )
    finally:
        not_spikein.unlink(missing_ok=True)
    sort_and_index(hairpin_grouped_bam, hairpin_sorted_bam, threads=threads, log=hairpin.log)


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
