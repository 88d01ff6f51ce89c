"""The collapsed-reads FASTA passed between stages: one record per distinct sequence.

``>{rank}_x{count}`` then the sequence on one line. Ranks follow count (descending), then
sequence, so the file is byte-identical across reruns; the count travels in the read name,
which is how it survives bowtie and reaches the counting code (see parse_count).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from itertools import repeat
from pathlib import Path

import numpy as np

from exomir.atomic import atomic_open
from exomir.errors import ExomirError
from exomir.numbers import format_count

_COUNT_SUFFIX = re.compile(r"_x(\d+)$")
# A header line as write_collapsed and bowtie write it: one name, ending in _x{count}.
_HEADER_COUNT = re.compile(rb"^>\S*_x(\d+)$", re.MULTILINE)


def write_collapsed(counts: Mapping[str, int], path: str | os.PathLike) -> int:
    """Write ``counts`` (sequence → count) as collapsed FASTA; return the number of records."""
    sequences = list(counts)
    values = list(counts.values())
    # numpy sorts the sequences as one fixed-width byte array: sorting Python strings
    # scattered over memory was the slowest part of writing millions of records.
    order = np.lexsort((np.array(sequences, dtype="S"), -np.array(values))).tolist()
    text = {count: format_count(count) for count in set(values)}
    with atomic_open(path, "w") as handle:
        handle.writelines(
            f">{rank}_x{text[values[i]]}\n{sequences[i]}\n" for rank, i in enumerate(order, start=1)
        )
    return len(order)


def parse_count(read_name: str) -> int:
    """The count a collapsed read stands for, from its ``..._x{count}`` name."""
    # Called once per aligned read: str methods first, the regex only for odd names.
    _, separator, digits = read_name.rpartition("_x")
    if separator and digits.isdecimal():
        return int(digits)
    match = _COUNT_SUFFIX.search(read_name)
    if match is None:
        raise ExomirError(f"read name {read_name!r} has no '_x<count>' suffix (not collapsed)")
    return int(match.group(1))


def read_collapsed(path: str | os.PathLike) -> Iterator[tuple[str, str, int]]:
    """Yield ``(name, sequence, count)`` for each record of a collapsed FASTA file."""
    name = None
    with open(path) as handle:
        for line_number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            if line.startswith(">"):
                if name is not None:
                    raise ExomirError(
                        f"{path}: line {line_number}: record {name!r} has no sequence"
                    )
                name = line[1:].split(None, 1)[0] if len(line) > 1 else ""
            elif name is None:
                raise ExomirError(f"{path}: line {line_number}: sequence line without a header")
            else:
                try:
                    count = parse_count(name)
                except ExomirError as error:
                    raise ExomirError(f"{path}: line {line_number - 1}: {error}") from None
                yield name, line, count
                name = None
    if name is not None:
        raise ExomirError(f"{path}: last record {name!r} has no sequence")


def collapsed_lengths(path: str | os.PathLike) -> Counter[int]:
    """Reads (the headers' counts) by sequence length in a collapsed FASTA file.

    The answer of :func:`read_collapsed` without a Python step per record: the whole file is
    split and its counts found in C. A file that is not in the plain two-lines-a-record form
    (CR line ends, blank lines, header descriptions) or is malformed goes through
    :func:`read_collapsed`, which accepts the same files and names the problem of the others.
    """
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    names, sequences = lines[0::2], lines[1::2]
    counts = _HEADER_COUNT.findall(data)
    plain = (
        len(names) == len(sequences) == len(counts)
        and data.count(b">") == len(names)
        and sum(map(bytes.startswith, names, repeat(b">"))) == len(names)
        and b"\r" not in data
        and b"" not in sequences
    )
    if not plain:
        lengths: Counter[int] = Counter()
        for _, sequence, count in read_collapsed(path):
            lengths[len(sequence)] += count
        return lengths
    if not names:
        return Counter()
    per_length = np.bincount(
        np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences)),
        weights=np.array(counts).astype(np.int64),
    )
    return Counter({length: int(n) for length, n in enumerate(per_length.tolist()) if n})
