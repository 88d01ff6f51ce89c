"""How close the pipeline's counts of a simulated library are to the simulator's truth.

Three figures, each computed in the unit the pipeline counts in (reads, or UMI molecules):

- Spearman correlation of true and counted totals per miRNA, over miRNAs with at least
  ``min_true`` true units (below that, ranks are dominated by sampling noise);
- the share of miRNA-derived units counted for the right miRNA: truth inserts are joined
  to ``isomirs.tsv`` by sequence; when one sequence arose from several truth rows (two
  miRNAs colliding through a sequencing error, or a random fragment equal to an isomiR),
  what the pipeline counted for it is split between those rows in proportion to their
  true units, since nothing in a read tells them apart;
- the share of non-miRNA units (tRNA, random fragments, adapter dimers) counted for any
  miRNA, joined the same way.
Spike-in reads are in neither group: they are counted in their own table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from exomir.errors import ExomirError
from tools.simulate import read_truth, truth_per_mirna

ISOMIR_COLUMNS = ("mirna", "sequence", "start_offset", "end_offset", "tail", "mismatches", "count")
NON_MIRNA_ORIGINS = ("trna", "random", "dimer")
UNITS = ("reads", "molecules")


@dataclass(frozen=True)
class AccuracyReport:
    """Accuracy of one sample's counts against its simulation truth."""

    unit: str
    min_true: int
    mirnas_compared: int
    spearman: float
    mirna_true: float
    mirna_counted_right: float
    non_mirna_true: float
    non_mirna_counted_as_mirna: float
    mirna_counted_total: float

    @property
    def right_fraction(self) -> float:
        """Share of miRNA-derived units counted for the miRNA they came from."""
        return self.mirna_counted_right / self.mirna_true if self.mirna_true else float("nan")

    @property
    def non_mirna_fraction(self) -> float:
        """Share of non-miRNA units counted for some miRNA (false positives)."""
        if not self.non_mirna_true:
            return float("nan")
        return self.non_mirna_counted_as_mirna / self.non_mirna_true

    @property
    def recovery(self) -> float:
        """All counted miRNA units over true miRNA units (losses and gains together)."""
        return self.mirna_counted_total / self.mirna_true if self.mirna_true else float("nan")

    def summary(self) -> str:
        """A few aligned lines for logs and issue notes."""
        return "\n".join(
            [
                f"unit: {self.unit}",
                f"spearman (miRNAs with >= {self.min_true} true {self.unit}, "
                f"n={self.mirnas_compared}): {self.spearman:.4f}",
                f"miRNA {self.unit} counted for the right miRNA: {self.right_fraction:.4f} "
                f"({self.mirna_counted_right:.1f} of {self.mirna_true:.0f})",
                f"non-miRNA {self.unit} counted as miRNA: {self.non_mirna_fraction:.4f} "
                f"({self.non_mirna_counted_as_mirna:.1f} of {self.non_mirna_true:.0f})",
                f"miRNA {self.unit} counted / true: {self.recovery:.4f}",
            ]
        )


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho with average ranks for ties (NaN for fewer than 2 points or no spread)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 2:
        return float("nan")
    rx = pd.Series(x).rank(method="average").to_numpy()
    ry = pd.Series(y).rank(method="average").to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def read_isomirs(path: str | os.PathLike) -> pd.DataFrame:
    """A per-sample ``isomirs.tsv`` with its counts as floats (fractional under multimapping)."""
    table = _read_tsv(path, "isomir table")
    missing = [c for c in ISOMIR_COLUMNS if c not in table.columns]
    if missing:
        raise ExomirError(f"{path}: isomir table lacks column(s) {', '.join(missing)}")
    table["count"] = _numbers(table["count"], path, "count")
    return table


