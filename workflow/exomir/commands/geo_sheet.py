"""``exomir geo-sheet``: propose a sample sheet for a public GEO/SRA dataset."""

from __future__ import annotations

import argparse
import json
import sys

from exomir import geo
from exomir.atomic import atomic_open
from exomir.config import schema_default

HELP = "resolve GEO/SRA accessions to samples and runs -> proposed samples.tsv + metadata.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--accession",
        nargs="*",
        action="extend",
        default=[],
        help="GSE, GSM, SRR/ERR/DRR (or SRX/SRS/SRP, PRJNA/PRJEB, SAMN/SAMEA); several allowed",
    )
    parser.add_argument("--eutils", default=geo.DEFAULT_EUTILS, help="NCBI E-utilities base URL")
    parser.add_argument("--ena-browser", default=geo.DEFAULT_ENA_BROWSER, help="ENA browser API")
    parser.add_argument("--ena-portal", default=geo.DEFAULT_ENA_PORTAL, help="ENA portal API")
    parser.add_argument(
        "--retries",
        type=int,
        default=schema_default("fastq_download.retries"),
        help="attempts after the first",
    )
    parser.add_argument("--out", required=True, help="proposed sample sheet (TSV) to write")
    parser.add_argument("--metadata", required=True, help="metadata.json to write")


def run(args: argparse.Namespace) -> int:
    services = geo.Services(
        eutils=args.eutils,
        ena_browser=args.ena_browser,
        ena_portal=args.ena_portal,
        retries=args.retries,
    )
    dataset = geo.resolve_dataset(geo.normalise_accessions(args.accession), services)
    header, rows = geo.proposed_sheet(dataset.samples)
    with atomic_open(args.metadata, "w") as handle:
        json.dump(geo.dataset_metadata(dataset, services), handle, indent=2)
        handle.write("\n")
    geo.write_sheet(args.out, header, rows)
    for warning in dataset.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    runs = sum(len(sample.runs) for sample in dataset.samples)
    print(
        f"{len(dataset.samples)} samples, {runs} runs -> {args.out}; "
        "fill its 'condition' column (or use other columns in design/contrasts), "
        "then set samples: to it",
        file=sys.stderr,
    )
    return 0
