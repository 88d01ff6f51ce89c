"""DE, watch-list, quality-gate and PCA results as MultiQC custom content.

MultiQC picks up ``*_mqc.tsv`` tables (configured by ``# key: value`` header comments)
and ``*_mqc.json`` sections. Plots are MultiQC's own interactive types (scatter for
volcano, MA and PCA; heatmap for sample correlation), so a miRNA or sample is named on
hover instead of by overlapping labels; a contrast's table, plots and watch list share
one report section (``parent_id``).

Every displayed number has an explicit format: MultiQC's default shows floats with one
decimal (alpha 0.05 as 0.1) and draws data bars behind every number.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from exomir.atomic import atomic_open
from exomir.config import schema_default
from exomir.de import format_stat

TOP_HITS = 25
# Correlation heatmaps name every sample on both axes; beyond this many samples the cells
# are sub-pixel and the report grows by n^2 values, so samples are averaged per group.
MAX_HEATMAP_SAMPLES = 200
_UP, _DOWN, _NS = "#c0392b", "#2471a3", "#b3b3b3"
_GROUP_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

# Column formats: numbers never take MultiQC's one-decimal default, and no data bars.
FORMATS: dict[str, dict] = {
    "baseMean": {"title": "baseMean", "format": "{:,.1f}", "description": "mean normalised count"},
    "log2FoldChange": {
        "title": "log2FC",
        "format": "{:+.3f}",
        "description": "log2 fold change, level vs reference (positive: higher in level)",
    },
    "log2FoldChange_shrunk": {
        "title": "log2FC (shrunk)",
        "format": "{:+.3f}",
        "description": "apeGLM-shrunk log2 fold change",
    },
    "lfcSE": {"title": "lfcSE", "format": "{:.3f}", "description": "standard error of log2FC"},
    "stat": {"title": "Wald stat", "format": "{:+.3f}"},
    "pvalue": {"title": "p-value", "format": "{:.2e}", "description": "Wald test p-value"},
    "padj": {"title": "padj", "format": "{:.2e}", "description": "Benjamini-Hochberg adjusted"},
    "alpha": {"title": "alpha", "format": "{:g}", "description": "FDR threshold for up/down"},
    "n_samples": {"title": "Samples", "format": "{:,.0f}"},
    "n_tested": {"title": "miRNAs tested", "format": "{:,.0f}"},
    "n_up": {"title": "Up", "format": "{:,.0f}"},
    "n_down": {"title": "Down", "format": "{:,.0f}"},
}


def section_id(text: str) -> str:
    """A MultiQC-safe id: letters, digits and underscores only."""
    return "exomir_" + re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_").lower()


def _header(fields: dict) -> str:
    lines = []
    for key, value in fields.items():
        if value is not None:
            # JSON is YAML on one line, which the "# key: value" header format needs
            lines.append(f"# {key}: {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    """Whole numbers (read counts, thresholds) in full; other numbers as DE statistics."""
    if isinstance(value, int | float) and float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format_stat(value)


def column_headers(columns, extra: Mapping[str, dict] | None = None) -> dict[str, dict]:
    """MultiQC headers: every column without data bars, numbers with an explicit format."""
    headers = {}
    for column in columns:
        header = {"scale": False, **FORMATS.get(column, {}), **((extra or {}).get(column, {}))}
        headers[column] = header
    return headers


def write_mqc_table(
    table: pd.DataFrame,
    path: str | os.PathLike,
    *,
    id: str,
    section_name: str,
    description: str,
    parent_id: str | None = None,
    parent_name: str | None = None,
    headers: Mapping[str, dict] | None = None,
    col1_header: str | None = None,
) -> None:
    """A ``*_mqc.tsv`` table section; the first column is MultiQC's row key."""
    pconfig = {"id": f"{id}_table", "title": section_name, "sort_rows": False, "no_violin": True}
    if col1_header:
        pconfig["col1_header"] = col1_header
    fields = {
        "id": id,
        "section_name": section_name,
        "description": description,
        "plot_type": "table",
        "parent_id": parent_id,
        "parent_name": parent_name,
        "pconfig": pconfig,
        "headers": column_headers(list(table.columns[1:]), headers),
    }
    with atomic_open(path) as out:
        out.write(_header(fields))
        out.write("\t".join(map(str, table.columns)) + "\n")
        for row in table.itertuples(index=False):
            out.write("\t".join(_cell(v) for v in row) + "\n")


def write_mqc_json(section: dict, path: str | os.PathLike) -> None:
    with atomic_open(path) as out:
        json.dump(section, out, separators=(",", ":"), allow_nan=False)


