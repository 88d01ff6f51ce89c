"""exomir provenance: tool versions, resolved config, sheet and reference checksums."""

from __future__ import annotations

import argparse

from exomir.provenance import build_provenance, enrichment_provenance, write_provenance
from exomir.runfiles import read_json_file, read_sample_list

HELP = "write results/provenance.yaml (versions, config, checksums, count definitions)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="the resolved config (JSON)")
    parser.add_argument("--sample-sheet", help="the sample sheet, recorded with its checksum")
    parser.add_argument("--reference-json", help="reference.json of exomir build-reference")
    parser.add_argument("--protocols", help="sample list of the samples' protocol.json files")
    parser.add_argument("--counts-matrix", help="user count matrix (counts_matrix entry point)")
    parser.add_argument("--targets", help="miRNA-target table used for enrichment")
    parser.add_argument("--genesets", nargs="*", default=[], help="GMT files used for enrichment")
    parser.add_argument("--literature-table", help="literature findings table")
    parser.add_argument("--out", required=True)


def run(args: argparse.Namespace) -> int:
    protocols = read_sample_list(args.protocols)[1] if args.protocols else []
    record = build_provenance(
        read_json_file(args.config),
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
