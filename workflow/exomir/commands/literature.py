"""exomir literature: do a contrast's results agree with the published findings it names?"""

from __future__ import annotations

import argparse
import json

from exomir.config import schema_default

HELP = "Compare one contrast with the findings of a literature comparison (k of n agree)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="contrast name")
    parser.add_argument("--de-table", required=True, help="results/de/{contrast}.tsv")
    parser.add_argument("--findings", required=True, help="literature table (TSV)")
    parser.add_argument("--comparison", required=True, help="comparison id in the table")
    parser.add_argument(
        "--alpha", type=float, default=schema_default("alpha"), help="FDR level of the DE"
    )
    parser.add_argument("--out", required=True, help="results/literature/{contrast}.tsv")
    parser.add_argument("--summary", required=True, help="JSON: k of n, sign test")
    parser.add_argument("--multiqc", required=True, help="report table as *_mqc.tsv")


def run(args: argparse.Namespace) -> int:
    from exomir.atomic import atomic_open
    from exomir.de import read_contrast_table, write_stats_table
    from exomir.enrichment_report import literature_section
    from exomir.literature import (
        check_comparisons,
        concordance,
        concordance_summary,
        read_findings,
        summary_sentence,
    )

    findings = read_findings(args.findings)
    check_comparisons(findings, {args.name: args.comparison}, args.findings)
    table = concordance(findings, args.comparison, read_contrast_table(args.de_table), args.alpha)
    summary = concordance_summary(args.name, table)
    summary["alpha"] = args.alpha
    summary["sentence"] = summary_sentence(summary, args.alpha)
    write_stats_table(table, args.out)
    with atomic_open(args.summary) as out:
        json.dump(summary, out, indent=2)
        out.write("\n")
    literature_section(args.name, table, summary["sentence"], args.multiqc)
    return 0