def direction(lfc: float, padj: float, alpha: float, level: str) -> str:
    """Readable direction: 'up in <level>' / 'down in <level>' when significant."""
    if not np.isfinite(lfc) or not np.isfinite(padj) or padj >= alpha:
        return "n.s."
    return f"up in {level}" if lfc > 0 else f"down in {level}"


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


def _significance_group(lfc: float, padj: float, alpha: float, level: str) -> tuple[str, str]:
    which = direction(lfc, padj, alpha, level)
    if which.startswith("up"):
        return f"{which} (padj < {alpha:g})", _UP
    if which.startswith("down"):
        return f"{which} (padj < {alpha:g})", _DOWN
    return "not significant", _NS


def volcano_section(
    name: str, table: pd.DataFrame, alpha: float, level: str, reference: str, parent: str
) -> dict:
    """log2FC against -log10 padj for every tested miRNA; names on hover."""
    smallest = np.finfo(float).tiny
    points = {}
    for row in table[table["padj"].notna()].itertuples(index=False):
        lfc, padj = float(row.log2FoldChange), float(row.padj)
        if not math.isfinite(lfc):
            continue
        group, colour = _significance_group(lfc, padj, alpha, level)
        points[str(row.mirna)] = {
            "x": round(lfc, 4),
            "y": round(-math.log10(max(padj, smallest)), 4),
            "color": colour,
            "group": group,
        }
    return {
        "id": f"{parent}_volcano",
        "section_name": "Volcano plot",
        "parent_id": parent,
        "parent_name": f"DE: {name}",
        "description": (
            f"Each tested miRNA: log2 fold change of {level} vs {reference} (positive: higher "
            f"in {level}) against -log10 adjusted p-value. Red: up in {level}, blue: down in "
            f"{level} (padj < {alpha:g}); grey: not significant. Hover for the miRNA."
        ),
        "plot_type": "scatter",
        "pconfig": {
            "id": f"{parent}_volcano_plot",
            "title": f"{name}: volcano",
            "xlab": f"log2 fold change ({level} vs {reference})",
            "ylab": "-log10 adjusted p-value",
            "marker_size": 5,
            "showlegend": True,
            "groups": [
                f"up in {level} (padj < {alpha:g})",
                f"down in {level} (padj < {alpha:g})",
                "not significant",
            ],
        },
        "data": points,
    }


def ma_section(
    name: str, table: pd.DataFrame, alpha: float, level: str, reference: str, parent: str
) -> dict:
    """log2FC against mean normalised count (log axis), every miRNA with counts."""
    points = {}
    for row in table[table["baseMean"] > 0].itertuples(index=False):
        lfc = _finite(row.log2FoldChange)
        if lfc is None:
            continue
        padj = float(row.padj) if pd.notna(row.padj) else math.nan
        group, colour = _significance_group(lfc, padj, alpha, level)
        points[str(row.mirna)] = {
            "x": round(float(row.baseMean), 3),
            "y": round(lfc, 4),
            "color": colour,
            "group": group,
        }
    return {
        "id": f"{parent}_ma",
        "section_name": "MA plot",
        "parent_id": parent,
        "parent_name": f"DE: {name}",
        "description": (
            f"log2 fold change of {level} vs {reference} against mean normalised count: "
            "low-count miRNAs scatter widely, which is why independent filtering drops "
            f"them. Red: up, blue: down (padj < {alpha:g}); grey: not significant or not "
            "tested. Hover for the miRNA."
        ),
        "plot_type": "scatter",
        "pconfig": {
            "id": f"{parent}_ma_plot",
            "title": f"{name}: MA plot",
            "xlab": "mean of normalised counts (baseMean)",
            "ylab": f"log2 fold change ({level} vs {reference})",
            "xlog": True,
            "marker_size": 5,
            "showlegend": True,
        },
        "data": points,
    }


