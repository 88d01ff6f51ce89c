"""DE, watch-list, quality-gate and PCA results as MultiQC custom content.

MultiQC picks up ``*_mqc.tsv`` tables (configured by ``# key: value`` header comments)
and ``*_mqc.yaml`` sections. Images go in YAML as inline HTML rather than as bare
``*_mqc.png`` files, because only then can a contrast's volcano plot sit in the same
report section (``parent_id``) as its table of top hits.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import yaml

from exomir.atomic import atomic_open
from exomir.de import format_stat

TOP_HITS = 25


P_VALUE_COLUMNS = {"pvalue", "padj"}


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


def write_mqc_table(
    table: pd.DataFrame,
    path: str | os.PathLike,
    *,
    id: str,
    section_name: str,
    description: str,
    parent_id: str | None = None,
    parent_name: str | None = None,
) -> None:
    """A ``*_mqc.tsv`` table section; the first column is MultiQC's row key."""
    fields = {
        "id": id,
        "section_name": section_name,
        "description": description,
        "plot_type": "table",
        "parent_id": parent_id,
        "parent_name": parent_name,
        "pconfig": {"id": f"{id}_table", "title": section_name, "sort_rows": False},
        # MultiQC's default number format shows p-values like 1e-38 as 0.0
        "headers": {
            column: {"format": "{:.2e}", "scale": False}
            for column in table.columns
            if column in P_VALUE_COLUMNS
        }
        or None,
    }
    with atomic_open(path) as out:
        out.write(_header(fields))
        out.write("\t".join(map(str, table.columns)) + "\n")
        for row in table.itertuples(index=False):
            out.write("\t".join(_cell(v) for v in row) + "\n")


def write_mqc_images(
    images: Iterable[str | os.PathLike],
    path: str | os.PathLike,
    *,
    id: str,
    section_name: str,
    description: str,
    parent_id: str | None = None,
    parent_name: str | None = None,
) -> None:
    """A ``*_mqc.yaml`` section showing PNG files inline (embedded, so the report is one file)."""
    tags = []
    for image in images:
        encoded = base64.b64encode(Path(image).read_bytes()).decode("ascii")
        tags.append(f'<img src="data:image/png;base64,{encoded}" style="max-width:100%"/>')
    section = {
        "id": id,
        "section_name": section_name,
        "description": description,
        "plot_type": "html",
        "data": '<div class="mqc-custom-content-image">' + "".join(tags) + "</div>",
    }
    if parent_id:
        section["parent_id"] = parent_id
        section["parent_name"] = parent_name or parent_id
    with atomic_open(path) as out:
        yaml.safe_dump(section, out, sort_keys=False, width=10_000)


def contrast_sections(
    name: str, table: pd.DataFrame, volcano_png: str | os.PathLike, outdir: str | os.PathLike
) -> list[Path]:
    """One report section per contrast: table of top hits and the volcano plot."""
    outdir = Path(outdir)
    parent = section_id(f"de_{name}")
    top = table[table["padj"].notna()].head(TOP_HITS)
    columns = ["mirna", "baseMean", "log2FoldChange", "lfcSE", "pvalue", "padj"]
    paths = [outdir / f"de_{name}_mqc.tsv", outdir / f"de_{name}_volcano_mqc.yaml"]
    write_mqc_table(
        top[columns],
        paths[0],
        id=f"{parent}_top",
        section_name="Top miRNAs",
        description=f"The {TOP_HITS} miRNAs with the smallest adjusted p-value.",
        parent_id=parent,
        parent_name=f"DE: {name}",
    )
    write_mqc_images(
        [volcano_png],
        paths[1],
        id=f"{parent}_volcano",
        section_name="Volcano plot",
        description="log2 fold change against -log10 adjusted p-value.",
        parent_id=parent,
        parent_name=f"DE: {name}",
    )
    return paths


def watchlist_section(watchlist: pd.DataFrame, path: str | os.PathLike) -> None:
    rows = watchlist.copy()
    rows.insert(0, "row", rows["contrast"] + ": " + rows["query"] + " / " + rows["mirna"])
    write_mqc_table(
        rows,
        path,
        id=section_id("watchlist"),
        section_name="EV miRNA watch list",
        description="DE results of the watch-list miRNAs in every contrast.",
    )


def quality_section(quality: pd.DataFrame, path: str | os.PathLike) -> None:
    write_mqc_table(
        quality,
        path,
        id=section_id("ev_quality"),
        section_name="EV quality gate",
        description="Per-sample checks on miRNA reads and adapter dimers (PASS/FAIL).",
    )


def pca_section(images: Iterable[str | os.PathLike], path: str | os.PathLike) -> None:
    write_mqc_images(
        images,
        path,
        id=section_id("pca"),
        section_name="PCA of miRNA profiles",
        description="Samples on the first two principal components of VST counts.",
    )
