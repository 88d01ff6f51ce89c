"""Count tables: per-sample files, their merge into matrices, CPM, isomiRs, trim stats.

Per-sample count files (``mirna\\t<sample>``) list every feature of the reference in the
same canonical order, so merging is a paste: each file's numbers go into one column of a
preallocated matrix (rows x samples, float64: 10,000 samples x 3,000 rows is 240 MB) and
the matrix is written row by row. The row names of every file are checked against the
first file's, so a sample counted against another reference cannot be pasted in silently.

Read fates (rows, their split by biotype and their merge) are :mod:`exomir.fates`'.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from exomir.atomic import atomic_open
from exomir.errors import ExomirError
from exomir.numbers import format_count, format_counts

TRIM_STATS_COUNTS = (
    "input",
    "adapter_dimer",
    "too_short",
    "too_long",
    "umi_duplicate",
    "passed",
    "no_adapter",
)
# What trimming removes before alignment; input = these + passed.
TRIM_LOSSES = ("adapter_dimer", "too_short", "too_long", "umi_duplicate")
ISOMIR_COLUMNS = (
    "mirna",
    "sequence",
    "start_offset",
    "end_offset",
    "tail",
    "mismatches",
    "count",
)
MERGED_ISOMIR_COLUMNS = (
    "mirna",
    "sequence",
    "start_offset",
    "end_offset",
    "tail",
    "sample",
    "count",
)
# Per-sample isomiR files merged at once; more go through sorted intermediate runs.
MAX_OPEN_FILES = 256
# (sequence, sample rank, rest of the output line): sorts by sequence, then sample
IsomirRow = tuple[str, int, str]
IsomirBlock = tuple[str, list[IsomirRow]]


class _CountText(dict):
    """format_count with memory: count matrices repeat few values (mostly 0) many times."""

    def __missing__(self, value: float) -> str:
        if len(self) > 100_000:  # bounds memory (~20 MB) when values stop repeating
            self.clear()
        text = self[value] = format_count(value)
        return text


# ---------------------------------------------------------------- per-sample outputs


def write_count_column(
    path: str | os.PathLike, sample: str, names: Sequence[str], values: Sequence[float]
) -> None:
    """One sample's table: header ``mirna\\t<sample>``, one row per feature, in order."""
    if len(names) != len(values):
        raise ValueError("names and values differ in length")
    with atomic_open(path) as handle:
        handle.write(f"mirna\t{sample}\n")
        handle.writelines(f"{n}\t{format_count(v)}\n" for n, v in zip(names, values, strict=True))


def write_isomirs(path: str | os.PathLike, isomirs: Iterable) -> None:
    """Rows of :class:`exomir.counting.IsomirCount`, in the order given, zero counts dropped."""
    with atomic_open(path) as handle:
        handle.write("\t".join(ISOMIR_COLUMNS) + "\n")
        for i in isomirs:
            if i.count > 0:
                handle.write(
                    f"{i.mirna}\t{i.sequence}\t{i.start_offset}\t{i.end_offset}\t{i.tail}\t"
                    f"{i.mismatches}\t{format_count(i.count)}\n"
                )


def load_trim_stats(path: str | os.PathLike, sample: str) -> dict[str, int]:
    """The read counts of ``exomir trim``'s JSON, checked to belong to ``sample`` and add up."""
    path = Path(path)
    try:
        stats = json.loads(path.read_text())
    except FileNotFoundError:
        raise ExomirError(f"{path}: trim stats file is missing") from None
    except json.JSONDecodeError as error:
        raise ExomirError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(stats, dict):
        raise ExomirError(f"{path}: trim stats must be a JSON object")
    if stats.get("sample") != sample:
        raise ExomirError(
            f"{path}: trim stats are for sample {stats.get('sample')!r}, not {sample}"
        )
    counts = {}
    for key in TRIM_STATS_COUNTS:
        value = stats.get(key)
        if type(value) is not int or value < 0:
            raise ExomirError(
                f"{path}: sample {sample}: {key!r} must be a count >= 0, got {value!r}"
            )
        counts[key] = value
    removed = sum(counts[key] for key in TRIM_LOSSES)
    if removed + counts["passed"] != counts["input"]:
        raise ExomirError(
            f"{path}: sample {sample}: input {counts['input']} != adapter_dimer + too_short + "
            f"too_long + umi_duplicate + passed ({removed + counts['passed']})"
        )
    return counts


# ---------------------------------------------------------------- merging


