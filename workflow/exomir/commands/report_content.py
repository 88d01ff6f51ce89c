"""exomir report-content: read-weighted QC sections for MultiQC."""

from __future__ import annotations

import argparse

from exomir.report import write_report_content
from exomir.runfiles import read_sample_list

HELP = (
    "write read fates, insert lengths, kit detection, library complexity and spike-ins as "
    "MultiQC custom content"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--read-fates", required=True)
    parser.add_argument(
        "--protocols", required=True, help="sample list of protocol.json files (sheet order)"
    )
    parser.add_argument(
        "--trim-stats", required=True, help="sample list of trim_stats.json files (sheet order)"
    )
    parser.add_argument("--mature-counts", help="results/counts/mature_counts.tsv")
    parser.add_argument("--spikein-counts", help="results/counts/spikein_counts.tsv")
    parser.add_argument("--outdir", required=True)


def run(args: argparse.Namespace) -> int:
    _, protocols = read_sample_list(args.protocols)
    _, stats = read_sample_list(args.trim_stats)
    write_report_content(
        args.read_fates,
        protocols,
        stats,
        args.outdir,
        mature_counts=args.mature_counts,
        spikein_counts=args.spikein_counts,
    )
    return 0
