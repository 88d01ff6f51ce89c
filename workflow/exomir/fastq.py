"""Read one sample's FASTQ files and collapse them to distinct sequences with multiplicity.

A small-RNA library is dominated by a few hundred miRNAs, so tens of millions of reads hold
far fewer distinct sequences; trimming and UMI dedup work on distinct sequences carrying
their read count, which is what makes a 50 M-read library fast. Several files of one sample
(lanes, runs) are merged. Every problem a user can fix is raised as ExomirError naming the file.
"""

from __future__ import annotations

import contextlib
import os
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path

import dnaio
from isal.isal_zlib import error as IsalError

from exomir.errors import ExomirError

# Interleaving is a property of the whole file, so checking the names of the first records
# catches it without putting a per-read Python step on the hot path.
INTERLEAVE_CHECK_RECORDS = 10_000

_NOT_ACGTN = re.compile(r"[^ACGTN]")


def count_sequences(
    paths: Sequence[str | os.PathLike], *, warnings: list[str] | None = None
) -> tuple[Counter[str], int]:
    """Distinct raw sequences of all ``paths`` with their read counts, and the number of reads.

    Sequences come back upper-case with '.' as 'N'. Notes about accepted-but-unusual input
    (FASTA instead of FASTQ) are appended to ``warnings`` when a list is given.
    """
    total: Counter[str] = Counter()
    n_reads = 0
    for path in paths:
        counts = _count_file(Path(path), warnings)
        n_reads += counts.total()
        if total:
            total.update(counts)
        else:
            total = counts
    return total, n_reads


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


def _count_file(path: Path, warnings: list[str] | None) -> Counter[str]:
    with _reading(path), _open(path, warnings) as reader:
        records = iter(reader)
        head = list(islice(records, INTERLEAVE_CHECK_RECORDS))
        check_not_interleaved((record.id for record in head), path)
        counts = Counter(record.sequence for record in head)
        # The hot path: C-level counting straight from dnaio's parser.
        counts.update(record.sequence for record in records)
    if not counts:
        raise ExomirError(f"{path}: contains no reads")
    return _normalise_keys(counts, path)


def _normalise_keys(counts: Counter[str], path: Path) -> Counter[str]:
    # Normalising distinct sequences instead of reads keeps the per-read path free of it.
    unusual = [sequence for sequence in counts if _NOT_ACGTN.search(sequence)]
    for sequence in unusual:
        reads = counts.pop(sequence)
        counts[normalise_sequence(sequence, path)] += reads
    return counts


@contextlib.contextmanager
def _open(path: Path, warnings: list[str] | None) -> Iterator[dnaio.SequenceReader]:
    with dnaio.open(path) as reader:
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
