"""``exomir count``: one sample's hairpin/spike-in BAMs to count tables, isomiRs and read fates."""

from __future__ import annotations

import argparse
from pathlib import Path

from exomir import counting, fates, tables
from exomir.config import schema_default

HELP = "count miRNAs, hairpins, spike-ins and isomiRs of one sample from its bowtie BAMs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample", required=True, help="sample name (column header)")
    parser.add_argument("--hairpin-bam", required=True, help="bowtie alignments to hairpins")
    parser.add_argument(
        "--spikein-bam", help="bowtie alignments to spike-ins (omit when there are none)"
    )
    parser.add_argument("--reference-dir", required=True, help="output of exomir build-reference")
    parser.add_argument("--trim-stats", required=True, help="trim_stats.json of exomir trim")
    parser.add_argument(
        "--multimapper",
        choices=counting.MULTIMAPPER_POLICIES,
        default=schema_default("multimapper"),
    )
    parser.add_argument(
        "--five-prime-tolerance", type=int, default=counting.DEFAULT_FIVE_PRIME_TOLERANCE
    )
    parser.add_argument(
        "--three-prime-tolerance", type=int, default=counting.DEFAULT_THREE_PRIME_TOLERANCE
    )
    parser.add_argument(
        "--outdir",
        required=True,
        help="writes mature.tsv, hairpin.tsv, spikein.tsv, isomirs.tsv, fates.tsv",
    )


def run(args: argparse.Namespace) -> int:
    trim_stats = tables.load_trim_stats(args.trim_stats, args.sample)
    reference = counting.load_counting_reference(args.reference_dir, args.multimapper)
    counts = counting.count_sample(
        args.hairpin_bam,
        args.spikein_bam,
        reference,
        multimapper=args.multimapper,
        five_prime_tolerance=args.five_prime_tolerance,
        three_prime_tolerance=args.three_prime_tolerance,
    )
    row = fates.sample_fates(
        args.sample,
        trim_stats,
        spikein=counts.spikein_reads,
        mature=counts.mature_reads,
        hairpin_only=counts.hairpin_only_reads,
        source=f"{args.hairpin_bam}, {args.trim_stats}",
    )
    outdir = Path(args.outdir)
    tables.write_count_column(
        outdir / "mature.tsv", args.sample, reference.matures.names, counts.mature
    )
    tables.write_count_column(
        outdir / "hairpin.tsv", args.sample, reference.hairpins.names, counts.hairpin
    )
    tables.write_count_column(
        outdir / "spikein.tsv", args.sample, reference.spikeins.names, counts.spikein
    )
    tables.write_isomirs(outdir / "isomirs.tsv", counts.isomirs)
    fates.write_fates(outdir / "fates.tsv", row)
    return 0
