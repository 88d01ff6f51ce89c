"""``exomir merge-isomirs``: per-sample isomiR tables to one long table for the cohort."""

from __future__ import annotations

import argparse

from exomir import tables
from exomir.arguments import add_sample_list, sample_list

HELP = (
    "merge per-sample isomirs.tsv into mirna, sequence, start_offset, end_offset, tail, "
    "sample, count"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sample_list(parser)
    parser.add_argument("--out", required=True, help="long isomiR table")


def run(args: argparse.Namespace) -> int:
    samples, inputs = sample_list(args)
    tables.merge_isomirs(samples, inputs, args.out)
    return 0
