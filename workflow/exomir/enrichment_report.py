"""Enrichment dot plots and literature concordance as MultiQC custom content.

Kept apart from the main report code: each contrast gets its own ``*_mqc.yaml`` (a
scatter "dot plot" of its terms) and ``*_mqc.tsv`` (its literature findings, with the
k-of-n summary and sign test in the section description), which MultiQC picks up from
``results/enrichment/multiqc`` and ``results/literature/multiqc``.
"""

from __future__ import annotations

import json
import math
import os

import pandas as pd
import yaml

from exomir.atomic import atomic_open
from exomir.de import format_stat
from exomir.de_multiqc import section_id

DOT_PLOT_TERMS = 40
DIRECTION_COLOURS = {"up": "rgba(214, 39, 40, 0.8)", "down": "rgba(31, 119, 180, 0.8)"}
SOURCE_NAMES = {"reactome": "Reactome", "go_bp": "GO BP"}


def _not_tested_text(summary: dict) -> str:
    if "skipped" in summary:
        return f"Enrichment skipped: {summary['skipped']}."
    notes = [
        f"{direction}: {entry['status']}"
        for direction, entry in summary.get("directions", {}).items()
        if entry.get("status") != "tested"
    ]
    return "; ".join(notes)


def enrichment_section(
    contrast: str, table: pd.DataFrame, summary: dict, path: str | os.PathLike
) -> None:
    """A scatter of the contrast's top terms: fold enrichment against -log10 padj.

    Fold enrichment is hits over the hits expected from random miRNA lists of the same
    size; red terms come from the up miRNAs, blue ones from the down miRNAs.
    """
    section = {
        "id": section_id(f"enrichment_{contrast}"),
        "section_name": f"Pathways: {contrast}",
        "parent_id": section_id("enrichment"),
        "parent_name": "Pathway enrichment of DE miRNA targets",
    }
    note = _not_tested_text(summary)
    top = table.head(DOT_PLOT_TERMS)
    if top.empty:
        section["plot_type"] = "html"
        section["description"] = "No term to show."
        section["data"] = f"<p>{note or 'No term had a target gene among the hits.'}</p>"
    else:
        data = {}
        for row in top.itertuples(index=False):
            label = f"{row.direction}: {SOURCE_NAMES.get(row.source, row.source)}: {row.term}"
            fold = row.n_hits / row.expected if row.expected > 0 else row.n_hits
            data[label] = {
                "x": round(float(fold), 4),
                "y": round(abs(math.log10(max(float(row.padj), 1e-300))), 4),
                "color": DIRECTION_COLOURS.get(row.direction, "grey"),
            }
        section["plot_type"] = "scatter"
        section["description"] = (
            f"The {len(top)} terms with the smallest padj (results/enrichment/{contrast}.tsv): "
            "target genes of the up (red) or down (blue) miRNAs over the hits expected from "
            "random lists of expressed miRNAs, against -log10 padj. "
            + (f"Not tested: {note}." if note else "")
        )
        section["pconfig"] = {
            "id": f"{section['id']}_plot",
            "title": f"Pathway enrichment: {contrast}",
            "xlab": "fold enrichment (hits / expected)",
            "ylab": "-log10 padj",
        }
        section["data"] = data
    with atomic_open(path) as out:
        yaml.safe_dump(section, out, sort_keys=False, width=10_000)


def literature_section(
    contrast: str, table: pd.DataFrame, sentence: str, path: str | os.PathLike
) -> None:
    """The contrast's findings as a table; the summary sentence is its description.

    Every column gets a header entry: MultiQC custom content shows only the columns named
    in ``headers`` once any is.
    """
    rows = table[["published", "mirna", "expected", "log2FoldChange", "padj", "agrees"]].copy()
    keys = rows["published"] + " / " + rows["mirna"]
    duplicated = keys.duplicated(keep=False)
    keys[duplicated] = keys[duplicated] + " (" + rows["expected"][duplicated] + ")"
    rows.insert(0, "finding", keys)
    rows = rows.drop(columns=["published"])
    id_ = section_id(f"literature_{contrast}")
    fields = {
        "id": id_,
        "section_name": f"Published findings: {contrast}",
        "description": sentence,
        "plot_type": "table",
        "parent_id": section_id("literature"),
        "parent_name": "Literature concordance",
        "pconfig": {"id": f"{id_}_table", "title": f"Published findings: {contrast}"},
        "headers": {
            "mirna": {"title": "miRNA", "description": "the matched miRNA whose statistics follow"},
            "expected": {"title": "published", "description": "published direction"},
            "log2FoldChange": {"title": "log2FC", "format": "{:.2f}", "scale": "RdBu"},
            "padj": {"title": "padj", "format": "{:.2e}", "scale": False},
            "agrees": {"title": "agrees", "description": "yes / no / not detected / not tested"},
        },
    }
    with atomic_open(path) as out:
        for key, value in fields.items():
            out.write(f"# {key}: {json.dumps(value)}\n")
        out.write("\t".join(rows.columns) + "\n")
        for row in rows.itertuples(index=False):
            out.write("\t".join(format_stat(v) for v in row) + "\n")
