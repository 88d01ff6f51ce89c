"""``exomir trim``: FASTQ → collapsed FASTA of passing inserts + read-fate statistics."""

from __future__ import annotations

import argparse
import json
import sys

from exomir import fastq, kits, trimming
from exomir.atomic import atomic_open
from exomir.collapsed import write_collapsed

HELP = "trim one sample's reads with its protocol.json; write collapsed inserts and trim stats"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample", required=True, help="sample name (recorded in the stats)")
    parser.add_argument("--fastq", required=True, nargs="+", help="the sample's FASTQ(.gz) files")
    parser.add_argument("--protocol-json", required=True, help="output of exomir detect-kit")
    parser.add_argument("--min-length", type=int, default=trimming.DEFAULT_MIN_LENGTH)
    parser.add_argument("--max-length", type=int, default=trimming.DEFAULT_MAX_LENGTH)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="2 or more: gzip is decompressed in a second thread while reads are counted, "
        "and a worker process trims half of the distinct sequences",
    )
    parser.add_argument("--inserts", required=True, help="collapsed FASTA of passing inserts")
    parser.add_argument("--stats", required=True, help="trim_stats.json")


def run(args: argparse.Namespace) -> int:
    kit = kits.load_protocol(args.protocol_json)
    warnings: list[str] = []
    with fastq.collapse_reads(args.fastq, warnings=warnings, threads=args.threads) as reads:
        result = trimming.trim_partitions(
            reads.partitions(), kit, args.min_length, args.max_length, processes=args.threads
        )
    result.warnings[:0] = warnings
    for warning in result.warnings:
        # The job's log shows what the stats file records: accepted, but worth a look.
        print(f"exomir trim: warning: sample {args.sample}: {warning}", file=sys.stderr)
    write_collapsed(result.inserts, args.inserts)
    with atomic_open(args.stats, "w") as handle:
        json.dump(result.stats(args.sample), handle, indent=2)
        handle.write("\n")
    return 0
