"""``exomir trim``: FASTQ → collapsed FASTA of passing inserts + read-fate statistics."""

from __future__ import annotations

import argparse
import json

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
        help="accepted for the rule's resources; trimming is single-process (see trimming.py)",
    )
    parser.add_argument("--inserts", required=True, help="collapsed FASTA of passing inserts")
    parser.add_argument("--stats", required=True, help="trim_stats.json")


def run(args: argparse.Namespace) -> int:
    kit = kits.load_protocol(args.protocol_json)
    warnings: list[str] = []
    raw_counts, _ = fastq.count_sequences(args.fastq, warnings=warnings)
    result = trimming.trim_sequences(raw_counts, kit, args.min_length, args.max_length)
    result.warnings[:0] = warnings
    write_collapsed(result.inserts, args.inserts)
    with atomic_open(args.stats, "w") as handle:
        json.dump(result.stats(args.sample), handle, indent=2)
        handle.write("\n")
    return 0
