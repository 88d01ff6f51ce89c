"""``exomir detect-kit``: decide how one sample's reads are trimmed, and record why.

The workflow decides inside ``exomir trim`` (one job a sample); this command is the same
decision on its own, for checking a kit before a run.
"""

from __future__ import annotations

import argparse
import sys

from exomir import kits

HELP = "choose the library kit preset of a sample (auto-detected or declared) -> protocol.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample", required=True, help="sample name (recorded in the output)")
    parser.add_argument("--fastq", required=True, nargs="+", help="the sample's FASTQ(.gz) files")
    add_kit_arguments(parser, required=True)
    parser.add_argument("--out", required=True, help="protocol.json to write")


def add_kit_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """The options that say which kit to use or how to find it (shared with ``exomir trim``)."""
    parser.add_argument(
        "--protocol", required=required, help="kit preset name, 'auto' or 'custom' (as configured)"
    )
    parser.add_argument("--adapter", help="explicit 3' adapter; overrides the preset's")
    parser.add_argument(
        "--kits", default=None, help="kit presets YAML (default: the presets shipped with exomir)"
    )
    parser.add_argument(
        "--max-reads", type=int, default=100_000, help="reads examined (default 100000)"
    )


def detect(args: argparse.Namespace, command: str) -> kits.Detection:
    """Decide the kit as the options say; warnings go to stderr (the job's log)."""
    detection = kits.detect_for_sample(
        args.sample,
        args.fastq,
        args.protocol,
        args.adapter,
        kits.load_kits(args.kits),
        args.max_reads,
    )
    for warning in detection.warnings:
        print(f"exomir {command}: warning: sample {args.sample}: {warning}", file=sys.stderr)
    return detection


def run(args: argparse.Namespace) -> int:
    kits.write_protocol(detect(args, "detect-kit"), args.sample, args.out)
    return 0
