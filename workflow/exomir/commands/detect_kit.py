"""``exomir detect-kit``: decide how one sample's reads are trimmed, and record why.

The workflow decides inside ``exomir trim`` (one job a sample); this command is the same
decision on its own, for checking a kit before a run.
"""

from __future__ import annotations

import argparse

from exomir import kits
from exomir.kit_arguments import add_kit_arguments, detect_kit

HELP = "choose the library kit preset of a sample (auto-detected or declared) -> protocol.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample", required=True, help="sample name (recorded in the output)")
    parser.add_argument("--fastq", required=True, nargs="+", help="the sample's FASTQ(.gz) files")
    add_kit_arguments(parser, required=True)
    parser.add_argument("--out", required=True, help="protocol.json to write")


def run(args: argparse.Namespace) -> int:
    kits.write_protocol(detect_kit(args, "detect-kit"), args.sample, args.out)
    return 0
