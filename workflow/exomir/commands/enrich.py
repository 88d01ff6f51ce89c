"""exomir enrich: pathway enrichment of one contrast's up and down miRNAs' target genes."""

from __future__ import annotations

import argparse
import json

from exomir.arguments import add_config_file, config_file

HELP = "Test gene sets for over-representation of the targets of a contrast's DE miRNAs."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="contrast name (for the report)")
    parser.add_argument("--de-table", required=True, help="results/de/{contrast}.tsv")
    parser.add_argument("--targets", help="miRNA-target TSV (mirna, gene, evidence)")
    parser.add_argument("--genesets", nargs="*", default=[], help="GMT files (plain or .gz)")
    add_config_file(parser, "alpha, enrichment (top_n, min_mirnas, ...)")
    parser.add_argument("--skip-reason", help="skip the tests and record this reason")
    parser.add_argument("--out", required=True, help="results/enrichment/{contrast}.tsv")
    parser.add_argument("--summary", required=True, help="JSON sidecar: what ran, list sizes")
    parser.add_argument("--multiqc", required=True, help="the dot plot as *_mqc.yaml")


def run(args: argparse.Namespace) -> int:
    from exomir.atomic import atomic_open
    from exomir.de import DESettings, read_contrast_table, write_stats_table
    from exomir.enrichment import EnrichmentSettings, enrich, read_gmt
    from exomir.enrichment_report import enrichment_section
    from exomir.targets import read_targets

    spec = config_file(args)
    alpha = DESettings.from_config(spec).alpha
    settings = EnrichmentSettings.from_config(spec)
    table = read_contrast_table(args.de_table)
    skip = args.skip_reason
    targets = None if skip or not args.targets else read_targets(args.targets)
    genesets = [] if skip else [read_gmt(path) for path in args.genesets]
    result = enrich(table, targets, genesets, settings, alpha, skip_reason=skip)
    result.summary["contrast"] = args.name
    result.summary["targets"] = args.targets
    result.summary["genesets"] = list(args.genesets)
    write_stats_table(result.table, args.out)
    with atomic_open(args.summary) as out:
        json.dump(result.summary, out, indent=2)
        out.write("\n")
    enrichment_section(args.name, result.table, result.summary, args.multiqc)
    return 0
