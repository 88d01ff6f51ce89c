"""The EV quality gate: is a library deep and clean enough to trust its miRNA profile?

EV and biofluid libraries start from picograms of RNA; a failed one is mostly adapter
dimer and holds a few thousand miRNA reads, and its "profile" is noise that DE would
happily test. Each sample is checked against thresholds on its read fates (from
``results/qc/read_fates.tsv``); failing samples are flagged and, with
``drop_failing: true``, left out of DE.

The defaults adapt the ERCC's exRNA Atlas criteria (applied by exceRpt; Murillo et al.
2019, Cell 177:463, and Rozowsky et al. 2019, Cell Syst 8:352): at least 100,000 reads on
annotated RNAs, and at least half of the genome-mapped reads on annotated RNAs. exomir
maps to no genome, so the second becomes "annotated share of the reads that reached
alignment" (mature, hairpin and small-RNA biotype reads over those plus unassigned), and
the first is asked of miRNA reads, the reads DE tests. The miRNA and dimer fractions
have no consortium value; their defaults are exomir's, chosen and documented in
``THRESHOLD_SOURCES`` so the report can say where each number comes from.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from exomir.atomic import atomic_open
from exomir.config import schema_default
from exomir.errors import ExomirError
from exomir.fates import COLUMNS as FATE_COLUMNS
from exomir.numbers import format_count

REQUIRED_FATES = ("sample", "input", "adapter_dimer", "mature")
QUALITY_COLUMNS = [
    "sample",
    "input_reads",
    "mirna_reads",
    "adapter_dimer_fraction",
    "mirna_fraction",
    "annotated_fraction",
    "mirna_reads_min",
    "mirna_reads_check",
    "adapter_dimer_fraction_max",
    "adapter_dimer_fraction_check",
    "mirna_fraction_min",
    "mirna_fraction_check",
    "annotated_fraction_min",
    "annotated_fraction_check",
    "overall",
    "failed_checks",
    "likely_reason",
]
# likely_reason is given for failing samples and for those with under this miRNA share.
LOW_MIRNA_FRACTION = 0.05
DEGRADED_FRACTION = 0.5  # adapter dimers + too short, of input
NOT_SMALL_RNA_FRACTION = 0.5  # too long (long reads no biotype took), of input
OTHER_RNA_FRACTION = 0.5  # biotype reads, of input
NO_REASON = "none"
# Read-fate columns that are not biotypes (the rest, between mature and unassigned, are).
_NOT_BIOTYPES = set(FATE_COLUMNS)
PASS, FAIL, NOT_COMPUTED = "PASS", "FAIL", "NA"
# Fates that are reads on an annotated RNA: between the spike-ins and `unassigned` in
# read_fates.tsv (mature, hairpin_only, then the biotypes in priority order).
_BEFORE_ANNOTATED, _AFTER_ANNOTATED = "spikein", "unassigned"

THRESHOLD_SOURCES = {
    "min_mirna_reads": "ERCC exRNA Atlas / exceRpt: >= 100,000 reads on annotated RNAs; "
    "exomir asks it of miRNA reads, the reads DE tests",
    "min_annotated_fraction": "ERCC exRNA Atlas / exceRpt: >= 50% of genome-mapped reads on "
    "annotated RNAs; without a genome, the share of the reads that reached alignment "
    "(spike-ins left out) that are miRNA, hairpin or small-RNA-biotype reads",
    "min_mirna_fraction": "exomir's floor (no consortium value): a library with under 5% of "
    "its input reads on miRNAs profiles miRNAs from a small, noisy minority",
    "max_adapter_dimer_fraction": "exomir's ceiling (no consortium value): a library that is "
    "more than half adapter dimer had too little RNA for ligation",
}


def threshold_sources_text() -> str:
    """One sentence per default threshold saying where it comes from, for the report."""
    return " ".join(f"{key}: {source}." for key, source in THRESHOLD_SOURCES.items())


@dataclass(frozen=True)
class QualityThresholds:
    """Gate thresholds (defaults: the schema's); their sources are in ``THRESHOLD_SOURCES``."""

    min_mirna_reads: float = schema_default("quality_gate.min_mirna_reads")
    max_adapter_dimer_fraction: float = schema_default("quality_gate.max_adapter_dimer_fraction")
    min_mirna_fraction: float = schema_default("quality_gate.min_mirna_fraction")
    min_annotated_fraction: float = schema_default("quality_gate.min_annotated_fraction")
    drop_failing: bool = False

    @classmethod
    def from_config(cls, config: Mapping) -> QualityThresholds:
        raw = config.get("quality_gate") or {}
        defaults = cls()
        return cls(
            min_mirna_reads=float(raw.get("min_mirna_reads", defaults.min_mirna_reads)),
            max_adapter_dimer_fraction=float(
                raw.get("max_adapter_dimer_fraction", defaults.max_adapter_dimer_fraction)
            ),
            min_mirna_fraction=float(raw.get("min_mirna_fraction", defaults.min_mirna_fraction)),
            min_annotated_fraction=float(
                raw.get("min_annotated_fraction", defaults.min_annotated_fraction)
            ),
            drop_failing=bool(raw.get("drop_failing", defaults.drop_failing)),
        )


def read_read_fates(path: str | os.PathLike) -> pd.DataFrame:
    """The read-fate table, checked: required columns, unique samples, non-negative numbers."""
    try:
        table = pd.read_csv(path, sep="\t", dtype={"sample": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ExomirError(f"{path}: cannot read read fates: {error}") from error
    missing = [c for c in REQUIRED_FATES if c not in table.columns]
    if missing:
        raise ExomirError(f"{path}: missing column(s) {', '.join(missing)}")
    duplicated = sorted(set(table["sample"][table["sample"].duplicated()]))
    if duplicated:
        raise ExomirError(f"{path}: sample(s) listed twice: {', '.join(duplicated)}")
    annotated = annotated_columns(list(table.columns))
    checked = [*REQUIRED_FATES[1:], *annotated, *([_AFTER_ANNOTATED] if annotated else [])]
    for column in dict.fromkeys(checked):
        values = pd.to_numeric(table[column], errors="coerce")
        bad = table["sample"][values.isna() | (values < 0)]
        if len(bad):
            raise ExomirError(
                f"{path}: sample '{bad.iloc[0]}' column '{column}': "
                f"'{table.loc[bad.index[0], column]}' is not a non-negative number"
            )
        table[column] = values
    return table


def _fraction(part: float, whole: float) -> float:
    return part / whole if whole > 0 else math.nan


def likely_reason(fate: Mapping[str, float], protocol: Mapping | None) -> str:
    """Why a library holds (almost) no miRNA, first match of:

    - ``kit or adapter mismatch: <kit> maps better``: the kit decision's test mapping
      (protocol.json) put clearly more reads on miRNAs with another structure, or
      ``...: the reads carry adapter <sequence>``: a declared kit's adapter explains far
      fewer reads than the one inferred from them;
    - ``degraded``: adapter dimers and too-short inserts are most of the input;
    - ``not a small-RNA library``: most reads are long inserts that no biotype took;
    - ``mostly <biotype>``: most reads are another small RNA (e.g. tRNA, rRNA fragments);
    - ``mostly unassigned``: most reads passed trimming but map to no reference;
    - ``few reads``: none of the above.
    """
    total = float(fate.get("input", 0) or 0)
    if total <= 0:
        return "no reads"
    evidence = (protocol or {}).get("evidence") or {}
    better = (evidence.get("mapping") or {}).get("better_than_declared")
    if better:
        return f"kit or adapter mismatch: {better} maps better"
    if evidence.get("adapter_mismatch"):
        return f"kit or adapter mismatch: the reads carry adapter {evidence['adapter_mismatch']}"

    def share(*columns: str) -> float:
        return sum(float(fate.get(c, 0) or 0) for c in columns) / total

    if share("adapter_dimer", "too_short") >= DEGRADED_FRACTION:
        return "degraded"
    if share("too_long") >= NOT_SMALL_RNA_FRACTION:
        return "not a small-RNA library"
    biotypes = {c: share(c) for c in fate if c not in _NOT_BIOTYPES}
    if biotypes and sum(biotypes.values()) >= OTHER_RNA_FRACTION:
        return f"mostly {max(sorted(biotypes), key=biotypes.__getitem__)}"
    if share("unassigned") >= OTHER_RNA_FRACTION:
        return "mostly unassigned"
    return "few reads"


def read_protocols(paths: Sequence[str | os.PathLike]) -> dict[str, dict]:
    """protocol.json documents by sample."""
    protocols = {}
    for path in paths:
        try:
            with open(path) as handle:
                record = json.load(handle)
        except (OSError, json.JSONDecodeError) as error:
            raise ExomirError(f"{path}: cannot read protocol file: {error}") from None
        if not isinstance(record, dict) or "sample" not in record:
            raise ExomirError(f"{path}: missing key 'sample' (not a protocol.json?)")
        protocols[str(record["sample"])] = record
    return protocols


def _verdict(passed: bool | None) -> str:
    return NOT_COMPUTED if passed is None else PASS if passed else FAIL


def annotated_columns(columns: list[str]) -> list[str]:
    """The read-fate columns of reads on annotated RNAs (empty if the table lacks the fates
    that bound them, as a hand-made table may)."""
    if _BEFORE_ANNOTATED not in columns or _AFTER_ANNOTATED not in columns:
        return []
    return columns[columns.index(_BEFORE_ANNOTATED) + 1 : columns.index(_AFTER_ANNOTATED)]


def evaluate_quality(
    fates: pd.DataFrame,
    thresholds: QualityThresholds,
    protocols: Mapping[str, Mapping] | None = None,
) -> pd.DataFrame:
    """One row per sample: each check's value, threshold and PASS/FAIL, and the overall call.

    A fraction that cannot be computed (no input reads) fails its check; the annotated
    fraction of a table without ``spikein``/``unassigned`` columns is NA and not checked.
    ``likely_reason`` (see :func:`likely_reason`) is filled for failing samples and for
    those with less than 5 % of reads on miRNAs; ``protocols`` are the samples'
    protocol.json documents.
    """
    annotated = annotated_columns(list(fates.columns))
    rows = []
    for _, fate in fates.iterrows():
        record = fate.to_dict()
        mirna_reads = float(fate["mature"])
        dimer = _fraction(float(fate["adapter_dimer"]), float(fate["input"]))
        mirna_fraction = _fraction(mirna_reads, float(fate["input"]))
        checks = {
            "mirna_reads": mirna_reads >= thresholds.min_mirna_reads and mirna_reads > 0,
            "adapter_dimer_fraction": dimer <= thresholds.max_adapter_dimer_fraction,
            "mirna_fraction": mirna_fraction >= thresholds.min_mirna_fraction,
        }
        annotated_fraction = math.nan
        if annotated:
            on_annotated = sum(float(fate[c]) for c in annotated)
            aligned = on_annotated + float(fate[_AFTER_ANNOTATED])
            annotated_fraction = _fraction(on_annotated, aligned)
            checks["annotated_fraction"] = annotated_fraction >= thresholds.min_annotated_fraction
        failed = [name for name, passed in checks.items() if not passed]
        rows.append(
            {
                "sample": fate["sample"],
                "input_reads": float(fate["input"]),
                "mirna_reads": mirna_reads,
                "adapter_dimer_fraction": dimer,
                "mirna_fraction": mirna_fraction,
                "annotated_fraction": annotated_fraction,
                "mirna_reads_min": thresholds.min_mirna_reads,
                "mirna_reads_check": PASS if checks["mirna_reads"] else FAIL,
                "adapter_dimer_fraction_max": thresholds.max_adapter_dimer_fraction,
                "adapter_dimer_fraction_check": PASS if checks["adapter_dimer_fraction"] else FAIL,
                "mirna_fraction_min": thresholds.min_mirna_fraction,
                "mirna_fraction_check": PASS if checks["mirna_fraction"] else FAIL,
                "annotated_fraction_min": thresholds.min_annotated_fraction,
                "annotated_fraction_check": _verdict(checks.get("annotated_fraction")),
                "overall": FAIL if failed else PASS,
                "failed_checks": ";".join(failed) if failed else "none",
                "likely_reason": (
                    likely_reason(record, (protocols or {}).get(str(fate["sample"])))
                    if failed or not mirna_fraction >= LOW_MIRNA_FRACTION
                    else NO_REASON
                ),
            }
        )
    return pd.DataFrame(rows, columns=QUALITY_COLUMNS)


def _cell(column: str, value: object) -> str:
    if isinstance(value, str):
        return value
    value = float(value)
    if math.isnan(value):
        return "NA"
    if "fraction" in column:
        return f"{value:.4f}"
    return format_count(value)


def write_quality(table: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_open(path) as out:
        out.write("\t".join(QUALITY_COLUMNS) + "\n")
        for row in table[QUALITY_COLUMNS].itertuples(index=False):
            cells = [_cell(c, v) for c, v in zip(QUALITY_COLUMNS, row, strict=True)]
            out.write("\t".join(cells) + "\n")


def read_quality(path: str | os.PathLike) -> pd.DataFrame:
    """A table written by ``write_quality``."""
    try:
        table = pd.read_csv(path, sep="\t", dtype={"sample": str, "overall": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ExomirError(f"{path}: cannot read quality table: {error}") from error
    missing = [c for c in ("sample", "overall", "mirna_reads") if c not in table.columns]
    if missing:
        raise ExomirError(f"{path}: missing column(s) {', '.join(missing)}")
    return table


def failing_samples(quality: pd.DataFrame) -> list[str]:
    return sorted(quality.loc[quality["overall"] == FAIL, "sample"].astype(str))


def samples_without_mirna_reads(quality: pd.DataFrame) -> list[str]:
    return sorted(quality.loc[quality["mirna_reads"] <= 0, "sample"].astype(str))


def de_exclusions(
    quality_path: str | os.PathLike | None, drop_failing: bool
) -> tuple[dict[str, str], list[str]]:
    """Samples DE leaves out (with why), and failing samples it keeps, from the gate's table.

    Samples without miRNA reads are always left out (pydeseq2 cannot size them); failing
    samples only with ``drop_failing``. No table (a user count matrix): nothing is left out.
    """
    if not quality_path:
        return {}, []
    quality = read_quality(quality_path)
    excluded = {s: "no miRNA reads" for s in samples_without_mirna_reads(quality)}
    failing = failing_samples(quality)
    if drop_failing:
        for sample in failing:
            excluded.setdefault(sample, "quality gate FAIL")
        return excluded, []
    return excluded, [s for s in failing if s not in excluded]
