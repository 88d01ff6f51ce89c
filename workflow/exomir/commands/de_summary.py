"""exomir de-summary: the watch list and per-contrast counts of DE miRNAs, for the report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from exomir.commands._de_common import add_spec_argument, load_spec
from exomir.errors import ExomirError

HELP = "Collect contrast results into watchlist.tsv and summary.tsv (plus MultiQC tables)."
SUMMARY_COLUMNS = [
    "contrast",
    "n_samples",
    "n_tested",
    "n_up",
    "n_down",
    "alpha",
    "normalization",
    "design",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tables", nargs="+", required=True, help="per-contrast DE tables")
    add_spec_argument(parser)
    parser.add_argument("--outdir", required=True, help="DE output folder, e.g. results/de")


def _sidecar(table_path: Path) -> dict:
    sidecar = table_path.with_suffix(".json")
    try:
        return json.loads(sidecar.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ExomirError(f"{sidecar}: cannot read DE summary: {error}") from error


def _summary_row(table_path: Path, summary: dict) -> dict:
    return {
        "contrast": table_path.stem,
        "n_samples": len(summary["samples_in_fit"]),
        "n_tested": summary["n_tested"],
        "n_up": summary["n_up"],
        "n_down": summary["n_down"],
        "alpha": summary["alpha"],
        "normalization": summary["normalization"],
        "design": summary.get("design", ""),
    }


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from exomir.de import DESettings, read_contrast_table, write_stats_table
    from exomir.de_multiqc import summary_section, watchlist_section
    from exomir.watchlist import watchlist_queries, watchlist_table

    spec = load_spec(args.spec)
    DESettings.from_config(spec)
    paths = sorted((Path(p) for p in args.tables), key=lambda p: p.stem)
    results = {path.stem: read_contrast_table(path) for path in paths}
    outdir = Path(args.outdir)
    watchlist = watchlist_table(results, watchlist_queries(spec))
    write_stats_table(watchlist, outdir / "watchlist.tsv")
    sidecars = {path.stem: _sidecar(path) for path in paths}
    rows = [_summary_row(p, sidecars[p.stem]) for p in paths]
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    write_stats_table(summary, outdir / "summary.tsv")
    for name, sidecar in sidecars.items():
        watchlist_section(
            watchlist, name, sidecar, outdir / "multiqc" / f"watchlist_{name}_mqc.tsv"
        )
    summary_section(summary, outdir / "multiqc" / "de_summary_mqc.tsv")
    return 0