def read_mature_counts(path: str | os.PathLike, sample: str | None = None) -> pd.Series:
    """One sample's column of a ``mature.tsv`` (or of a merged matrix), indexed by miRNA."""
    table = _read_tsv(path, "count table")
    if "mirna" not in table.columns or len(table.columns) < 2:
        raise ExomirError(f"{path}: count table needs a 'mirna' column and a sample column")
    if sample is None:
        if len(table.columns) != 2:
            raise ExomirError(f"{path}: several samples in the table; name the one to use")
        sample = table.columns[1]
    if sample not in table.columns:
        raise ExomirError(f"{path}: no column for sample '{sample}'")
    return pd.Series(_numbers(table[sample], path, sample).to_numpy(), index=table["mirna"])


def evaluate(
    truth: pd.DataFrame,
    isomirs: pd.DataFrame,
    mature_counts: pd.Series,
    unit: str = "reads",
    min_true: int = 20,
) -> AccuracyReport:
    """Compare one sample's pipeline outputs with its truth table (see the module doc)."""
    if unit not in UNITS:
        raise ExomirError(f"accuracy: unit must be one of {', '.join(UNITS)}, got '{unit}'")
    per_mirna = truth_per_mirna(truth)[unit]
    compared = per_mirna[per_mirna >= min_true]
    counted = mature_counts.reindex(compared.index, fill_value=0.0)
    rho = spearman(compared.to_numpy(), counted.to_numpy())

    true_per_insert = truth.groupby("insert")[unit].sum()
    counted_per_insert = isomirs.groupby("sequence")["count"].sum()
    by_mirna_insert = isomirs.groupby(["mirna", "sequence"])["count"].sum()

    mirna_rows = truth[truth["origin"] == "mirna"]
    right = by_mirna_insert.reindex(
        pd.MultiIndex.from_arrays([mirna_rows["label"], mirna_rows["insert"]]), fill_value=0.0
    ).to_numpy()
    share_right = _share(right, true_per_insert.reindex(mirna_rows["insert"]).to_numpy())
    counted_right = float((mirna_rows[unit].to_numpy() * share_right).sum())

    other_rows = truth[truth["origin"].isin(NON_MIRNA_ORIGINS)]
    as_mirna = counted_per_insert.reindex(other_rows["insert"], fill_value=0.0).to_numpy()
    share_any = _share(as_mirna, true_per_insert.reindex(other_rows["insert"]).to_numpy())
    counted_as_mirna = float((other_rows[unit].to_numpy() * share_any).sum())

    return AccuracyReport(
        unit=unit,
        min_true=min_true,
        mirnas_compared=len(compared),
        spearman=rho,
        mirna_true=float(mirna_rows[unit].sum()),
        mirna_counted_right=counted_right,
        non_mirna_true=float(other_rows[unit].sum()),
        non_mirna_counted_as_mirna=counted_as_mirna,
        mirna_counted_total=float(mature_counts.reindex(per_mirna.index, fill_value=0.0).sum()),
    )


def evaluate_files(
    truth_tsv: str | os.PathLike,
    isomirs_tsv: str | os.PathLike,
    mature_tsv: str | os.PathLike,
    unit: str = "reads",
    min_true: int = 20,
    sample: str | None = None,
) -> AccuracyReport:
    """:func:`evaluate` on the files the simulator and ``exomir count`` write."""
    return evaluate(
        read_truth(truth_tsv),
        read_isomirs(isomirs_tsv),
        read_mature_counts(mature_tsv, sample),
        unit=unit,
        min_true=min_true,
    )


def _share(counted: np.ndarray, true_total: np.ndarray) -> np.ndarray:
    """Counted over true units of an insert, capped at 1 (UMI dedup may split a molecule)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(true_total > 0, counted / true_total, 0.0)
    return np.minimum(share, 1.0)


def _read_tsv(path: str | os.PathLike, what: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ExomirError(f"{path}: cannot read {what}: {error}") from error


def _numbers(column: pd.Series, path, name: str) -> pd.Series:
    values = pd.to_numeric(column, errors="coerce")
    if values.isna().any():
        first = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise ExomirError(
            f"{path}: line {first + 2}, column {name}: not a number: '{column.iloc[first]}'"
        )
    return values.astype(float)
