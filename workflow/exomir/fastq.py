"""Read one sample's FASTQ files and collapse them to distinct sequences with multiplicity.

A small-RNA library is dominated by a few hundred miRNAs, so tens of millions of reads hold
far fewer distinct sequences; trimming and UMI dedup work on distinct sequences carrying
their read count, which is what makes a 50 M-read library fast. Several files of one sample
(lanes, runs) are merged. Every problem a user can fix is raised as ExomirError naming the file.

Speed: dnaio's C parser feeds Counter's C-level counting (no Python bytecode per read;
hand-written block splitting measured slower than dnaio). ISA-L decompresses, in its own
thread when two threads are granted. Normalisation and checks run per distinct sequence.

Memory: a dict entry for a distinct 50-nt read costs ~150 bytes, so a library with 10 M
distinct reads would need 1.5 GB. Past ``COUNTS_MEMORY_BYTES`` of counts they are spilled
to disk in hash partitions, and each partition is merged on its own.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import shutil
import sys
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, islice
from operator import attrgetter
from pathlib import Path
from types import TracebackType

import dnaio
import numpy as np
from isal.isal_zlib import error as IsalError

from exomir.errors import ExomirError

# Interleaving is a property of the whole file, so checking the names of the first records
# catches it without putting a per-read Python step on the hot path.
INTERLEAVE_CHECK_RECORDS = 10_000
# Reads per C-level counting step; the memory bound is checked between steps.
CHUNK_READS = 100_000
# Counts kept in memory before spilling; an entry costs ~100 bytes plus the read length
# (str object, dict slot): 3 M distinct 50-nt reads, 1.8 M of 150 nt.
COUNTS_MEMORY_BYTES = 450 * 2**20
BYTES_PER_DISTINCT = 100
SPILL_PARTITIONS = 64

_NOT_ACGTN = re.compile(r"[^ACGTN]")
_sequence = attrgetter("sequence")


def count_sequences(
    paths: Sequence[str | os.PathLike],
    *,
    warnings: list[str] | None = None,
    threads: int = 1,
) -> tuple[Counter[str], int]:
    """Distinct raw sequences of all ``paths`` with their read counts, and the number of reads.

    Sequences come back upper-case with '.' as 'N'. Notes about accepted-but-unusual input
    (FASTA instead of FASTQ) are appended to ``warnings`` when a list is given. Everything
    is held in memory; :func:`collapse_reads` bounds memory for very large libraries.
    """
    with collapse_reads(
        paths, warnings=warnings, threads=threads, max_distinct_in_memory=sys.maxsize
    ) as collapsed:
        return next(collapsed.partitions(), Counter()), collapsed.reads


class CollapsedReads:
    """One sample's distinct raw sequences with read counts, in memory or spilled to disk.

    ``partitions()`` yields disjoint Counters (sequence → reads) that together hold every
    distinct sequence: one when everything fitted in memory, else one per hash partition.
    It can be iterated once. Use as a context manager so spill files are removed.
    """

    def __init__(self, counts: Counter[str], reads: int, spill: _SpillFiles | None) -> None:
        self.reads = reads
        self._counts = counts
        self._spill = spill

    @property
    def spilled(self) -> bool:
        return self._spill is not None

    def partitions(self) -> Iterator[Counter[str]]:
        counts, self._counts = self._counts, Counter()
        if self._spill is None:
            if counts:
                yield counts
            return
        if counts:
            self._spill.add(counts)
        del counts
        yield from self._spill.partitions()

    def close(self) -> None:
        if self._spill is not None:
            self._spill.close()

    def __enter__(self) -> CollapsedReads:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def collapse_reads(
    paths: Sequence[str | os.PathLike],
    *,
    warnings: list[str] | None = None,
    threads: int = 1,
    max_distinct_in_memory: int | None = None,
    spill_dir: str | os.PathLike | None = None,
) -> CollapsedReads:
    """Count the distinct normalised sequences of all ``paths`` (see :class:`CollapsedReads`).

    Past ``max_distinct_in_memory`` distinct sequences (default: as many as fit in
    ``COUNTS_MEMORY_BYTES`` at the library's read length) counts are spilled to a temporary
    directory under ``spill_dir`` (default: the system's, i.e. ``$TMPDIR``). With
    ``threads`` >= 2 gzip is decompressed in a second thread.
    """
    collapser = _Collapser(max_distinct_in_memory, spill_dir)
    try:
        for path in map(Path, paths):
            collapser.add_file(path, warnings, threads)
    except BaseException:
        collapser.discard()
        raise
    return CollapsedReads(collapser.counts, collapser.reads, collapser.spill)


class _Collapser:
    """The running counts of one sample, spilled whenever they reach the memory bound."""

    def __init__(self, max_distinct: int | None, spill_dir: str | os.PathLike | None) -> None:
        self.counts: Counter[str] = Counter()
        self.reads = 0
        self.spill: _SpillFiles | None = None
        self._max_distinct = max_distinct
        self._spill_dir = spill_dir

    def add_file(self, path: Path, warnings: list[str] | None, threads: int) -> None:
        file_reads = 0
        with _reading(path), _open(path, warnings, threads) as reader:
            records = iter(reader)
            head = list(islice(records, INTERLEAVE_CHECK_RECORDS))
            check_not_interleaved((record.id for record in head), path)
            if self._max_distinct is None and head:
                typical = sum(len(record.sequence) for record in head) / len(head)
                self._max_distinct = int(COUNTS_MEMORY_BYTES / (BYTES_PER_DISTINCT + typical))
            # The hot path: dnaio's C parser feeds Counter's C-level counting through map(),
            # so no Python bytecode runs per read; the memory bound is checked per chunk.
            sequences = chain(map(_sequence, head), map(_sequence, records))
            while chunk := list(islice(sequences, CHUNK_READS)):
                self.counts.update(chunk)
                file_reads += len(chunk)
                if self._max_distinct is not None and len(self.counts) >= self._max_distinct:
                    self._spill(path)
        if not file_reads:
            raise ExomirError(f"{path}: contains no reads")
        # Keys of earlier files are normalised already, so a bad one is from this file.
        _normalise_keys(self.counts, path)
        self.reads += file_reads

    def _spill(self, path: Path) -> None:
        _normalise_keys(self.counts, path)  # before hashing: 'acgt' and 'ACGT' are one
        if self.spill is None:
            self.spill = _SpillFiles(self._spill_dir)
        self.spill.add(self.counts)
        self.counts = Counter()

    def discard(self) -> None:
        if self.spill is not None:
            self.spill.close()


class _SpillFiles:
    """Counts on disk in hash partitions, so each partition can be merged on its own.

    A sequence always lands in the same partition (hash() is fixed within a process), so
    the partitions stay disjoint however often counts are spilled.
    """

    def __init__(self, directory: str | os.PathLike | None, n_partitions: int = SPILL_PARTITIONS):
        self._directory = Path(tempfile.mkdtemp(prefix="exomir-collapse-", dir=directory))
        self._paths = [self._directory / f"{i:03d}.pickle" for i in range(n_partitions)]

    def add(self, counts: Counter[str]) -> None:
        # Vectorised: a Python loop over millions of entries would cost more than counting.
        n = len(self._paths)
        sequences = list(counts)
        reads = np.fromiter(counts.values(), dtype=np.int64, count=len(sequences))
        partition = np.fromiter(map(hash, sequences), dtype=np.int64, count=len(sequences)) % n
        order = np.argsort(partition, kind="stable")
        bounds = np.searchsorted(partition[order], np.arange(n + 1))
        for path, first, last in zip(self._paths, bounds[:-1], bounds[1:], strict=True):
            if first == last:
                continue
            members = order[first:last]
            chosen = list(map(sequences.__getitem__, members.tolist()))
            with open(path, "ab") as handle:
                pickle.dump((chosen, reads[members]), handle, protocol=pickle.HIGHEST_PROTOCOL)

    def partitions(self) -> Iterator[Counter[str]]:
        for path in self._paths:
            if not path.exists():
                continue
            merged: Counter[str] = Counter()
            with open(path, "rb") as handle:
                while True:
                    try:
                        sequences, reads = pickle.load(handle)
                    except EOFError:
                        break
                    spilled = dict(zip(sequences, reads.tolist(), strict=True))
                    # Only sequences spilled more than once need adding up (in Python).
                    for sequence in merged.keys() & spilled.keys():
                        spilled[sequence] += merged[sequence]
                    dict.update(merged, spilled)
            path.unlink()
            yield merged

    def close(self) -> None:
        shutil.rmtree(self._directory, ignore_errors=True)


def first_sequences(
    paths: Sequence[str | os.PathLike],
    limit: int,
    *,
    warnings: list[str] | None = None,
) -> list[str]:
    """The first ``limit`` read sequences of ``paths`` (in file order), normalised."""
    sequences: list[str] = []
    for path in paths:
        if len(sequences) >= limit:
            break
        path = Path(path)
        with _reading(path), _open(path, warnings) as reader:
            head = list(islice(reader, limit - len(sequences)))
        if not head:
            raise ExomirError(f"{path}: contains no reads")
        check_not_interleaved((record.id for record in head), path)
        sequences.extend(normalise_sequence(record.sequence, path) for record in head)
    return sequences


def normalise_sequence(sequence: str, path: str | os.PathLike = "input") -> str:
    """Upper-case, '.' → 'N'; anything else that is not ACGTN is a user error."""
    if not _NOT_ACGTN.search(sequence):
        return sequence
    fixed = sequence.upper().replace(".", "N")
    bad = _NOT_ACGTN.search(fixed)
    if bad:
        raise ExomirError(
            f"{path}: read sequence {fixed[:40]!r} contains {bad.group()!r}; "
            "only A, C, G, T, N (any case) and '.' are accepted"
        )
    return fixed


def check_not_interleaved(ids: Iterable[str], path: str | os.PathLike) -> None:
    """Refuse interleaved paired-end input: mates would be counted as two molecules."""
    previous = None
    for name in ids:
        if previous is not None and _are_mates(previous, name):
            raise ExomirError(
                f"{path}: consecutive records {previous!r} and {name!r} look like an "
                "interleaved read pair; paired/interleaved input is not supported, give R1 only"
            )
        previous = name


def _are_mates(first: str, second: str) -> bool:
    if first == second:
        return True
    return first.endswith("/1") and second.endswith("/2") and first[:-2] == second[:-2]


def _normalise_keys(counts: Counter[str], path: Path) -> Counter[str]:
    # Normalising distinct sequences instead of reads keeps the per-read path free of it;
    # one C-level scan per slice of keys finds the (rare) batches that need it at all.
    keys = list(counts)
    unusual = []
    for start in range(0, len(keys), CHUNK_READS):
        part = keys[start : start + CHUNK_READS]
        if "".join(part).encode("ascii").translate(None, b"ACGTN"):
            unusual.extend(sequence for sequence in part if _NOT_ACGTN.search(sequence))
    for sequence in unusual:
        reads = counts.pop(sequence)
        counts[normalise_sequence(sequence, path)] += reads
    return counts


@contextlib.contextmanager
def _open(
    path: Path, warnings: list[str] | None, threads: int = 1
) -> Iterator[dnaio.SequenceReader]:
    # With a second thread granted, ISA-L decompresses ahead while this one counts.
    with dnaio.open(path, open_threads=1 if threads > 1 else 0) as reader:
        if isinstance(reader, dnaio.FastaReader) and warnings is not None:
            warnings.append(f"{path}: FASTA input (no base qualities); accepted, qualities unused")
        yield reader


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn the many ways a read file can be broken into one-line errors naming the file."""
    try:
        yield
    except FileNotFoundError:
        raise ExomirError(f"{path}: file not found") from None
    except EOFError:
        raise ExomirError(
            f"{path}: truncated compressed file (stream ends early); copy or download it again"
        ) from None
    except dnaio.exceptions.UnknownFileFormat:
        raise ExomirError(f"{path}: neither FASTQ nor FASTA") from None
    except dnaio.exceptions.FileFormatError as error:
        raise ExomirError(f"{path}: malformed FASTQ/FASTA: {_one_line(error)}") from None
    except (zlib.error, IsalError, OSError) as error:
        raise ExomirError(f"{path}: cannot read: {_one_line(error)}") from None
    except UnicodeDecodeError:
        raise ExomirError(f"{path}: not a text FASTQ/FASTA file (non-ASCII bytes)") from None


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())
