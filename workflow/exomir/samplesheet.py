"""The sample sheet: read it, check it, and say exactly which line and column is wrong.

Each row is checked against workflow/schemas/samples.schema.yaml (the one statement of what
a column may hold: safe sample names, which reach file names and shell commands; kit
names; adapter sequences); this module adds what a schema cannot say (duplicates, files
that exist) and names the line and column of the first problem. FASTQ paths are checked
before any job runs, so a typo fails in a second rather than after an hour of trimming.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema

from exomir.config import load_schema
from exomir.errors import ExomirError

# What a failed schema check means, per column (the schema's pattern is not a message).
_COLUMN_PROBLEMS = {
    "sample": "is not a valid sample name "
    "(letters, digits, '.', '_', '-'; starting with a letter or digit)",
    "adapter": "is not a DNA sequence",
}
RUN_ACCESSION = re.compile(r"^[SED]RR[0-9]+$")


@dataclass
class Sample:
    name: str
    fastq: list[Path]
    runs: list[str] = field(default_factory=list)
    protocol: str | None = None
    adapter: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class SampleSheet:
    path: Path
    columns: list[str]
    samples: list[Sample]

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.samples]

    def by_name(self) -> dict[str, Sample]:
        return {s.name: s for s in self.samples}


def read_sample_sheet(
    path: str | os.PathLike,
    *,
    base_dir: str | os.PathLike = ".",
    need_fastq: bool = True,
    protocols: frozenset[str] | set[str] = frozenset(),
    check_files: bool = True,
) -> SampleSheet:
    """Parse and validate a tab-separated sample sheet.

    Relative FASTQ paths resolve against ``base_dir``. ``protocols``, when given, is the
    set of valid values of the optional per-sample ``protocol`` column (default: the
    schema's, i.e. auto, the kit presets and custom).
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise ExomirError(f"sample sheet {where}: file does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ExomirError(f"sample sheet {where}: cannot be read ({error})") from None
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise ExomirError(f"sample sheet {where}: is empty (needs a header line and samples)")
    rows = list(csv.reader((line.rstrip("\r") for line in lines), delimiter="\t"))
    header = [column.strip() for column in rows[0]]
    if "sample" not in header:
        hint = " (is it comma-separated? it must be tab-separated)" if "," in lines[0] else ""
        raise ExomirError(f"sample sheet {where}: header has no 'sample' column{hint}")
    if need_fastq and "fastq" not in header and "runs" not in header:
        raise ExomirError(
            f"sample sheet {where}: header has no 'fastq' column (nor 'runs' to download)"
        )
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise ExomirError(
            f"sample sheet {where}: column {duplicated[0]!r} appears twice in the header"
        )
    if len(rows) < 2:
        raise ExomirError(f"sample sheet {where}: has a header but no samples")

    validator = _row_validator(protocols)
    line_numbers = _data_line_numbers(text)
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    for row, line_no in zip(rows[1:], line_numbers, strict=True):
        at = f"sample sheet {where}, line {line_no}"
        if len(row) != len(header):
            raise ExomirError(
                f"{at}: has {len(row)} fields but the header has {len(header)} (tabs, not spaces?)"
            )
        values = {column: value.strip() for column, value in zip(header, row, strict=True)}
        _check_row(validator, values, at)
        name = values["sample"]
        if name in seen:
            raise ExomirError(
                f"{at}, column sample: duplicate sample name {name!r} (first on line {seen[name]})"
            )
        seen[name] = line_no
        runs = [r.strip() for r in values.get("runs", "").split(";") if r.strip()]
        for run in runs:
            if not RUN_ACCESSION.match(run):
                raise ExomirError(
                    f"{at}, column runs: {run!r} is not an SRA/ENA/DDBJ run accession"
                )
        fastqs: list[Path] = []
        if values.get("fastq") or not runs:
            fastqs = _fastq_paths(values.get("fastq", ""), base_dir, at, check_files, need_fastq)
        protocol = values.get("protocol") or None
        adapter = values.get("adapter") or None
        metadata = {
            k: v
            for k, v in values.items()
            if k not in {"sample", "fastq", "runs", "protocol", "adapter"}
        }
        samples.append(
            Sample(name, fastqs, runs, protocol, adapter.upper() if adapter else None, metadata)
        )
    return SampleSheet(path, header, samples)


def _row_validator(protocols: frozenset[str] | set[str]) -> jsonschema.Draft202012Validator:
    """The samples schema; ``protocols``, when given, replaces its list of kit names."""
    schema = load_schema("samples")
    if protocols:
        schema["properties"]["protocol"]["enum"] = ["", *sorted(protocols)]
    return jsonschema.Draft202012Validator(schema)


def _check_row(validator: jsonschema.Draft202012Validator, values: dict, at: str) -> None:
    """Raise for the first schema violation of one row, naming its column."""
    errors = sorted(validator.iter_errors(values), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    error = errors[0]
    if not error.absolute_path:  # a required column is missing from the row
        raise ExomirError(f"{at}: {error.message}")
    column = str(error.absolute_path[0])
    value = values[column]
    if error.validator == "enum":
        allowed = ", ".join(sorted(str(v) for v in error.validator_value if v))
        raise ExomirError(f"{at}, column {column}: {value!r} is not one of: {allowed}")
    if column in _COLUMN_PROBLEMS:
        raise ExomirError(f"{at}, column {column}: {value!r} {_COLUMN_PROBLEMS[column]}")
    raise ExomirError(f"{at}, column {column}: {error.message}")


def _data_line_numbers(text: str) -> list[int]:
    numbers = [
        i
        for i, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.startswith("#")
    ]
    return numbers[1:]


def _fastq_paths(
    field_value: str, base_dir: str | os.PathLike, at: str, check_files: bool, required: bool
) -> list[Path]:
    parts = [p.strip() for p in field_value.split(";") if p.strip()]
    whole = field_value.strip()
    if len(parts) > 1 and _resolve(whole, base_dir).is_file():
        # ';' separates files, but may also be part of a file name: an existing file wins.
        parts = [whole]
    if not parts:
        if required:
            raise ExomirError(f"{at}, column fastq: is empty (give a FASTQ path or 'runs')")
        return []
    paths = []
    for part in parts:
        candidate = _resolve(part, base_dir)
        if check_files:
            if not candidate.exists():
                raise ExomirError(f"{at}, column fastq: file {part!r} does not exist")
            if not candidate.is_file() or not os.access(candidate, os.R_OK):
                raise ExomirError(f"{at}, column fastq: {part!r} is not a readable file")
        paths.append(candidate)
    return paths


def _resolve(path: str, base_dir: str | os.PathLike) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else Path(base_dir) / candidate
