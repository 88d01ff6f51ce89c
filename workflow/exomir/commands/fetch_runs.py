"""``exomir fetch-runs``: one sample's SRA/ENA runs -> one verified FASTQ.gz + a JSON report."""

from __future__ import annotations

import argparse
import sys

from exomir import geo, runs
from exomir.config import schema_default

HELP = "download a sample's runs (ENA HTTPS or fasterq-dump), R1 only, merged -> FASTQ.gz + JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample", required=True, help="sample name (recorded in the report)")
    parser.add_argument("--runs", required=True, nargs="+", help="run accessions, merged in order")
    parser.add_argument("--method", choices=runs.METHODS, default=runs.ENA)
    parser.add_argument("--ena-portal", default=geo.DEFAULT_ENA_PORTAL, help="ENA portal API")
    parser.add_argument(
        "--retries",
        type=int,
        default=schema_default("fastq_download.retries"),
        help="attempts after the first",
    )
    parser.add_argument("--threads", type=int, default=2, help="fasterq-dump and gzip threads")
    parser.add_argument(
        "--kit-reads",
        type=int,
        default=runs.KIT_READS,
        help="reads per run used to detect its library kit (0: do not detect)",
    )
    parser.add_argument(
        "--kits", default=None, help="kit presets YAML (default: the presets shipped with exomir)"
    )
    parser.add_argument("--out", required=True, help="FASTQ.gz to write")
    parser.add_argument("--report", required=True, help="JSON report to write")


def run(args: argparse.Namespace) -> int:
    services = geo.Services(ena_portal=args.ena_portal, retries=args.retries)
    report = runs.fetch_sample(
        args.sample,
        args.runs,
        args.out,
        args.report,
        method=args.method,
        services=services,
        threads=args.threads,
        kit_reads=args.kit_reads,
        kits_path=args.kits,
    )
    print(
        f"sample {args.sample}: {len(report['runs'])} run(s), {report['bytes']} bytes, "
        f"layout {report['layout']}, kit {report['kit'] or 'undecided'} -> {args.out}",
        file=sys.stderr,
    )
    return 0
