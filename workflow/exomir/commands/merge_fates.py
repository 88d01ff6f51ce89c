"""``exomir merge-fates``: one read-fate table for the cohort, each row checked to sum."""

from __future__ import annotations

import argparse

from exomir import fates
from exomir.commands.merge import add_input_arguments, samples_and_inputs

HELP = "concatenate per-sample read-fate rows, checking each partition sums to input"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    parser.add_argument("--out", required=True, help="read_fates.tsv")


def run(args: argparse.Namespace) -> int:
    samples, inputs = samples_and_inputs(args, need_samples=False)
    fates.merge_fates(inputs, args.out, samples=samples)
    return 0
