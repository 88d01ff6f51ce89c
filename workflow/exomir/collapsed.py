"""The collapsed-reads FASTA passed between stages: one record per distinct sequence.

``>{rank}_x{count}`` then the sequence on one line. Ranks follow count (descending), then
sequence, so the file is byte-identical across reruns; the count travels in the read name,
which is how it survives bowtie and reaches the counting code (see parse_count).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping

from exomir.atomic import atomic_open
from exomir.errors import ExomirError
from exomir.numbers import format_count

_COUNT_SUFFIX = re.compile(r"_x(\d+)$")


def write_collapsed(counts: Mapping[str, int], path: str | os.PathLike) -> int:
    """Write ``counts`` (sequence → count) as collapsed FASTA; return the number of records."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    with atomic_open(path, "w") as handle:
        handle.writelines(
            f">{rank}_x{format_count(count)}\n{sequence}\n"
            for rank, (sequence, count) in enumerate(ordered, start=1)
        )
    return len(ordered)


def parse_count(read_name: str) -> int:
    """The count a collapsed read stands for, from its ``..._x{count}`` name."""
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
