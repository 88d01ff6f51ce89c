"""``exomir align-sample``: one sample's collapsed inserts against spike-ins, then hairpins."""

from __future__ import annotations

import argparse

from exomir import align, counting
from exomir.align import TailPass, Target, align_sample, require_tools
from exomir.config import schema_default
from exomir.errors import ExomirError

HELP = (
    "align one sample's collapsed inserts to spike-ins, then hairpins (bowtie v1), then "
    "the tail pass; write BAMs (grouped for counting, sorted + indexed for viewing) and the "
    "reads left unaligned"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reads", required=True, help="collapsed FASTA ({rank}_x{count})")
    parser.add_argument(
        "--spikein-index", help="bowtie index prefix (omit: no spike-ins, stage skipped)"
    )
    parser.add_argument("--hairpin-index", required=True, help="bowtie index prefix")
    for name in ("spikein", "hairpin"):
        parser.add_argument(
            f"--{name}-reference", required=True, help="FASTA the index was built from"
        )
        parser.add_argument(f"--{name}-log", required=True, help="bowtie's log")
    parser.add_argument("--spikein-bam", required=True)
    parser.add_argument(
        "--hairpin-grouped-bam", required=True, help="bowtie's order: what counting reads"
    )
    parser.add_argument("--hairpin-bam", required=True, help="coordinate-sorted, with .bai")
    parser.add_argument("--unaligned", required=True, help="FASTA of reads aligned nowhere")
    parser.add_argument("--mismatches", type=int, default=schema_default("alignment.mismatches"))
    parser.add_argument("--threads", type=int, default=1)
    tails = parser.add_argument_group(
        "tail pass", "reads with non-templated 3' tails (omit --mature-positions: no tail pass)"
    )
    tails.add_argument("--mature-positions", help="mature_positions.tsv of the reference")
    tails.add_argument("--tail-log", help="the tail pass's bowtie log (not the hairpin log)")
    tails.add_argument(
        "--max-tail", type=int, default=align.DEFAULT_MAX_TAIL, help="longest tail tried (nt)"
    )
    tails.add_argument(
        "--min-templated-length",
        type=int,
        default=align.DEFAULT_MIN_TEMPLATED_LENGTH,
        help="shortest read left once the tail is off",
    )
    tails.add_argument(
        "--five-prime-tolerance", type=int, default=counting.DEFAULT_FIVE_PRIME_TOLERANCE
    )
    tails.add_argument(
        "--three-prime-tolerance", type=int, default=counting.DEFAULT_THREE_PRIME_TOLERANCE
    )


def run(args: argparse.Namespace) -> int:
    require_tools("bowtie", "samtools")
    tails = None
    if args.mature_positions:
        if not args.tail_log:
            raise ExomirError("align-sample: --mature-positions needs --tail-log")
        tails = TailPass(
            args.mature_positions,
            args.tail_log,
            max_tail=args.max_tail,
            min_templated_length=args.min_templated_length,
            five_prime_tolerance=args.five_prime_tolerance,
            three_prime_tolerance=args.three_prime_tolerance,
        )
    align_sample(
        args.reads,
        Target(args.spikein_index, args.spikein_reference, args.spikein_log),
        Target(args.hairpin_index, args.hairpin_reference, args.hairpin_log),
        spikein_bam=args.spikein_bam,
        hairpin_grouped_bam=args.hairpin_grouped_bam,
        hairpin_sorted_bam=args.hairpin_bam,
        unaligned=args.unaligned,
        mismatches=args.mismatches,
        threads=args.threads,
        tails=tails,
    )
    return 0
