"""exomir provenance: tool versions, resolved config, sheet and reference checksums."""

from __future__ import annotations

import argparse
import json

from exomir.provenance import build_provenance, enrichment_provenance, write_provenance
from exomir.samplesheet import paths_from_template

HELP = "write results/provenance.yaml (versions, config, checksums, count definitions)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config-json", required=True, help="the resolved config as JSON")
    parser.add_argument("--sample-sheet", required=True)
    parser.add_argument("--reference-json", help="results/reference/reference.json")
    parser.add_argument("--protocol-template", help="e.g. results/trimmed/{sample}/protocol.json")
    parser.add_argument("--counts-matrix", help="user count matrix (counts_matrix entry point)")
    parser.add_argument("--targets", help="miRNA-target table used for enrichment")
    parser.add_argument("--genesets", nargs="*", default=[], help="GMT files used for enrichment")
    parser.add_argument("--literature-table", help="literature findings table")
    parser.add_argument("--out", required=True)


def run(args: argparse.Namespace) -> int:
    protocols = []
    if args.protocol_template:
        protocols = [p for _, p in paths_from_template(args.sample_sheet, args.protocol_template)]
    record = build_provenance(
        json.loads(args.config_json),
        args.sample_sheet,
        args.reference_json,
        protocols,
        counts_matrix=args.counts_matrix,
        enrichment=(
            enrichment_provenance(args.targets, args.genesets, args.literature_table)
            if args.targets or args.genesets or args.literature_table
            else None
        ),
    )
    write_provenance(record, args.out)
    return 0
