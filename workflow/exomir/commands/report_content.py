"""exomir report-content: read-weighted QC sections for MultiQC."""

from __future__ import annotations

import argparse

from exomir.report import write_report_content
from exomir.samplesheet import paths_from_template

HELP = (
    "write read fates, insert lengths, kit detection, library complexity and spike-ins as "
    "MultiQC custom content"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--read-fates", required=True)
    parser.add_argument("--sample-sheet", required=True, help="sample order")
    parser.add_argument("--protocol-template", default="results/trimmed/{sample}/protocol.json")
    parser.add_argument("--stats-template", default="results/trimmed/{sample}/trim_stats.json")
    parser.add_argument("--mature-counts", help="results/counts/mature_counts.tsv")
    parser.add_argument("--spikein-counts", help="results/counts/spikein_counts.tsv")
    parser.add_argument("--outdir", required=True)


def run(args: argparse.Namespace) -> int:
    protocols = [p for _, p in paths_from_template(args.sample_sheet, args.protocol_template)]
    stats = [p for _, p in paths_from_template(args.sample_sheet, args.stats_template)]
    write_report_content(
        args.read_fates,
        protocols,
        stats,
        args.outdir,
        mature_counts=args.mature_counts,
        spikein_counts=args.spikein_counts,
    )
    return 0
