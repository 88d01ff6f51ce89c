"""``exomir merge-isomirs``: per-sample isomiR tables to one long table for the cohort."""

from __future__ import annotations

import argparse

from exomir import tables
from exomir.commands.merge import add_input_arguments, samples_and_inputs

HELP = (
    "merge per-sample isomirs.tsv into mirna, sequence, start_offset, end_offset, tail, "
    "sample, count"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    parser.add_argument("--out", required=True, help="long isomiR table")


def run(args: argparse.Namespace) -> int:
    samples, inputs = samples_and_inputs(args)
    tables.merge_isomirs(samples, inputs, args.out)
    return 0
