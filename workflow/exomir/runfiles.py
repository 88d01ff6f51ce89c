"""Files through which the workflow hands the sample sheet and the config to its rules.

A rule that read the sheet or the config itself would not re-run when they change: its
inputs would not have changed. So each consumer gets a small file with exactly what it
reads, written by a job whose parameters are that content (Snakemake re-runs a job whose
parameters changed). An edit then re-runs what it affects and nothing else: a condition
swap touches the DE metadata, not the sample lists of the merges; an added sample touches
the sample lists, then the merges.

Two kinds, both under ``results/run/``:
- *run files* (``config/<group>.json``, ``samples/metadata.tsv``): the whole content
  comes from the Snakefile;
- *sample lists* (``samples/<table>.tsv``): ``sample<TAB>path`` lines, the paths being
  the merge rule's own per-sample inputs as Snakemake resolved them (module prefix
  included). Merges over 10,000 samples read them instead of 10,000 paths on a command
  line, which a shell argument (128 KiB at most) cannot hold.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from exomir.atomic import atomic_open
from exomir.errors import ExomirError


def json_content(value: object) -> str:
    """A config fragment as the exact text of its run file (sorted keys: stable bytes)."""
    return json.dumps(value, indent=1, sort_keys=True) + "\n"


def metadata_content(rows: Sequence[Mapping[str, str]], columns: Sequence[str]) -> str:
    """Sample metadata as TSV text: ``sample`` then ``columns``, one row a sample."""
    lines = ["\t".join(["sample", *columns])]
    for row in rows:
        values = [row["sample"], *(row.get(column, "") for column in columns)]
        for value in values:
            if "\t" in value or "\n" in value:
                raise ExomirError(f"sample {row['sample']}: a value holds a tab or newline")
        lines.append("\t".join(values))
    return "\n".join(lines) + "\n"


def write_run_file(content: str, out: str | os.PathLike) -> None:
    """Write ``content`` to ``out`` atomically (a killed job leaves no half file)."""
    with atomic_open(out, "w", newline="\n") as handle:
        handle.write(content)


def write_sample_list(
    samples: Sequence[str], paths: Sequence[str | os.PathLike], out: str | os.PathLike
) -> None:
    """``sample<TAB>path`` lines, in the given (sheet) order."""
    if len(samples) != len(paths):
        raise ExomirError(f"{out}: {len(samples)} samples but {len(paths)} paths")
    for sample in samples:
        if "\t" in sample or "\n" in sample:
            raise ExomirError(f"{out}: sample name {sample!r} holds a tab or newline")
    write_run_file("".join(f"{s}\t{p}\n" for s, p in zip(samples, paths, strict=True)), out)


def read_sample_list(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """(samples, paths) of a sample list, in its order; a malformed line names itself."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise ExomirError(f"{path}: sample list is missing") from None
    samples: list[str] = []
    paths: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not all(fields):
            raise ExomirError(f"{path}: line {number}: expected 'sample<TAB>path'")
        samples.append(fields[0])
        paths.append(fields[1])
    if not samples:
        raise ExomirError(f"{path}: sample list is empty")
    if len(set(samples)) != len(samples):
        raise ExomirError(f"{path}: a sample is listed twice")
    return samples, paths


def read_json_file(path: str | os.PathLike) -> dict:
    """A config fragment; a malformed one is a one-line error naming the file."""
    try:
        value = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ExomirError(f"{path}: config file is missing") from None
    except json.JSONDecodeError as error:
        raise ExomirError(f"{path}: not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise ExomirError(f"{path}: must hold a JSON object")
    return value
