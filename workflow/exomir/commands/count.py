"""``exomir count``: one sample's hairpin/spike-in BAMs to count tables, isomiRs and read fates."""

from __future__ import annotations

import argparse

from exomir import counting, fates, tables
from exomir.config import schema_default
from exomir.reference import ReferenceFiles

HELP = "count miRNAs, hairpins, spike-ins and isomiRs of one sample from its bowtie BAMs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample", required=True, help="sample name (column header)")
    parser.add_argument("--hairpin-bam", required=True, help="bowtie alignments to hairpins")
    parser.add_argument(
        "--spikein-bam", help="bowtie alignments to spike-ins (omit when there are none)"
    )
    for name, what in COUNTING_REFERENCE.items():
        parser.add_argument(f"--{name}", required=True, help=f"{what} (exomir build-reference)")
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
    for name, what in OUTPUTS.items():
        parser.add_argument(f"--{name}-out", required=True, help=what)


COUNTING_REFERENCE = {
    "hairpin": "hairpin FASTA",
    "mature": "mature FASTA",
    "spikein": "spike-in FASTA",
    "positions": "mature positions on hairpins",
}
OUTPUTS = {
    "mature": "reads per mature miRNA",
    "hairpin": "reads per hairpin",
    "spikein": "reads per spike-in",
    "isomirs": "reads per mature miRNA and read sequence",
    "fates": "the sample's read-fate row",
}


def run(args: argparse.Namespace) -> int:
    trim_stats = tables.load_trim_stats(args.trim_stats, args.sample)
    files = ReferenceFiles(args.hairpin, args.mature, args.spikein, args.positions, summary=None)
    reference = counting.load_counting_reference(files, args.multimapper)
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
    tables.write_count_column(args.mature_out, args.sample, reference.matures.names, counts.mature)
    tables.write_count_column(
        args.hairpin_out, args.sample, reference.hairpins.names, counts.hairpin
    )
    tables.write_count_column(
        args.spikein_out, args.sample, reference.spikeins.names, counts.spikein
    )
    tables.write_isomirs(args.isomirs_out, counts.isomirs)
    fates.write_fates(args.fates_out, row)
    return 0
