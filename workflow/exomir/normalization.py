"""Size factors: how much sequencing depth each library got, so counts can be compared.

Three sources, one estimator. DESeq2's median of ratios is applied either to all miRNAs
(the default: assumes most miRNAs do not change), to spike-in counts (EV libraries from
different volumes of biofluid carry different amounts of RNA; spike-ins added per volume
track that where the miRNAs themselves cannot) or to a user list of stable reference
miRNAs. Factors are scaled to a geometric mean of 1. Every factor is computed from the
counts rounded to integers, the same counts DE sees.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from exomir.atomic import atomic_open
from exomir.config import schema_default
from exomir.errors import ExomirError
from exomir.numbers import format_count, format_counts
from exomir.watchlist import match_names

DEFAULT_METHOD = schema_default("normalization.method")

METHODS = ("median_of_ratios", "spikein", "reference_mirnas")
SIZE_FACTOR_COLUMNS = ["sample", "size_factor", "method"]


@dataclass(frozen=True)
class NormalizationSettings:
    method: str = DEFAULT_METHOD
    reference_mirnas: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping) -> NormalizationSettings:
        raw = config.get("normalization") or {}
        if isinstance(raw, str):
            raw = {"method": raw}
        method = str(raw.get("method") or DEFAULT_METHOD)
        if method not in METHODS:
            raise ExomirError(
                f"config: normalization method '{method}' is not one of {', '.join(METHODS)}"
            )
        references = tuple(str(name) for name in raw.get("reference_mirnas") or [])
        if method == "reference_mirnas" and not references:
            raise ExomirError(
                "config: normalization method 'reference_mirnas' needs a list "
                "normalization.reference_mirnas"
            )
        return cls(method, references)


def rounded_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """Counts as DESeq2 models them: integers (fractional multi-mapper shares rounded)."""
    return counts.fillna(0).round().astype(np.int64)


def fractional_cells(counts: pd.DataFrame) -> int:
    """How many counts are not whole numbers (reported, because DE rounds them)."""
    values = counts.fillna(0).to_numpy(dtype=float)
    return int(np.count_nonzero(values != np.round(values)))


def median_of_ratios(counts: np.ndarray) -> tuple[np.ndarray, str]:
    """DESeq2's size factors for a features x samples integer matrix, geometric mean 1.

    Each sample's factor is the median ratio of its counts to the features' geometric
    means, over features seen in every sample. Samples with no counts at all get NaN and
    take no part. When no feature is seen in every sample (sparse matrices, few spike-ins)
    the "poscounts" variant is used: geometric means over the non-zero counts. Returns the
    factors and which estimator was used ("ratio" or "poscounts").
    """
    counts = np.asarray(counts, dtype=float)
    factors = np.full(counts.shape[1], np.nan)
    present = counts.sum(axis=0) > 0
    usable = counts[:, present]
    if usable.shape[1] == 0:
        return factors, "ratio"
    with np.errstate(divide="ignore"):
        logs = np.log(usable)
    estimator = "ratio"
    log_geomeans = logs.mean(axis=1)
    if not np.isfinite(log_geomeans).any():
        estimator = "poscounts"
        positive_logs = np.where(usable > 0, logs, 0.0)
        log_geomeans = np.where(
            (usable > 0).any(axis=1), positive_logs.sum(axis=1) / usable.shape[1], -np.inf
        )
    features = np.isfinite(log_geomeans)
    raw = np.empty(usable.shape[1])
    for j in range(usable.shape[1]):
        seen = features & (usable[:, j] > 0)
        raw[j] = np.exp(np.median(logs[seen, j] - log_geomeans[seen])) if seen.any() else np.nan
    estimated = np.isfinite(raw)
    if estimated.any():
        raw[estimated] /= np.exp(np.mean(np.log(raw[estimated])))
    factors[present] = raw
    return factors, estimator


def _require_counted(totals: pd.Series, source: str, what: str) -> None:
    empty = sorted(totals.index[totals <= 0])
    if empty:
        raise ExomirError(
            f"{source}: sample(s) {', '.join(empty)} have zero {what} reads; "
            "their size factor cannot be estimated"
        )


def compute_size_factors(
    counts: pd.DataFrame,
    settings: NormalizationSettings,
    spikein_counts: pd.DataFrame | None = None,
    spikein_source: str = "spike-in counts",
) -> pd.DataFrame:
    """Size factors (columns sample, size_factor, method) for the samples of ``counts``.

    ``counts`` and ``spikein_counts`` are features x samples, indexed by name. Under
    median_of_ratios a sample with no miRNA reads gets NaN (it is flagged by the quality
    gate and left out of DE); under spikein / reference_mirnas a sample with none of the
    normalising reads is an error, since it would silently fall back to nothing.
    """
    samples = list(counts.columns)
    if settings.method == "spikein":
        if spikein_counts is None:
            raise ExomirError("normalization 'spikein' needs the spike-in count matrix")
        missing = [s for s in samples if s not in spikein_counts.columns]
        if missing:
            raise ExomirError(f"{spikein_source}: no column for sample(s) {', '.join(missing)}")
        basis = rounded_counts(spikein_counts[samples])
        _require_counted(basis.sum(axis=0), spikein_source, "spike-in")
    elif settings.method == "reference_mirnas":
        matches = match_names(settings.reference_mirnas, counts.index)
        unmatched = [query for query, names in matches.items() if not names]
        if unmatched:
            raise ExomirError(
                f"normalization.reference_mirnas: {', '.join(unmatched)} not in the count matrix"
            )
        rows = sorted({name for names in matches.values() for name in names})
        basis = rounded_counts(counts.loc[rows])
        _require_counted(basis.sum(axis=0), "normalization.reference_mirnas", "reference-miRNA")
    else:
        basis = rounded_counts(counts)
    factors, estimator = median_of_ratios(basis.to_numpy())
    method = settings.method if estimator == "ratio" else f"{settings.method}(poscounts)"
    return pd.DataFrame({"sample": samples, "size_factor": factors, "method": method})


def normalized_counts(counts: pd.DataFrame, size_factors: pd.Series) -> pd.DataFrame:
    """Rounded counts divided by each sample's size factor (NaN where the factor is NaN)."""
    factors = size_factors.reindex(counts.columns).to_numpy(dtype=float)
    return rounded_counts(counts) / factors


