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
    parser.add_argument("--summary-section-out", required=True, help="MultiQC table")
    parser.add_argument(
        "--multiqc-dir", required=True, help="writes watchlist_{contrast}_mqc.tsv per contrast"
    )


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from exomir.de import (
        SUMMARY_COLUMNS,
        DESettings,
        contrast_summary,
        read_contrast_sidecar,
        read_contrast_table,
        write_stats_table,
    )
    from exomir.de_multiqc import summary_section, watchlist_section
    from exomir.watchlist import watchlist_queries, watchlist_table

    spec = config_file(args)
    DESettings.from_config(spec)
    paths = sorted((Path(p) for p in args.tables), key=lambda p: p.stem)
    results = {path.stem: read_contrast_table(path) for path in paths}
    watchlist = watchlist_table(results, watchlist_queries(spec))
    write_stats_table(watchlist, args.watchlist_out)
    sidecars = {path.stem: read_contrast_sidecar(path) for path in paths}
    rows = [contrast_summary(p, sidecars[p.stem]) for p in paths]
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    write_stats_table(summary, args.summary_out)
    multiqc_dir = Path(args.multiqc_dir)
    for name, sidecar in sidecars.items():
        watchlist_section(watchlist, name, sidecar, multiqc_dir / f"watchlist_{name}_mqc.tsv")
    summary_section(summary, args.summary_section_out)
    return 0