def read_list_file(path: str | os.PathLike) -> list[str]:
    """Non-blank lines of a file: long sample/input lists go in files, not on a command line."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise ExomirError(f"{path}: list file is missing") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def check_samples_and_inputs(samples: Sequence[str], inputs: Sequence[str | os.PathLike]) -> None:
    if not samples:
        raise ExomirError("no samples to merge")
    if len(samples) != len(inputs):
        raise ExomirError(f"{len(samples)} sample names but {len(inputs)} input files")
    seen = set()
    for sample in samples:
        if sample in seen:
            raise ExomirError(f"sample {sample} is given twice")
        seen.add(sample)


def read_table_text(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        raise ExomirError(f"{path}: input file is missing") from None


def _first_count_column(path: Path, sample: str) -> tuple[list[str], np.ndarray]:
    """Row names and values of the first file, checked line by line."""
    lines = read_table_text(path).splitlines()
    _check_count_header(path, lines[0] if lines else "", sample)
    names, values = [], []
    for line_number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 2:
            raise ExomirError(f"{path}: line {line_number} does not have 2 columns")
        names.append(fields[0])
        values.append(fields[1])
    if len(set(names)) != len(names):
        raise ExomirError(f"{path}: a mirna row appears twice")
    return names, _parse_values(path, values)


def _check_count_header(path: Path, header: str, sample: str) -> None:
    if header != f"mirna\t{sample}":
        raise ExomirError(f"{path}: header must be 'mirna<TAB>{sample}', got {header!r}")


def _parse_values(path: Path, values: list[str]) -> np.ndarray:
    try:
        return np.array(values, dtype=np.float64)
    except ValueError:
        bad = next(v for v in values if not _is_number(v))
        raise ExomirError(f"{path}: {bad!r} is not a count") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _count_column(path: Path, sample: str, names: list[str]) -> np.ndarray:
    """Values of a further file, whose rows must be exactly ``names`` in order (fast path)."""
    text = read_table_text(path)
    header, _, body = text.partition("\n")
    _check_count_header(path, header, sample)
    # One split for the whole body: names and values alternate when every row has 2 columns.
    fields = body.replace("\n", "\t").split("\t")
    if fields and fields[-1] == "":
        fields.pop()
    if len(fields) != 2 * len(names) or fields[0::2] != names:
        raise ExomirError(
            f"{path}: mirna rows differ from those of the first input "
            "(counted against another reference?)"
        )
    return _parse_values(path, fields[1::2])


def _write_matrix(
    path: str | os.PathLike,
    names: Sequence[str],
    samples: Sequence[str],
    matrix: np.ndarray,
    *,
    repeated_values: bool,
) -> None:
    """Row by row; counts repeat (memoised text), CPM values rarely do (row formatting)."""
    if repeated_values:
        text = _CountText()

        def cells(row: np.ndarray) -> Iterable[str]:
            return map(text.__getitem__, row.tolist())
    else:
        cells = format_counts
    with atomic_open(path) as handle:
        handle.write("mirna\t" + "\t".join(samples) + "\n")
        for name, row in zip(names, matrix, strict=True):
            handle.write(name + "\t" + "\t".join(cells(row)) + "\n")


def merge_count_tables(
    samples: Sequence[str],
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    cpm_out: str | os.PathLike | None = None,
) -> list[str]:
    """Paste per-sample count files into ``out`` (and CPM into ``cpm_out``).

    Columns follow ``samples`` (the sample-sheet order). CPM = count / column sum x 1e6,
    0 for a sample whose counts are all zero. Returns those all-zero samples.
    """
    check_samples_and_inputs(samples, inputs)
    paths = [Path(p) for p in inputs]
    names, first = _first_count_column(paths[0], samples[0])
    matrix = np.empty((len(names), len(samples)), dtype=np.float64)
    matrix[:, 0] = first
    for column in range(1, len(samples)):
        matrix[:, column] = _count_column(paths[column], samples[column], names)
    _write_matrix(out, names, samples, matrix, repeated_values=True)

    totals = matrix.sum(axis=0)
    all_zero = totals == 0
    if cpm_out is not None:
        scale = np.zeros_like(totals)
        np.divide(1e6, totals, out=scale, where=~all_zero)
        matrix *= scale  # in place: a second matrix would double peak memory
        _write_matrix(cpm_out, names, samples, matrix, repeated_values=False)
    return [samples[i] for i in np.flatnonzero(all_zero)]


def _isomir_blocks(path: Path, rank: int, lead: str, sample: str) -> Iterator[IsomirBlock]:
    """One per-sample file as (mirna, its rows) blocks, checked to be sorted by mirna.

    Blocks, not rows, go through the k-way merge: one heap operation per miRNA and
    sample instead of one per isomiR. A row carries its output text after the sequence
    (``lead`` first), so the merge only sorts and joins.
    """
    with open(path) as handle:
        header = handle.readline().rstrip("\n")
        if header != "\t".join(ISOMIR_COLUMNS):
            raise ExomirError(f"{path}: header must be {' '.join(ISOMIR_COLUMNS)} (tab-separated)")
        mirna, rows = None, []
        for line_number, line in enumerate(handle, start=2):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != len(ISOMIR_COLUMNS):
                raise ExomirError(
                    f"{path}: line {line_number} does not have {len(ISOMIR_COLUMNS)} columns"
                )
            if fields[0] != mirna:
                if mirna is not None:
                    if fields[0] < mirna:
                        raise ExomirError(
                            f"{path}: line {line_number}: rows are not sorted by mirna"
                        )
                    yield mirna, _checked_unique(path, mirna, rows)
                mirna, rows = fields[0], []
            rows.append(
                (
                    fields[1],
                    rank,
                    f"{lead}{fields[2]}\t{fields[3]}\t{fields[4]}\t{sample}\t{fields[6]}\n",
                )
            )
        if mirna is not None:
            yield mirna, _checked_unique(path, mirna, rows)


def _checked_unique(path: Path, mirna: str, rows: list[IsomirRow]) -> list[IsomirRow]:
    if len({row[0] for row in rows}) != len(rows):
        sequences = sorted(row[0] for row in rows)
        twice = next(a for a, b in itertools.pairwise(sequences) if a == b)
        raise ExomirError(f"{path}: isomiR {mirna} {twice} appears twice")
    return rows


def _merged_blocks(streams: Sequence[Iterator[IsomirBlock]]) -> Iterator[IsomirBlock]:
    """(mirna, the rows of all streams for it, by sequence then rank), mirna by mirna."""
    heap = []
    for index, stream in enumerate(streams):
        block = next(stream, None)
        if block is not None:
            heap.append((block[0], index, block[1], stream))
    heapq.heapify(heap)
    while heap:
        mirna = heap[0][0]
        rows: list[IsomirRow] = []
        while heap and heap[0][0] == mirna:
            _, index, block_rows, stream = heap[0]
            rows.extend(block_rows)
            block = next(stream, None)
            if block is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (block[0], index, block[1], stream))
        rows.sort()
        yield mirna, rows


def _merged_text(
    paths: Sequence[Path], ranks: range, samples: Sequence[str], run_format: bool
) -> Iterator[str]:
    """The merged rows of files ``ranks``, one miRNA at a time; runs carry the rank.

    A run line is ``mirna sequence rank start end sample count``: its text order is its
    (mirna, sequence, rank) order (tabs sort before any name character and ranks are
    zero-padded), so runs merge by plain string comparison.
    """
    streams = [
        _isomir_blocks(paths[r], r, f"{r:010d}\t" if run_format else "", samples[r]) for r in ranks
    ]
    for mirna, rows in _merged_blocks(streams):
        yield "".join([f"{mirna}\t{sequence}\t{rest}" for sequence, _, rest in rows])


def _without_rank(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        mirna, sequence, _, rest = line.split("\t", 3)
        yield f"{mirna}\t{sequence}\t{rest}"


def _merge_runs(runs: Sequence[Path], write: Callable[[Iterable[str]], None]) -> None:
    """Pass the lines of sorted runs, merged by text (which is their sort order), to write."""
    with contextlib.ExitStack() as stack:
        write(heapq.merge(*(stack.enter_context(open(run)) for run in runs)))
    for run in runs:
        run.unlink()


def merge_isomirs(
    samples: Sequence[str], inputs: Sequence[str | os.PathLike], out: str | os.PathLike
) -> None:
    """Long isomiR table ``mirna sequence start_offset end_offset tail sample count``.

    Sorted by mirna, sequence, then sample in the given order. Streamed: at most
    MAX_OPEN_FILES per-sample files are merged at once (a k-way merge of miRNA blocks);
    beyond that, groups go to sorted runs next to ``out``, which are merged the same number
    at a time until one pass can write ``out``. Open files and memory (one miRNA's rows of
    MAX_OPEN_FILES samples) stay the same whatever the number of samples.
    """
    check_samples_and_inputs(samples, inputs)
    paths = [Path(p) for p in inputs]
    for path in paths:
        if not path.exists():
            raise ExomirError(f"{path}: input file is missing")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = "\t".join(MERGED_ISOMIR_COLUMNS) + "\n"
    if len(paths) <= MAX_OPEN_FILES:
        with atomic_open(out) as handle:
            handle.write(header)
            handle.writelines(_merged_text(paths, range(len(paths)), samples, run_format=False))
        return
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as scratch:
        names = (Path(scratch) / f"run{i}.tsv" for i in itertools.count())
        runs = []
        for first in range(0, len(paths), MAX_OPEN_FILES):
            group = range(first, min(first + MAX_OPEN_FILES, len(paths)))
            runs.append(next(names))
            with open(runs[-1], "w") as handle:
                handle.writelines(_merged_text(paths, group, samples, run_format=True))
        fan_in = max(2, MAX_OPEN_FILES)
        while len(runs) > fan_in:
            merged = []
            for first in range(0, len(runs), fan_in):
                merged.append(next(names))
                with open(merged[-1], "w") as handle:
                    _merge_runs(runs[first : first + fan_in], handle.writelines)
            runs = merged
        with atomic_open(out) as handle:
            handle.write(header)
            _merge_runs(runs, lambda lines: handle.writelines(_without_rank(lines)))
