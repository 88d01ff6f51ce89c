"""Read fates: where every input read of a sample went. The one module that knows the table.

A fate row partitions a sample's input reads: ``input`` equals the sum of the columns
between ``input`` and ``no_adapter``; ``no_adapter`` follows, informative only (reads in
which no adapter was found, whatever their fate). For UMI kits the columns after
``umi_duplicate`` are molecules, which is what keeps the partition summing to input reads.

``exomir count`` writes a sample's row (:func:`sample_fates`, :func:`write_fates`); the
biotype step splits its ``unassigned`` into one column per biotype, in priority order,
before the rest (:func:`split_unassigned`); ``exomir merge-fates`` concatenates the rows of
a cohort into results/qc/read_fates.tsv, checking each sums (:func:`merge_fates`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from exomir.atomic import atomic_open
from exomir.errors import ExomirError
from exomir.numbers import format_count
from exomir.tables import TRIM_LOSSES, check_samples_and_inputs, read_table_text

# The row exomir count writes; biotype columns go in just before `unassigned`.
COLUMNS = (
    "sample",
    "input",
    "adapter_dimer",
    "too_short",
    "too_long",
    "umi_duplicate",
    "spikein",
    "mature",
    "hairpin_only",
    "unassigned",
    "no_adapter",
)
# Columns that are not fates of the partition.
NOT_PARTITION = ("sample", "input", "no_adapter")
# What each partition column means (the report's legend); biotype columns by name.
DESCRIPTIONS = {
    "adapter_dimer": "adapter found with an insert shorter than 5 nt",
    "too_short": "insert shorter than min_length",
    "too_long": "insert longer than max_length (or no adapter in a long read)",
    "umi_duplicate": "PCR duplicates removed by UMI deduplication (UMI kits)",
    "spikein": "aligned to a spike-in",
    "mature": "aligned to a hairpin on a mature arm (within isomiR tolerance)",
    "hairpin_only": "aligned to a hairpin outside any mature arm",
    "rRNA": "aligned to ribosomal RNA",
    "tRNA": "aligned to tRNA (fragments, halves)",
    "Y_RNA": "aligned to Y RNA",
    "snoRNA": "aligned to snoRNA",
    "piRNA": "aligned to piRNA",
    "unassigned": "passed trimming but aligned to no spike-in, hairpin or small-RNA reference",
}


def sample_fates(
    sample: str,
    trim_stats: Mapping[str, int],
    *,
    spikein: int,
    mature: int,
    hairpin_only: int,
    source: str,
) -> dict[str, str | int]:
    """The fate row of one sample; ``source`` names the inputs in the error message."""
    aligned = spikein + mature + hairpin_only
    unassigned = trim_stats["passed"] - aligned
    if unassigned < 0:
        raise ExomirError(
            f"{source}: sample {sample}: {aligned} aligned reads exceed the "
            f"{trim_stats['passed']} that passed trimming "
            "(BAMs and trim stats from different runs?)"
        )
    row: dict[str, str | int] = {"sample": sample}
    row.update({key: trim_stats[key] for key in ("input", *TRIM_LOSSES)})
    row.update(spikein=spikein, mature=mature, hairpin_only=hairpin_only, unassigned=unassigned)
    row["no_adapter"] = trim_stats["no_adapter"]
    return row


def write_fates(path: str | os.PathLike, row: Mapping[str, str | int]) -> None:
    """Write ``exomir count``'s one-row fates.tsv (atomically), columns as in COLUMNS."""
    write_fate_row(path, str(row["sample"]), [(c, int(row[c])) for c in COLUMNS[1:]])


def write_fate_row(
    path: str | os.PathLike, sample: str, columns: Sequence[tuple[str, int]]
) -> None:
    """Write one sample's fate row with the given (column, count) pairs, in their order."""
    with atomic_open(path) as handle:
        handle.write("\t".join(["sample", *(name for name, _ in columns)]) + "\n")
        handle.write("\t".join([sample, *(format_count(v) for _, v in columns)]) + "\n")