def write_size_factors(table: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_open(path) as out:
        out.write("\t".join(SIZE_FACTOR_COLUMNS) + "\n")
        for row in table.itertuples(index=False):
            value = "NA" if np.isnan(row.size_factor) else f"{row.size_factor:.10g}"
            out.write(f"{row.sample}\t{value}\t{row.method}\n")


def read_size_factors(path: str | os.PathLike, samples: Iterable[str]) -> pd.DataFrame:
    """Size factors written by ``write_size_factors``, checked to cover ``samples``."""
    try:
        table = pd.read_csv(
            path, sep="\t", dtype={"sample": str, "size_factor": float, "method": str}
        )
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ExomirError(f"{path}: cannot read size factors: {error}") from error
    if list(table.columns) != SIZE_FACTOR_COLUMNS:
        raise ExomirError(f"{path}: columns must be {', '.join(SIZE_FACTOR_COLUMNS)}")
    missing = sorted(set(samples) - set(table["sample"]))
    if missing:
        raise ExomirError(f"{path}: no size factor for sample(s) {', '.join(missing)}")
    return table


def write_matrix(
    matrix: pd.DataFrame, path: str | os.PathLike, formatter=format_count, index_name="mirna"
) -> None:
    """A features x samples table, first column ``index_name``; NaN written as NA."""
    with atomic_open(path) as out:
        out.write("\t".join([index_name, *map(str, matrix.columns)]) + "\n")
        for name, row in zip(matrix.index, matrix.to_numpy(dtype=float), strict=True):
            # millions of cells at 1,000 samples: whole rows where possible, and
            # math.isnan on Python floats (np.isnan per scalar costs ~1 us)
            if formatter is format_count and not np.isnan(row).any():
                cells = format_counts(row)
            else:
                cells = ["NA" if math.isnan(v) else formatter(v) for v in row.tolist()]
            out.write("\t".join([str(name), *cells]) + "\n")
