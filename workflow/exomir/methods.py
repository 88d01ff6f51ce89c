"""The report's methods and provenance section, written from ``results/provenance.yaml``.

A figure is only as trustworthy as what is known about how it was made: the tool
versions, the reference release and its checksums, what a count is, and per contrast
the design, the reference level (so the sign of a log2 fold change has a meaning) and
the normalisation. Everything shown here is read from the provenance record and the
contrasts' sidecar JSON, never restated by hand.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from exomir.config import schema_default
from exomir.contrasts import parse_contrasts

# The tools whose versions a methods paragraph must cite, in pipeline order.
METHOD_TOOLS = ("cutadapt", "bowtie", "samtools", "pysam", "pydeseq2", "multiqc")
OTHER_TOOLS = ("exomir", "snakemake", "python", "dnaio", "pandas", "numpy")


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], wrap: bool = False) -> str:
    """An HTML table; ``wrap`` breaks long words (checksums, paths) to fit the page."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    cell = '<td style="word-break:break-all">' if wrap else "<td>"
    body = "".join(
        "<tr>" + "".join(f"{cell}{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    width = "width:100%;table-layout:fixed" if wrap else "width:auto"
    return (
        f'<table class="table table-condensed table-bordered" style="{width}">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def tool_rows(tools: Mapping[str, str]) -> list[tuple[str, str]]:
    listed = [t for t in METHOD_TOOLS + OTHER_TOOLS if t in tools]
    return [(tool, str(tools[tool])) for tool in listed]


def reference_rows(record: Mapping) -> list[tuple[str, str, str, str, str]]:
    """(what, path, records, sha256, md5) for each reference input or the count matrix."""
    rows = []
    reference = record.get("reference") or {}
    for role, item in (reference.get("inputs") or {}).items():
        rows.append(
            (
                role,
                str(item.get("path", "")),
                str(item.get("records", "")),
                str(item.get("sha256", "")),
                str(item.get("md5", "")),
            )
        )
    matrix = record.get("counts_matrix")
    if matrix:
        rows.append(
            ("counts matrix", str(matrix.get("path", "")), "", matrix.get("sha256", ""), "")
        )
    sheet = record.get("sample_sheet")
    if sheet:
        rows.append(("sample sheet", str(sheet.get("path", "")), "", sheet.get("sha256", ""), ""))
    return rows


def contrast_rows(
    config: Mapping, summaries: Mapping[str, Mapping]
) -> list[tuple[str, str, str, str, str, str]]:
    """(contrast, design, compared, positive log2FC means, normalisation, samples) each."""
    rows = []
    for spec in parse_contrasts(config):
        summary = summaries.get(spec.name, {})
        normalisation = summary.get("normalization") or (config.get("normalization") or {}).get(
            "method", schema_default("normalization.method")
        )
        scope = []
        if spec.subset:
            scope.append("subset " + ", ".join(f"{k}={v}" for k, v in sorted(spec.subset.items())))
        if spec.at:
            scope.append("at " + ", ".join(f"{k}={v}" for k, v in sorted(spec.at.items())))
        compared = f"{spec.variable}: {spec.level} vs {spec.reference} (reference level)"
        if scope:
            compared += "; " + "; ".join(scope)
        per_level = summary.get("n_per_level") or {}
        samples = ", ".join(f"{level}: {n}" for level, n in per_level.items())
        rows.append(
            (
                spec.name,
                spec.design,
                compared,
                f"higher in {spec.level} than in {spec.reference}",
                str(normalisation),
                samples,
            )
        )
    return rows


def methods_html(record: Mapping, summaries: Mapping[str, Mapping]) -> str:
    config = record.get("config") or {}
    tools = record.get("tools") or {}
    reference = record.get("reference") or {}
    parts = ["<h4>Tool versions</h4>", _table(("tool", "version"), tool_rows(tools))]
    release = reference.get("release")
    species = reference.get("species", config.get("species", ""))
    parts.append("<h4>Reference and inputs</h4>")
    if release is not None:
        parts.append(
            f"<p>miRBase release {html.escape(str(release))}, species "
            f"{html.escape(str(species))}: {reference.get('matures', '?')} mature miRNAs on "
            f"{reference.get('hairpins', '?')} hairpins.</p>"
        )
    parts.append(
        _table(("input", "path", "records", "sha256", "md5"), reference_rows(record), wrap=True)
    )
    rows = contrast_rows(config, summaries)
    if rows:
        alpha = config.get("alpha", schema_default("alpha"))
        shrink = "shrunk (apeGLM) in log2FoldChange_shrunk"
        shrink = shrink if config.get("lfc_shrink") else "not shrunk"
        parts.append("<h4>Differential expression (pydeseq2)</h4>")
        parts.append(
            "<p>Wald test, Cook's outlier refit, independent filtering and Benjamini-Hochberg "
            f"adjustment at alpha = {html.escape(str(alpha))}; log2 fold changes "
            f"{shrink}"
            ". Counts are rounded to integers for the negative binomial model.</p>"
        )
        parts.append(
            _table(
                (
                    "contrast",
                    "design",
                    "compared",
                    "positive log2FC means",
                    "normalisation",
                    "samples per level",
                ),
                rows,
            )
        )
    definitions = record.get("definitions") or {}
    if definitions:
        parts.append("<h4>What a count is</h4><dl>")
        for key, text in definitions.items():
            parts.append(f"<dt>{html.escape(key)}</dt><dd>{html.escape(str(text))}</dd>")
        parts.append("</dl>")
    return "<div>" + "".join(parts) + "</div>"


def methods_section(record: Mapping, summaries: Mapping[str, Mapping]) -> dict:
    return {
        "id": "exomir_methods",
        "section_name": "Methods and provenance",
        "description": (
            "From results/provenance.yaml and results/de/{contrast}.json: tool versions, "
            "reference release and checksums, each contrast's design and reference level, "
            "and the count definitions."
        ),
        "plot_type": "html",
        "data": methods_html(record, summaries),
    }
