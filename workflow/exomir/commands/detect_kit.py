"""``exomir detect-kit``: decide how one sample's reads are trimmed, and record why."""

from __future__ import annotations

import argparse
import json
import sys

from exomir import fastq, kits
from exomir.atomic import atomic_open

HELP = "choose the library kit preset of a sample (auto-detected or declared) -> protocol.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample", required=True, help="sample name (recorded in the output)")
    parser.add_argument("--fastq", required=True, nargs="+", help="the sample's FASTQ(.gz) files")
    parser.add_argument(
        "--protocol", required=True, help="kit preset name, 'auto' or 'custom' (as configured)"
    )
    parser.add_argument("--adapter", help="explicit 3' adapter; overrides the preset's")
    parser.add_argument(
        "--kits", default=None, help="kit presets YAML (default: the repo's resources/kits.yaml)"
    )
    parser.add_argument(
        "--max-reads", type=int, default=100_000, help="reads examined (default 100000)"
    )
    parser.add_argument("--out", required=True, help="protocol.json to write")


def run(args: argparse.Namespace) -> int:
    presets = kits.load_kits(args.kits)
    warnings: list[str] = []
    sequences = fastq.first_sequences(args.fastq, args.max_reads, warnings=warnings)
    detection = kits.choose_kit(
        args.protocol,
        args.adapter,
        sequences,
        presets,
        args.max_reads,
        source=f"sample {args.sample} ({', '.join(args.fastq)})",
    )
    detection.warnings[:0] = warnings
    for warning in detection.warnings:
        print(f"exomir detect-kit: warning: sample {args.sample}: {warning}", file=sys.stderr)
    with atomic_open(args.out, "w") as handle:
        json.dump(detection.to_json(args.sample), handle, indent=2)
        handle.write("\n")
    return 0
