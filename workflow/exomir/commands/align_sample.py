"""``exomir align-sample``: one sample's collapsed inserts against spike-ins, then hairpins."""

from __future__ import annotations

import argparse

from exomir.align import Target, align_sample, require_tools
from exomir.config import schema_default

HELP = (
    "align one sample's collapsed inserts to spike-ins, then hairpins (bowtie v1); write BAMs "
    "(grouped for counting, sorted + indexed for viewing) and the reads left unaligned"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reads", required=True, help="collapsed FASTA ({rank}_x{count})")
    for name in ("spikein", "hairpin"):
        parser.add_argument(f"--{name}-index", required=True, help="bowtie index prefix")
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


def run(args: argparse.Namespace) -> int:
    require_tools("bowtie", "samtools")
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
    )
    return 0
