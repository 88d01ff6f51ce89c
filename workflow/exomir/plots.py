"""DE figures: volcano, MA, heatmap of top hits, PCA, most abundant miRNAs.

Rendered with matplotlib's Agg backend (no display on cluster nodes) and written as PNG
and SVG with fixed SVG ids and no dates, so a rerun gives byte-identical files.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from exomir.atomic import atomic_path  # noqa: E402

HEATMAP_TOP = 30
PCA_TOP_VARIABLE = 500
ABUNDANCE_TOP = 20
# Beyond this many samples, per-sample labels overlap into a blot and cost seconds of
# layout each (a 1,000-sample heatmap was 23,000 px wide): the PCA leaves points
# unnamed and the heatmap names groups instead of samples.
MAX_LABELLED_SAMPLES = 60
_UP, _DOWN, _NS = "#c0392b", "#2471a3", "#b3b3b3"
_PALETTE = plt.get_cmap("tab10").colors

plt.rcParams.update({"svg.hashsalt": "exomir", "svg.fonttype": "none", "figure.dpi": 100})


def save_figure(figure: Figure, stem: str | os.PathLike) -> list[Path]:
    """Write ``stem.png`` and ``stem.svg`` atomically; returns the two paths."""
    written = []
    for suffix, metadata in ((".png", {"Software": None}), (".svg", {"Date": None})):
        target = Path(f"{os.fspath(stem)}{suffix}")
        with atomic_path(target) as tmp:
            figure.savefig(tmp, format=suffix[1:], metadata=metadata, bbox_inches="tight")
        written.append(target)
    plt.close(figure)
    return written


def _significance_colours(table: pd.DataFrame, alpha: float) -> list[str]:
    significant = table["padj"].fillna(1).to_numpy() < alpha
    lfc = table["log2FoldChange"].to_numpy()
    return [
        (_UP if fc > 0 else _DOWN) if sig else _NS for sig, fc in zip(significant, lfc, strict=True)
    ]


def _label_top(axes, table: pd.DataFrame, x: np.ndarray, y: np.ndarray, n: int = 10) -> None:
    ranked = table["padj"].fillna(np.inf).to_numpy().argsort(kind="mergesort")[:n]
    for i in ranked:
        if np.isfinite(x[i]) and np.isfinite(y[i]) and np.isfinite(table["padj"].iloc[i]):
            axes.annotate(str(table["mirna"].iloc[i]), (x[i], y[i]), fontsize=6)


def volcano_plot(table: pd.DataFrame, alpha: float, title: str) -> Figure:
    """log2 fold change against -log10 padj; the ten best hits labelled."""
    shown = table[table["padj"].notna()].reset_index(drop=True)
    x = shown["log2FoldChange"].to_numpy(dtype=float)
    smallest = np.finfo(float).tiny
    y = -np.log10(np.maximum(shown["padj"].to_numpy(dtype=float), smallest))
    figure, axes = plt.subplots(figsize=(6, 5))
    axes.scatter(x, y, s=8, c=_significance_colours(shown, alpha), linewidths=0)
    axes.axhline(-np.log10(alpha), color="black", linewidth=0.5, linestyle="--")
    axes.axvline(0, color="black", linewidth=0.5)
    _label_top(axes, shown, x, y)
    axes.set_xlabel("log2 fold change")
    axes.set_ylabel("-log10 adjusted p-value")
    up = int(((shown["padj"] < alpha) & (shown["log2FoldChange"] > 0)).sum())
    down = int(((shown["padj"] < alpha) & (shown["log2FoldChange"] < 0)).sum())
    axes.set_title(f"{title}\n{up} up, {down} down at padj < {alpha:g}", fontsize=10)
    return figure


def ma_plot(table: pd.DataFrame, alpha: float, title: str) -> Figure:
    """log2 fold change against mean normalised count (log scale)."""
    shown = table[table["baseMean"] > 0].reset_index(drop=True)
    x = shown["baseMean"].to_numpy(dtype=float)
    y = shown["log2FoldChange"].to_numpy(dtype=float)
    figure, axes = plt.subplots(figsize=(6, 5))
    axes.scatter(x, y, s=8, c=_significance_colours(shown, alpha), linewidths=0)
    axes.axhline(0, color="black", linewidth=0.5)
    axes.set_xscale("log")
    axes.set_xlabel("mean of normalised counts")
    axes.set_ylabel("log2 fold change")
    axes.set_title(f"{title} (MA)", fontsize=10)
    return figure


def top_mirnas(table: pd.DataFrame, n: int = HEATMAP_TOP) -> list[str]:
    """The n smallest-padj miRNAs (the table is sorted by padj already)."""
    return list(table.loc[table["padj"].notna(), "mirna"].head(n))


def zscore_rows(values: pd.DataFrame) -> pd.DataFrame:
    """Each row centred and scaled (constant rows become 0), as heatmaps of expression show."""
    centred = values.sub(values.mean(axis=1), axis=0)
    spread = values.std(axis=1, ddof=1).replace(0, np.nan)
    return centred.div(spread, axis=0).fillna(0.0)


def heatmap_plot(vst: pd.DataFrame, mirnas: list[str], groups: pd.Series, title: str) -> Figure:
    """Z-scored VST values of ``mirnas`` (rows) in samples ordered by group (columns)."""
    order = sorted(vst.columns, key=lambda s: (str(groups.get(s, "")), s))
    data = zscore_rows(vst.loc[mirnas, order]) if mirnas else pd.DataFrame()
    height = max(3.0, 0.22 * len(mirnas) + 1.5)
    few = len(order) <= MAX_LABELLED_SAMPLES
    width = max(4.0, 0.35 * len(order) + 3) if few else 0.35 * MAX_LABELLED_SAMPLES + 3
    figure, axes = plt.subplots(figsize=(width, height))
    if data.empty:
        axes.text(0.5, 0.5, "no miRNA tested", ha="center", va="center")
        axes.set_axis_off()
    else:
        limit = max(1.0, float(np.nanmax(np.abs(data.to_numpy()))))
        image = axes.imshow(data.to_numpy(), aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes.set_yticks(range(len(mirnas)), mirnas, fontsize=6)
        if few:
            labels = [f"{s} ({groups.get(s, '')})" for s in order]
            axes.set_xticks(range(len(order)), labels, rotation=90, fontsize=6)
        else:
            _label_groups(axes, [str(groups.get(s, "")) for s in order])
        figure.colorbar(image, ax=axes, label="z-score of VST")
    axes.set_title(f"{title}: top {len(mirnas)} miRNAs", fontsize=10)
    return figure


def _label_groups(axes, column_groups: list[str]) -> None:
    """One x label per run of equal groups, at its centre, with lines between runs."""
    starts = [0] + [
        i for i in range(1, len(column_groups)) if column_groups[i] != column_groups[i - 1]
    ]
    ends = starts[1:] + [len(column_groups)]
    centres = [(start + end - 1) / 2 for start, end in zip(starts, ends, strict=True)]
    labels = [
        f"{column_groups[start]} ({end - start})" for start, end in zip(starts, ends, strict=True)
    ]
    axes.set_xticks(centres, labels, fontsize=7)
    for start in starts[1:]:
        axes.axvline(start - 0.5, color="black", linewidth=0.8)
    axes.set_xlabel("samples, by group (number of samples)")


def pca_coordinates(
    vst: pd.DataFrame, ntop: int = PCA_TOP_VARIABLE
) -> tuple[pd.DataFrame, np.ndarray]:
    """PC1/PC2 of the ``ntop`` most variable miRNAs (as DESeq2's plotPCA) and the variance
    fractions; each axis's sign is fixed so its largest loading is positive (reruns agree).
    """
    variances = vst.var(axis=1, ddof=1).to_numpy()
    order = np.lexsort((np.arange(len(variances)), -variances))[:ntop]
    data = vst.iloc[order].to_numpy(dtype=float).T
    data = data - data.mean(axis=0)
    _, singular, components = np.linalg.svd(data, full_matrices=False)
    for k in range(components.shape[0]):
        if components[k, np.argmax(np.abs(components[k]))] < 0:
            components[k] *= -1
    scores = data @ components[:2].T
    if scores.shape[1] < 2:
        scores = np.column_stack([scores, np.zeros(len(scores))])
    total = float((singular**2).sum()) or 1.0
    explained = np.pad(singular[:2] ** 2 / total, (0, max(0, 2 - len(singular))))
    return pd.DataFrame(scores[:, :2], index=vst.columns, columns=["PC1", "PC2"]), explained


def pca_plot(vst: pd.DataFrame, groups: pd.Series, colour_by: str) -> Figure:
    """Samples on PC1/PC2 of VST counts, coloured by a sample-sheet column."""
    coordinates, explained = pca_coordinates(vst)
    figure, axes = plt.subplots(figsize=(6, 5))
    levels = sorted({str(groups.get(s, "NA")) for s in coordinates.index})
    for i, level in enumerate(levels):
        members = [s for s in coordinates.index if str(groups.get(s, "NA")) == level]
        points = coordinates.loc[members]
        axes.scatter(points["PC1"], points["PC2"], color=_PALETTE[i % len(_PALETTE)], label=level)
        if len(coordinates) <= MAX_LABELLED_SAMPLES:
            for sample, row in points.iterrows():
                axes.annotate(str(sample), (row["PC1"], row["PC2"]), fontsize=6)
    axes.set_xlabel(f"PC1 ({explained[0]:.0%} of variance)")
    axes.set_ylabel(f"PC2 ({explained[1]:.0%} of variance)")
    # "best" tests every point against every legend position: slow with thousands
    where = "best" if len(coordinates) <= MAX_LABELLED_SAMPLES else "upper right"
    axes.legend(title=colour_by, fontsize=7, loc=where)
    axes.set_title(f"PCA of VST counts by {colour_by}", fontsize=10)
    return figure


def abundance_plot(normalized: pd.DataFrame, top: int = ABUNDANCE_TOP) -> Figure:
    """The ``top`` miRNAs by mean normalised count, as their share of all miRNA reads."""
    means = normalized.mean(axis=1, skipna=True).fillna(0)
    total = float(means.sum()) or 1.0
    ranked = means.sort_index().sort_values(ascending=False, kind="mergesort").head(top)
    figure, axes = plt.subplots(figsize=(6, max(3.0, 0.25 * len(ranked) + 1)))
    axes.barh(range(len(ranked)), 100 * ranked.to_numpy() / total, color="#5d6d7e")
    axes.set_yticks(range(len(ranked)), list(ranked.index), fontsize=7)
    axes.invert_yaxis()
    axes.set_xlabel("% of normalised miRNA reads (mean over samples)")
    axes.set_title(f"Top {len(ranked)} miRNAs by abundance", fontsize=10)
    return figure