def heatmap_section(
    name: str, vst: pd.DataFrame, mirnas: list[str], groups: pd.Series, parent: str
) -> dict:
    """Z-scored VST of the top miRNAs (rows) in samples ordered by group (columns); beyond
    MAX_HEATMAP_SAMPLES samples, the mean z-score of each group."""
    from exomir.plots import zscore_rows  # matplotlib: only for the commands that plot

    order = sorted(vst.columns, key=lambda s: (str(groups.get(s, "")), s))
    scores = zscore_rows(vst.loc[mirnas, order]) if mirnas else pd.DataFrame()
    if len(order) <= MAX_HEATMAP_SAMPLES or scores.empty:
        columns = [f"{s} ({groups.get(s, '')})" for s in order]
        values = scores.round(3).to_numpy().tolist() if not scores.empty else []
        what = "samples (group in brackets)"
    else:
        labels = pd.Series([str(groups.get(s, "")) for s in order], index=order)
        means = scores.T.groupby(labels).mean().T
        sizes = labels.value_counts()
        columns = [f"{g} ({sizes[g]})" for g in means.columns]
        values = means.round(3).to_numpy().tolist()
        what = f"groups (mean z-score over their samples; {len(order):,} samples)"
    return {
        "id": f"{parent}_heatmap",
        "section_name": "Heatmap of top miRNAs",
        "parent_id": parent,
        "parent_name": f"DE: {name}",
        "description": (
            f"VST counts of the {len(mirnas)} smallest-padj miRNAs, centred and scaled per "
            f"miRNA (z-score), in {what}."
        ),
        "plot_type": "heatmap",
        "pconfig": {
            "id": f"{parent}_heatmap_plot",
            "title": f"{name}: top {len(mirnas)} miRNAs",
            "xlab": "sample",
            "ylab": "miRNA",
            "zlab": "z-score of VST",
            "tt_decimals": 2,
            "square": False,
            "cluster_rows": False,
            "cluster_cols": False,
            "xcats_samples": True,
            "ycats_samples": False,
        },
        "xcats": columns,
        "ycats": list(mirnas) if values else [],
        "data": values,
    }


def top_hits_table(table: pd.DataFrame, alpha: float, level: str) -> pd.DataFrame:
    """The TOP_HITS smallest-padj miRNAs with effect sizes and a readable direction."""
    top = table[table["padj"].notna()].head(TOP_HITS).copy()
    top.insert(
        1,
        "direction",
        [
            direction(float(lfc), float(p), alpha, level)
            for lfc, p in zip(top["log2FoldChange"], top["padj"], strict=True)
        ],
    )
    columns = ["mirna", "direction", "log2FoldChange", "lfcSE", "baseMean", "pvalue", "padj"]
    if "log2FoldChange_shrunk" in top.columns:
        columns.insert(3, "log2FoldChange_shrunk")
    return top[columns]


def contrast_sections(
    name: str,
    table: pd.DataFrame,
    outdir: str | os.PathLike,
    *,
    alpha: float,
    level: str,
    reference: str,
    vst: pd.DataFrame | None = None,
    groups: pd.Series | None = None,
) -> list[Path]:
    """One report section per contrast: top hits with effect sizes, volcano and MA plots,
    and (given VST counts and the compared groups) the heatmap of the top miRNAs."""
    outdir = Path(outdir)
    parent = section_id(f"de_{name}")
    paths = [
        outdir / f"de_{name}_mqc.tsv",
        outdir / f"de_{name}_volcano_mqc.json",
        outdir / f"de_{name}_ma_mqc.json",
    ]
    write_mqc_table(
        top_hits_table(table, alpha, level),
        paths[0],
        id=f"{parent}_top",
        section_name="Top miRNAs",
        description=(
            f"The {TOP_HITS} miRNAs with the smallest adjusted p-value. log2FC is {level} vs "
            f"{reference}: positive means higher in {level}; direction is given at padj < "
            f"{alpha:g}."
        ),
        parent_id=parent,
        parent_name=f"DE: {name}",
        col1_header="miRNA",
    )
    write_mqc_json(volcano_section(name, table, alpha, level, reference, parent), paths[1])
    write_mqc_json(ma_section(name, table, alpha, level, reference, parent), paths[2])
    if vst is not None and groups is not None:
        from exomir.plots import top_mirnas

        paths.append(outdir / f"de_{name}_heatmap_mqc.json")
        heatmap = heatmap_section(name, vst, top_mirnas(table), groups, parent)
        write_mqc_json(heatmap, paths[3])
    return paths


