"""exomir de-summary: the watch list and per-contrast counts of DE miRNAs, for the report."""

from __future__ import annotations

import argparse
from pathlib import Path

from exomir.arguments import add_config_file, config_file

HELP = "Collect contrast results into watchlist.tsv and summary.tsv (plus MultiQC tables)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tables", nargs="+", required=True, help="per-contrast DE tables ({name}.json beside)"
    )
    add_config_file(parser, "alpha, watchlist")
    parser.add_argument("--watchlist-out", required=True)
    parser.add_argument("--summary-out", required=True)
    parser.add_argument("--watchlist-section-out", required=True, help="MultiQC table")
    parser.add_argument("--summary-section-out", required=True, help="MultiQC table")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from exomir.de import (
        SUMMARY_COLUMNS,
        DESettings,
        contrast_summary,
        read_contrast_table,
        write_stats_table,
    )
    from exomir.de_multiqc import section_id, watchlist_section, write_mqc_table
    from exomir.watchlist import watchlist_queries, watchlist_table

    spec = config_file(args)
    DESettings.from_config(spec)
    paths = sorted((Path(p) for p in args.tables), key=lambda p: p.stem)
    results = {path.stem: read_contrast_table(path) for path in paths}
    watchlist = watchlist_table(results, watchlist_queries(spec))
    write_stats_table(watchlist, args.watchlist_out)
    summary = pd.DataFrame([contrast_summary(p) for p in paths], columns=SUMMARY_COLUMNS)
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
