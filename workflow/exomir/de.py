"""Differential expression of one contrast with pydeseq2, on exomir's own size factors.

pydeseq2 is run the way DESeq2 is: counts rounded to integers, the model matrix and
contrast vector built by :mod:`exomir.contrasts` (reference level explicit, never
alphabetical), Wald test, Cook's outlier refit, independent filtering and
Benjamini-Hochberg at ``alpha``. Its own size-factor fit is replaced by the factors from
:mod:`exomir.normalization`, so spike-in or reference-miRNA normalisation reaches the
statistics and ``normalized_counts.tsv`` agrees with every ``baseMean``.
"""

from __future__ import annotations

import functools
import json
import math
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from exomir import samplesheet
from exomir.atomic import atomic_open
from exomir.config import schema_default
from exomir.contrasts import (
    ContrastDesign,
    ContrastSpec,
    build_contrast_design,
    continuous_covariates,
)
from exomir.errors import ExomirError
from exomir.normalization import fractional_cells, rounded_counts

DEFAULT_ALPHA = schema_default("alpha")

RESULT_COLUMNS = ["mirna", "baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]
SHRUNK_COLUMN = "log2FoldChange_shrunk"
ROUNDING_NOTE = (
    "fractional counts (multi-mapper shares) were rounded to the nearest integer for DE; "
    "DESeq2's negative binomial model needs integer counts"
)


@dataclass(frozen=True)
class DESettings:
    alpha: float = DEFAULT_ALPHA
    lfc_shrink: bool = False
    continuous: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_config(cls, config: Mapping) -> DESettings:
        alpha = float(config.get("alpha", DEFAULT_ALPHA))
        if not 0 < alpha < 1:
            raise ExomirError(f"config: alpha must be between 0 and 1, not {alpha}")
        return cls(
            alpha, bool(config.get("lfc_shrink", False)), frozenset(continuous_covariates(config))
        )


@dataclass(frozen=True)
class ContrastResult:
    table: pd.DataFrame
    summary: dict
    vst: pd.DataFrame
    size_factors_used: pd.Series


def read_sample_sheet(path: str | os.PathLike) -> pd.DataFrame:
    """The sample sheet as text (levels like ``01`` stay as written), one row per sample.

    Parsed and checked by :mod:`exomir.samplesheet`, the one sheet reader (comments,
    names, duplicates); FASTQ columns are not needed or checked here.
    """
    sheet = samplesheet.read_sample_sheet(path, need_fastq=False, check_files=False)
    rows = [{"sample": s.name, **s.metadata} for s in sheet.samples]
    columns = ["sample"] + [c for c in sheet.columns if c not in {"sample", "fastq", "runs"}]
    columns = [c for c in columns if c not in {"protocol", "adapter"}]
    return pd.DataFrame(rows, columns=columns, dtype=str).fillna("")


def read_count_matrix(
    path: str | os.PathLike, samples: Iterable[str], first_column: str | None = "mirna"
) -> pd.DataFrame:
    """A feature x sample count matrix, columns in ``samples`` order.

    The first column holds the feature names and must be called ``first_column`` (any
    name if None, as for spike-in tables). Empty cells are zero. Every sample must have a
    column and every column must be a sample, so a renamed or misspelt sample cannot
    silently drop out of the analysis.
    """
    samples = list(samples)
    try:
        raw = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ExomirError(f"{path}: cannot read count matrix: {error}") from error
    if first_column is not None and raw.columns[0] != first_column:
        raise ExomirError(f"{path}: first column must be '{first_column}', not '{raw.columns[0]}'")
    if raw.empty:
        raise ExomirError(f"{path}: no miRNA rows")
    columns = list(raw.columns[1:])
    # sets: list membership made these checks quadratic (10^8 comparisons at 10,000 samples)
    present, wanted = set(columns), set(samples)
    missing = [s for s in samples if s not in present]
    if missing:
        raise ExomirError(f"{path}: no column for sample(s) {', '.join(missing)}")
    extra = [c for c in columns if c not in wanted]
    if extra:
        raise ExomirError(f"{path}: column(s) {', '.join(extra)} are not samples of the sheet")
    names = raw[raw.columns[0]].str.strip()
    duplicated = sorted(set(names[names.duplicated()]))
    if duplicated or (names == "").any():
        what = f"miRNA(s) listed twice: {', '.join(duplicated[:5])}" if duplicated else "empty name"
        raise ExomirError(f"{path}: {what}")
    # All cells parsed at once, sample after sample: column by column (and inserting
    # the columns one by one) took seconds and a warning per column at 1,000 samples.
    text = pd.Series(raw[samples].to_numpy(dtype=object).ravel(order="F")).str.strip()
    values = pd.to_numeric(text.replace("", "0").replace({"NA": "0", "NaN": "0"}), "coerce")
    numbers = values.to_numpy(dtype=float).reshape(len(samples), len(names)).T
    bad = np.isnan(numbers) | (numbers < 0) | np.isinf(numbers)
    if bad.any():
        column = int(np.argmax(bad.any(axis=0)))
        row = int(np.argmax(bad[:, column]))
        raise ExomirError(
            f"{path}: row {row + 2} ({names.iloc[row]}) column '{samples[column]}': "
            f"'{text.iloc[column * len(names) + row]}' is not a non-negative number"
        )
    return pd.DataFrame(numbers, index=pd.Index(names, name=raw.columns[0]), columns=samples)


@functools.cache
def _given_size_factors_dataset() -> type:
    """A DeseqDataSet class that uses ``obs["size_factors"]`` instead of fitting them.

    ``deseq2()`` and ``vst_fit()`` both call ``fit_size_factors``; here it only derives
    the normalised counts from the factors given, as DESeq2 does after ``sizeFactors<-``.
    Built on first use because importing pydeseq2 takes seconds, which every ``exomir``
    command would otherwise pay.
    """
    from pydeseq2.dds import DeseqDataSet

    class GivenSizeFactorsDataSet(DeseqDataSet):
        def fit_size_factors(self, fit_type=None, control_genes=None) -> None:
            factors = self.obs["size_factors"].to_numpy(dtype=float)
            self.layers["normed_counts"] = self.X / factors[:, None]
            self.var["_normed_means"] = self.layers["normed_counts"].mean(axis=0)

        def fit_genewise_dispersions(self, vst: bool = False) -> None:
            super().fit_genewise_dispersions(vst=vst)
            if not vst:
                # vst_fit(use_design=True) would fit these same dispersions (same counts,
                # design and size factors) a second time: a third of a contrast's run time.
                # Kept before Cook's-outlier refitting changes any, as a separate fit would be.
                self.var["vst_genewise_dispersions"] = self.var["genewise_dispersions"].copy()

    return GivenSizeFactorsDataSet


def _excluded_note(excluded: Mapping[str, str]) -> str:
    return ", ".join(f"{s} ({reason})" for s, reason in sorted(excluded.items()))


def _vst(dds) -> np.ndarray:
    """Variance-stabilised counts from the fit's own dispersion trend (DESeq2 blind=FALSE)."""
    try:
        dds.vst_fit(use_design=True)
        return np.asarray(dds.vst_transform())
    except Exception:  # trend fit can fail on tiny data; the heatmap then uses log2
        return np.log2(np.asarray(dds.layers["normed_counts"], dtype=float) + 1)


def _samples_to_leave_out(
    counts: pd.DataFrame, size_factors: pd.Series, exclude: Mapping[str, str] | None
) -> dict[str, str]:
    """The samples given, plus those DE cannot use: no miRNA reads or no size factor."""
    excluded = dict(exclude or {})
    totals = counts.fillna(0).sum(axis=0)
    for sample in counts.columns:
        factor = pd.to_numeric(size_factors.get(sample, math.nan), errors="coerce")
        if totals[sample] <= 0:
            excluded.setdefault(sample, "no miRNA reads")
        elif not (math.isfinite(factor) and factor > 0):
            excluded.setdefault(sample, "no size factor")
    return excluded


def _fit(
    counts: pd.DataFrame,
    design: ContrastDesign,
    factors: list[float],
    settings: DESettings,
    n_cpus: int,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, list[str]]:
    """pydeseq2 on integer counts: results table, VST, size factors it used, its warnings."""
    from pydeseq2.ds import DeseqStats

    metadata = design.metadata.copy()
    metadata["size_factors"] = factors
    # pydeseq2 solves thousands of 1-3 parameter problems; multi-threaded BLAS only adds
    # synchronisation to each (measured: 10x slower on 2 cores). Parallelism is n_cpus.
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(1):
        warnings.simplefilter("always")
        dds = _given_size_factors_dataset()(
            counts=counts.T,
            metadata=metadata,
            design=design.matrix,
            refit_cooks=True,
            n_cpus=n_cpus,
            quiet=True,
        )
        dds.deseq2()
        stats = DeseqStats(
            dds, contrast=design.contrast, alpha=settings.alpha, n_cpus=n_cpus, quiet=True
        )
        stats.summary()
        table = stats.results_df.copy()
        if settings.lfc_shrink:
            stats.lfc_shrink(coeff=design.coefficient)
            table[SHRUNK_COLUMN] = stats.LFC[design.coefficient] / np.log(2)
        vst = _vst(dds)
    used = dds.obs["size_factors"].to_numpy(dtype=float)
    return table, vst, used, sorted({str(w.message) for w in caught})


def run_contrast(
    counts: pd.DataFrame,
    sheet: pd.DataFrame,
    spec: ContrastSpec,
    size_factors: pd.Series,
    settings: DESettings,
    *,
    normalization: str = "median_of_ratios",
    exclude: Mapping[str, str] | None = None,
    n_cpus: int = 1,
    where: str = "sample sheet",
) -> ContrastResult:
    """DE of one contrast. ``counts`` is miRNA x sample; ``size_factors`` is indexed by sample.

    ``exclude`` maps samples to leave out to the reason; samples without miRNA reads or
    without a size factor are left out too. If that leaves a group too small, the error
    says which samples were removed and why.
    """
    excluded = _samples_to_leave_out(counts, size_factors, exclude)
    try:
        design = build_contrast_design(sheet, spec, settings.continuous, where, excluded)
    except ExomirError as error:
        if excluded:
            raise ExomirError(f"{error} (after leaving out {_excluded_note(excluded)})") from error
        raise
    if settings.lfc_shrink and design.coefficient is None:
        raise ExomirError(
            f"{where}: contrast '{spec.name}': lfc_shrink needs a contrast that is one coefficient"
        )
    samples = list(design.metadata.index)
    missing = [s for s in samples if s not in counts.columns]
    if missing:
        raise ExomirError(f"count matrix: no column for sample(s) {', '.join(missing)}")
    integer_counts = rounded_counts(counts[samples])
    what = f"{where}: contrast '{spec.name}'"
    check_fittable(integer_counts, what)
    factors = [float(size_factors[s]) for s in samples]
    try:
        table, vst, used, messages = _fit(integer_counts, design, factors, settings, n_cpus)
    except (np.linalg.LinAlgError, ValueError, FloatingPointError) as error:
        raise ExomirError(
            f"{what}: DE cannot be fitted on samples {', '.join(samples)} "
            f"({type(error).__name__}: {' '.join(str(error).split())})"
        ) from error
    table.index.name = "mirna"
    table = _sorted_results(table.reset_index())
    used_factors = pd.Series(used, index=samples)
    summary = _summary(spec, design, table, settings, normalization, excluded, used_factors)
    summary["fractional_counts_rounded"] = fractional_cells(counts[samples])
    summary["notes"] = [ROUNDING_NOTE, *messages]
    vst_frame = pd.DataFrame(vst.T, index=integer_counts.index, columns=samples)
    return ContrastResult(table, summary, vst_frame, used_factors)


def check_fittable(counts: pd.DataFrame, what: str) -> None:
    """Stop with one line when ``counts`` (miRNA x sample) holds nothing a model can fit.

    Too few samples, all-zero counts and counts without variance make pydeseq2 and the
    PCA fail deep inside numpy (``LinAlgError: SVD did not converge``); users need the
    problem and the samples instead.
    """
    samples = [str(s) for s in counts.columns]
    named = ", ".join(samples) if samples else "none"
    if len(samples) < 2:
        raise ExomirError(f"{what}: too few samples with miRNA reads for DE ({named})")
    values = counts.fillna(0).to_numpy(dtype=float)
    if not values.any():
        raise ExomirError(f"{what}: every miRNA count is zero in samples {named}")
    totals = values.sum(axis=0)
    if (values == values[:, :1]).all() or not (totals > 0).all():
        empty = [s for s, total in zip(samples, totals, strict=True) if total <= 0]
        problem = (
            f"sample(s) {', '.join(empty)} have no miRNA reads"
            if empty
            else "no miRNA count varies between samples"
        )
        raise ExomirError(f"{what}: {problem} (samples {named}); nothing to fit")


def _summary(
    spec: ContrastSpec,
    design: ContrastDesign,
    table: pd.DataFrame,
    settings: DESettings,
    normalization: str,
    excluded: Mapping[str, str],
    used: pd.Series,
) -> dict:
    """The sidecar JSON: enough to know what was compared, how, and with which samples."""
    import pydeseq2

    significant = table["padj"] < settings.alpha
    return {
        "contrast": spec.name,
        "design": spec.design,
        "variable": spec.variable,
        "level": spec.level,
        "reference": spec.reference,
        "subset": dict(sorted(spec.subset.items())),
        "at": dict(sorted(spec.at.items())),
        "model_columns": [str(c) for c in design.matrix.columns],
        "contrast_vector": [float(v) for v in design.contrast],
        "samples": dict(design.samples_per_level),
        "n_per_level": {level: len(m) for level, m in design.samples_per_level.items()},
        "samples_in_fit": list(used.index),
        "excluded_samples": dict(sorted(excluded.items())),
        "normalization": normalization,
        "size_factors": {s: float(f"{f:.10g}") for s, f in used.items()},
        "alpha": settings.alpha,
        "lfc_shrink": settings.lfc_shrink,
        "independent_filtering": True,
        "cooks_outlier_refit": True,
        "n_mirnas": len(table),
        "n_tested": int(table["pvalue"].notna().sum()),
        "n_significant": int(significant.sum()),
        "n_up": int((significant & (table["log2FoldChange"] > 0)).sum()),
        "n_down": int((significant & (table["log2FoldChange"] < 0)).sum()),
        "pydeseq2_version": pydeseq2.__version__,
    }


def _sorted_results(table: pd.DataFrame) -> pd.DataFrame:
    """By padj (NaN last), then name: the order a reader scans and a diff can compare."""
    columns = RESULT_COLUMNS + ([SHRUNK_COLUMN] if SHRUNK_COLUMN in table.columns else [])
    ordered = table.assign(_missing=table["padj"].isna()).sort_values(
        ["_missing", "padj", "mirna"], kind="mergesort"
    )
    return ordered[columns].reset_index(drop=True)


def format_stat(value: object) -> str:
    """Statistics to 6 significant digits; NaN as NA (what R and pandas read back)."""
    if isinstance(value, str):
        return value
    value = float(value)
    if math.isnan(value):
        return "NA"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    text = f"{value:.6g}"
    return "0" if text == "-0" else text


def write_stats_table(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """A TSV of text and numeric columns, numbers through ``format_stat``."""
    with atomic_open(path) as out:
        out.write("\t".join(map(str, table.columns)) + "\n")
        for row in table.itertuples(index=False):
            out.write("\t".join(format_stat(v) for v in row) + "\n")


def write_contrast_outputs(result: ContrastResult, table_path: str | os.PathLike) -> None:
    """``{contrast}.tsv`` and its sidecar ``{contrast}.json`` next to it."""
    write_stats_table(result.table, table_path)
    sidecar = os.path.splitext(os.fspath(table_path))[0] + ".json"
    with atomic_open(sidecar) as out:
        json.dump(result.summary, out, indent=2)
        out.write("\n")


def read_contrast_table(path: str | os.PathLike) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, sep="\t", dtype={"mirna": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ExomirError(f"{path}: cannot read DE table: {error}") from error
    missing = [c for c in RESULT_COLUMNS if c not in table.columns]
    if missing:
        raise ExomirError(f"{path}: missing column(s) {', '.join(missing)}")
    return table


def variance_stabilized(
    counts: pd.DataFrame, size_factors: pd.Series, n_cpus: int = 1
) -> pd.DataFrame:
    """DESeq2's VST (blind: intercept-only dispersion trend) of the samples with a factor.

    For PCA and heatmaps, where log counts would let low-count noise dominate.
    """
    samples = [s for s in counts.columns if np.isfinite(size_factors.get(s, np.nan))]
    integer_counts = rounded_counts(counts[samples])
    metadata = pd.DataFrame(
        {"size_factors": [float(size_factors[s]) for s in samples]}, index=samples
    )
    intercept = pd.DataFrame({"Intercept": 1.0}, index=samples)
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")
        dds = _given_size_factors_dataset()(
            counts=integer_counts.T, metadata=metadata, design=intercept, n_cpus=n_cpus, quiet=True
        )
        try:
            dds.vst_fit(use_design=False)
            values = np.asarray(dds.vst_transform())
        except Exception:  # too few miRNAs for a dispersion trend: fall back to log2
            values = np.log2(
                integer_counts.T.to_numpy() / metadata[["size_factors"]].to_numpy() + 1
            )
    return pd.DataFrame(values.T, index=integer_counts.index, columns=samples)


SUMMARY_COLUMNS = [
    "contrast",
    "n_samples",
    "n_tested",
    "n_up",
    "n_down",
    "alpha",
    "normalization",
    "design",
]


def read_contrast_sidecar(table_path: str | os.PathLike) -> dict:
    """The ``{contrast}.json`` beside a contrast's table (what de-contrast fitted)."""
    sidecar = Path(table_path).with_suffix(".json")
    try:
        return json.loads(sidecar.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ExomirError(f"{sidecar}: cannot read DE summary: {error}") from error


def contrast_summary(table_path: str | os.PathLike, summary: dict | None = None) -> dict:
    """One row of summary.tsv, from a contrast's sidecar (read if not given)."""
    if summary is None:
        summary = read_contrast_sidecar(table_path)
    return {
        "contrast": Path(table_path).stem,
        "n_samples": len(summary["samples_in_fit"]),
        "n_tested": summary["n_tested"],
        "n_up": summary["n_up"],
        "n_down": summary["n_down"],
        "alpha": summary["alpha"],
        "normalization": summary["normalization"],
        "design": summary.get("design", ""),
    }