def watchlist_section(
    watchlist: pd.DataFrame, contrast: str, summary: Mapping, path: str | os.PathLike
) -> None:
    """The watch list of one contrast, in that contrast's report section, one row a miRNA."""
    rows = watchlist[watchlist["contrast"] == contrast].drop(columns=["contrast"])
    level, reference = summary.get("level", "level"), summary.get("reference", "reference")
    alpha = float(summary.get("alpha", schema_default("alpha")))
    names = []
    for mirna, query in zip(rows["mirna"], rows["query"], strict=True):
        # a query matching nothing has no miRNA: the query names the row
        names.append(query if mirna == "NA" else mirna)
    display = pd.DataFrame(
        {
            "mirna": names,
            "query": rows["query"].to_numpy(),
            "direction": [
                direction(float(lfc), float(p), alpha, level)
                for lfc, p in zip(rows["log2FoldChange"], rows["padj"], strict=True)
            ],
            "log2FoldChange": rows["log2FoldChange"].to_numpy(),
            "lfcSE": rows["lfcSE"].to_numpy() if "lfcSE" in rows else np.nan,
            "baseMean": rows["baseMean"].to_numpy(),
            "padj": rows["padj"].to_numpy(),
            "status": rows["status"].to_numpy(),
        }
    )
    display = display.drop_duplicates(subset="mirna", keep="first")
    parent = section_id(f"de_{contrast}")
    write_mqc_table(
        display,
        path,
        id=f"{parent}_watchlist",
        section_name="EV miRNA watch list",
        description=(
            f"The configured watch-list miRNAs in this contrast ({level} vs {reference}). "
            "status says why a value is NA: not in the reference, not detected (zero "
            "counts), filtered by independent filtering (padj NA, low mean count) or a "
            "Cook's distance outlier (p-value NA)."
        ),
        parent_id=parent,
        parent_name=f"DE: {contrast}",
        col1_header="miRNA",
        headers={"status": {"title": "Status"}, "query": {"title": "Watch-list entry"}},
    )


def summary_section(summary: pd.DataFrame, path: str | os.PathLike) -> None:
    write_mqc_table(
        summary,
        path,
        id=section_id("de_summary"),
        section_name="Differential expression summary",
        description=(
            "miRNAs up and down at padj < alpha in each contrast, with the alpha and the "
            "normalisation each contrast used (results/de/summary.tsv)."
        ),
        col1_header="Contrast",
        headers={"normalization": {"title": "Normalisation"}, "design": {"title": "Design"}},
    )


def quality_display(quality: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, dict]]:
    """The gate as a reader needs it: one value column per check with its threshold in the
    header, a coloured PASS/FAIL, and no constant threshold columns (fits 1,280 px)."""
    first = quality.iloc[0] if len(quality) else None

    def threshold(column: str, fmt: str) -> str:
        if first is None or column not in quality:
            return ""
        return fmt.format(float(first[column]))

    display = pd.DataFrame({"sample": quality["sample"]})
    display["mirna_reads"] = quality["mirna_reads"]
    display["mirna_pct"] = 100 * quality["mirna_fraction"]
    display["dimer_pct"] = 100 * quality["adapter_dimer_fraction"]
    headers = {
        "mirna_reads": {
            "title": f"miRNA reads (min {threshold('mirna_reads_min', '{:,.0f}')})",
            "format": "{:,.0f}",
            "description": "reads on mature miRNAs",
        },
        "mirna_pct": {
            "title": f"% miRNA (min {threshold('mirna_fraction_min', '{:.0%}')})",
            "format": "{:.2f}",
            "suffix": "%",
            "description": "mature miRNA reads as % of input reads",
        },
        "dimer_pct": {
            "title": f"% dimer (max {threshold('adapter_dimer_fraction_max', '{:.0%}')})",
            "format": "{:.2f}",
            "suffix": "%",
            "description": "adapter dimers as % of input reads",
        },
    }
    if "annotated_fraction" in quality:
        display["annotated_pct"] = 100 * quality["annotated_fraction"]
        headers["annotated_pct"] = {
            "title": f"% annotated (min {threshold('annotated_fraction_min', '{:.0%}')})",
            "format": "{:.2f}",
            "suffix": "%",
            "description": "miRNA, hairpin and small-RNA reads as % of the reads that reached "
            "alignment (spike-ins left out)",
        }
    if "likely_reason" in quality:
        display["likely_reason"] = quality["likely_reason"]
        headers["likely_reason"] = {"title": "Likely reason"}
    display["overall"] = quality["overall"]
    display["failed_checks"] = quality["failed_checks"].str.replace(";", ", ")
    headers["overall"] = {
        "title": "Gate",
        "bgcols": {"PASS": "#dff0d8", "FAIL": "#f2dede"},
    }
    headers["failed_checks"] = {"title": "Failed"}
    return display, headers


CONTRAST_SECTION_ORDER = ("top", "volcano", "ma", "heatmap", "watchlist")


def contrast_section_order(contrasts: list[str]) -> dict:
    """MultiQC ``report_section_order`` for the sections inside each contrast (MultiQC would
    sort them by name: watch list, MA, top hits, volcano). Inside a module MultiQC puts
    lower orders first (between modules, higher first)."""
    order = {}
    for name in contrasts:
        parent = section_id(f"de_{name}")
        for rank, part in enumerate(CONTRAST_SECTION_ORDER):
            order[f"{parent}_{part}"] = {"order": 10 * (rank + 1)}
    return {"report_section_order": order}


