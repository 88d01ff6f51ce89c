"""exomir de-summary: the watch list and per-contrast counts of DE miRNAs, for the report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from exomir.arguments import add_config_file, config_file
from exomir.errors import ExomirError

HELP = "Collect contrast results into watchlist.tsv and summary.tsv (plus MultiQC tables)."
SUMMARY_COLUMNS = ["contrast", "n_samples", "n_tested", "n_up", "n_down", "alpha", "normalization"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tables", nargs="+", required=True, help="per-contrast DE tables ({name}.json beside)"
    )
    add_config_file(parser, "alpha, watchlist")
    parser.add_argument("--watchlist-out", required=True)
    parser.add_argument("--summary-out", required=True)
    parser.add_argument("--watchlist-section-out", required=True, help="MultiQC table")
    parser.add_argument("--summary-section-out", required=True, help="MultiQC table")


def _summary_row(table_path: Path) -> dict:
    sidecar = table_path.with_suffix(".json")
    try:
        summary = json.loads(sidecar.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ExomirError(f"{sidecar}: cannot read DE summary: {error}") from error
    return {
        "contrast": table_path.stem,
        "n_samples": len(summary["samples_in_fit"]),
        "n_tested": summary["n_tested"],
        "n_up": summary["n_up"],
        "n_down": summary["n_down"],
        "alpha": summary["alpha"],
        "normalization": summary["normalization"],
    }


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from exomir.de import DESettings, read_contrast_table, write_stats_table
    from exomir.de_multiqc import section_id, watchlist_section, write_mqc_table
    from exomir.watchlist import watchlist_queries, watchlist_table

    spec = config_file(args)
    DESettings.from_config(spec)
    paths = sorted((Path(p) for p in args.tables), key=lambda p: p.stem)
    results = {path.stem: read_contrast_table(path) for path in paths}
    watchlist = watchlist_table(results, watchlist_queries(spec))
    write_stats_table(watchlist, args.watchlist_out)
    summary = pd.DataFrame([_summary_row(p) for p in paths], columns=SUMMARY_COLUMNS)
    write_stats_table(summary, args.summary_out)
    watchlist_section(watchlist, args.watchlist_section_out)
    write_mqc_table(
        summary,
        args.summary_section_out,
        id=section_id("de_summary"),
        section_name="Differential expression summary",
        description="miRNAs up and down at padj < alpha in each contrast.",
    )
    return 0
