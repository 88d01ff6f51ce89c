"""``exomir merge``: paste per-sample count tables into one matrix (and CPM)."""

from __future__ import annotations

import argparse
import sys

from exomir import tables
from exomir.arguments import add_sample_list, sample_list

HELP = "merge per-sample count tables into a matrix (samples in sheet order), optionally CPM"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sample_list(parser, "per-sample count tables")
    parser.add_argument(
        "--out", required=True, help="merged table: mirna, then one column per sample"
    )
    parser.add_argument("--cpm-out", help="also write counts per million")


def run(args: argparse.Namespace) -> int:
    samples, inputs = sample_list(args)
    all_zero = tables.merge_count_tables(samples, inputs, args.out, args.cpm_out)
    if all_zero and args.cpm_out:
        print(
            f"exomir merge: warning: {len(all_zero)} sample(s) with no counts, CPM set to 0: "
            + ", ".join(all_zero),
            file=sys.stderr,
        )
    return 0