def quality_section(quality: pd.DataFrame, path: str | os.PathLike, sources: str = "") -> None:
    display, headers = quality_display(quality)
    write_mqc_table(
        display,
        path,
        id=section_id("ev_quality"),
        section_name="EV quality gate",
        description=(
            "Per-sample checks on the read fates; the thresholds are in the column headers "
            "and results/qc/ev_quality.tsv. " + sources
        ),
        headers=headers,
        col1_header="Sample",
    )


def group_colours(groups: pd.Series) -> dict[str, str]:
    levels = sorted({str(v) for v in groups})
    return {level: _GROUP_COLOURS[i % len(_GROUP_COLOURS)] for i, level in enumerate(levels)}


def pca_section(
    coordinates: pd.DataFrame, explained: np.ndarray, colour_by: Mapping[str, pd.Series]
) -> dict:
    """PC1/PC2 of VST counts, one tab per sheet column to colour by; samples on hover."""
    datasets, labels = [], []
    for column, groups in colour_by.items():
        colours = group_colours(groups.reindex(coordinates.index).fillna("NA"))
        points = {}
        for sample, row in coordinates.iterrows():
            level = str(groups.get(sample, "NA"))
            points[str(sample)] = {
                "x": round(float(row["PC1"]), 4),
                "y": round(float(row["PC2"]), 4),
                "color": colours.get(level, "#000000"),
                "group": f"{column}: {level}",
            }
        datasets.append(points)
        labels.append({"name": f"by {column}"})
    return {
        "id": section_id("pca"),
        "section_name": "PCA of miRNA profiles",
        "description": (
            "Samples on the first two principal components of VST counts of the 500 most "
            "variable miRNAs (as DESeq2's plotPCA), coloured by a sample-sheet column (tabs). "
            "Hover for the sample."
        ),
        "plot_type": "scatter",
        "pconfig": {
            "id": "exomir_pca_plot",
            "title": "PCA of VST counts",
            "xlab": f"PC1 ({explained[0]:.0%} of variance)",
            "ylab": f"PC2 ({explained[1]:.0%} of variance)",
            # the "%" in the labels would make MultiQC suffix every tick with "%"
            "xsuffix": "",
            "ysuffix": "",
            "data_labels": labels if len(labels) > 1 else [],
            "marker_size": 8,
            "showlegend": True,
        },
        "data": datasets if len(datasets) > 1 else (datasets[0] if datasets else {}),
    }


def correlation_section(vst: pd.DataFrame, groups: pd.Series | None, colour_by: str) -> dict:
    """Pearson correlation of VST profiles between samples (ordered by group); beyond
    MAX_HEATMAP_SAMPLES samples, the mean correlation between and within groups."""
    order = sorted(
        vst.columns, key=lambda s: (str(groups.get(s, "")) if groups is not None else "", s)
    )
    correlation = np.corrcoef(vst[order].to_numpy(dtype=float).T) if len(order) > 1 else None
    if correlation is None:
        names, values = list(order), [[1.0]] if order else []
        what = "samples"
    elif len(order) <= MAX_HEATMAP_SAMPLES or groups is None:
        names, values = list(order), np.round(correlation, 4).tolist()
        what = "samples"
    else:
        labels = [str(groups.get(s, "")) for s in order]
        levels = sorted(set(labels))
        members = {lv: [i for i, g in enumerate(labels) if g == lv] for lv in levels}
        values = [
            [round(float(correlation[np.ix_(members[a], members[b])].mean()), 4) for b in levels]
            for a in levels
        ]
        names = [f"{lv} ({len(members[lv])})" for lv in levels]
        what = f"{colour_by} groups (mean over their samples; {len(order):,} samples)"
    return {
        "id": section_id("sample_correlation"),
        "section_name": "Sample correlation",
        "description": (
            f"Pearson correlation of VST miRNA profiles between {what}"
            + (f", ordered by {colour_by}" if groups is not None else "")
            + ". Replicates should correlate more with each other than with other groups; "
            "a sample low against all others is an outlier."
        ),
        "plot_type": "heatmap",
        "pconfig": {
            "id": "exomir_sample_correlation_plot",
            "title": "Sample-to-sample correlation (VST)",
            "xlab": "sample",
            "ylab": "sample",
            "zlab": "Pearson r",
            "tt_decimals": 3,
            "cluster_rows": False,
            "cluster_cols": False,
        },
        "xcats": names,
        "ycats": names,
        "data": values,
    }