def read_fate_row(path: str | os.PathLike, sample: str) -> dict[str, int]:
    """The one row of ``exomir count``'s fates.tsv, as integers."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise ExomirError(f"{path}: read-fate file is missing") from None
    if not lines or tuple(lines[0].split("\t")) != COLUMNS:
        raise ExomirError(f"{path}: header must be {' '.join(COLUMNS)} (tab-separated)")
    if len(lines) != 2:
        raise ExomirError(f"{path}: expected one row (sample {sample}), found {len(lines) - 1}")
    fields = lines[1].split("\t")
    if len(fields) != len(COLUMNS) or fields[0] != sample:
        raise ExomirError(f"{path}: the row must be sample {sample} with {len(COLUMNS)} columns")
    try:
        return {column: int(value) for column, value in zip(COLUMNS[1:], fields[1:], strict=True)}
    except ValueError:
        raise ExomirError(f"{path}: sample {sample}: fate counts must be integers") from None


def split_unassigned(
    row: Mapping[str, int],
    biotypes: Sequence[tuple[str, int]],
    source: str,
    sample: str,
    long_biotypes: Sequence[tuple[str, int]] = (),
) -> list[tuple[str, int]]:
    """Fate columns with ``unassigned`` split into (biotype, reads), in order, and the rest.

    ``long_biotypes`` are the biotypes of the long inserts (> max_length): they leave
    ``too_long`` for their biotype's column, so ``too_long`` is what no biotype took.
    """
    assigned = sum(reads for _, reads in biotypes)
    remaining = row["unassigned"] - assigned
    long_assigned = sum(reads for _, reads in long_biotypes)
    too_long = row["too_long"] - long_assigned
    if remaining < 0 or too_long < 0:
        raise ExomirError(
            f"{source}: sample {sample}: {assigned} biotype reads exceed the "
            f"{row['unassigned']} unassigned reads, or {long_assigned} long biotype reads "
            f"the {row['too_long']} too long"
        )
    long_by_biotype = dict(long_biotypes)
    columns: list[tuple[str, int]] = []
    for column in COLUMNS[1:]:
        if column == "unassigned":
            columns += [(name, reads + long_by_biotype.get(name, 0)) for name, reads in biotypes]
            columns.append(("unassigned", remaining))
        elif column == "too_long":
            columns.append(("too_long", too_long))
        else:
            columns.append((column, row[column]))
    return columns


def partition_columns(header: Sequence[str]) -> list[str]:
    """The columns of a fate table's header that partition the input reads."""
    return [c for c in header if c not in NOT_PARTITION]


def merge_fates(
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    samples: Sequence[str] | None = None,
) -> None:
    """Concatenate per-sample fate rows in the given order, checking each partition sums.

    The columns between ``input`` and ``no_adapter`` are the partition, so fate columns
    added later (biotypes before ``unassigned``) are checked without changing this code.
    With ``samples``, file i must hold exactly the row of sample i.
    """
    if samples is not None:
        check_samples_and_inputs(samples, inputs)
    elif not inputs:
        raise ExomirError("no fate files to merge")
    header: list[str] | None = None
    rows: list[str] = []
    seen: dict[str, Path] = {}
    for index, path in enumerate(map(Path, inputs)):
        lines = read_table_text(path).splitlines()
        if header is None:
            header = lines[0].split("\t") if lines else []
            if header[:2] != ["sample", "input"] or header[-1:] != ["no_adapter"]:
                raise ExomirError(f"{path}: header must start 'sample input' and end 'no_adapter'")
        elif not lines or lines[0].split("\t") != header:
            raise ExomirError(f"{path}: header differs from that of {inputs[0]}")
        file_samples = [line.split("\t", 1)[0] for line in lines[1:]]
        if samples is not None and file_samples != [samples[index]]:
            raise ExomirError(f"{path}: expected the one row of sample {samples[index]}")
        for line_number, line in enumerate(lines[1:], start=2):
            _check_fate_row(path, line_number, header, line.split("\t"))
            sample = line.split("\t", 1)[0]
            if sample in seen:
                raise ExomirError(f"{path}: sample {sample} is also in {seen[sample]}")
            seen[sample] = path
            rows.append(line)
    with atomic_open(out) as handle:
        handle.write("\t".join(header) + "\n")
        handle.writelines(row + "\n" for row in rows)


def _check_fate_row(path: Path, line_number: int, header: list[str], fields: list[str]) -> None:
    if len(fields) != len(header):
        raise ExomirError(
            f"{path}: line {line_number} has {len(fields)} columns, not {len(header)}"
        )
    sample = fields[0]
    try:
        values = [int(v) for v in fields[1:]]
    except ValueError:
        raise ExomirError(f"{path}: sample {sample}: fate counts must be integers") from None
    total, partition = values[0], values[1:-1]
    if sum(partition) != total:
        raise ExomirError(
            f"{path}: sample {sample}: fates sum to {sum(partition)}, not input {total}"
        )


# One fixed colour a fate, the same in every run and report: neighbours in the stack
# (dimer / too short, piRNA / unassigned) differ in hue, not only in shade.
COLOURS = {
    "adapter_dimer": "#4d4d4d",
    "too_short": "#b8b8b8",
    "too_long": "#8c564b",
    "umi_duplicate": "#e7ba52",
    "spikein": "#17becf",
    "mature": "#2ca02c",
    "hairpin_only": "#98df8a",
    "rRNA": "#d62728",
    "tRNA": "#ff7f0e",
    "Y_RNA": "#9467bd",
    "snoRNA": "#e377c2",
    "piRNA": "#1f77b4",
    "unassigned": "#f2e394",
}
# For biotypes a user adds (order: [..., lncRNA]): none of these is in COLOURS.
EXTRA_COLOURS = ("#393b79", "#bcbd22", "#843c39", "#637939", "#7b4173", "#5254a3")
