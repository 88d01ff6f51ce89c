"""``exomir merge-fates``: one read-fate table for the cohort, each row checked to sum."""

from __future__ import annotations

import argparse

from exomir import fates
from exomir.arguments import add_sample_list, sample_list

HELP = "concatenate per-sample read-fate rows, checking each partition sums to input"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sample_list(parser)
    parser.add_argument("--out", required=True, help="read_fates.tsv")


def run(args: argparse.Namespace) -> int:
    samples, inputs = sample_list(args)
    fates.merge_fates(inputs, args.out, samples=samples)
    return 0
