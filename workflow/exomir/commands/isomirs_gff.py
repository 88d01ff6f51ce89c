"""``exomir isomirs-gff``: the cohort's isomiR table as mirGFF3, plus mirtop stats figures."""

from __future__ import annotations

import argparse

from exomir import mirgff

HELP = (
    "write the cohort's isomiRs as mirGFF3 (the miRTop format) and mirtop stats' figures of "
    "it (the *_mirtop_stats.log that MultiQC's mirtop section reads)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--isomirs", required=True, help="merged isomir_counts.tsv")
    parser.add_argument(
        "--counts", required=True, help="mature_counts.tsv: its columns give the samples"
    )
    parser.add_argument("--hairpin", required=True, help="hairpin.fa of the reference")
    parser.add_argument("--mature-positions", required=True, help="mature_positions.tsv")
    parser.add_argument(
        "--reference-json", required=True, help="reference.json (release for the source column)"
    )
    parser.add_argument("--out", required=True, help="mirGFF3 file")
    parser.add_argument("--stats-log", required=True, help="mirtop stats JSON (*_mirtop_stats.log)")
    parser.add_argument("--stats-table", required=True, help="mirtop stats table (CSV)")


def run(args: argparse.Namespace) -> int:
    samples = mirgff.count_matrix_samples(args.counts)
    database = mirgff.database_name(args.reference_json)
    mirgff.write_mirgff(
        args.isomirs,
        args.hairpin,
        args.mature_positions,
        samples,
        args.out,
        database=database,
    )
    mirgff.mirtop_stats(args.out, args.stats_log, args.stats_table)
    return 0
