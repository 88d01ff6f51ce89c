"""exomir align: bowtie against one reference, BAM out, unaligned reads passed on."""

from __future__ import annotations

import argparse

from exomir.align import align, require_tools
from exomir.config import schema_default

HELP = "align collapsed reads with bowtie (v1) to one reference; write BAM and unaligned reads"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reads", required=True, help="collapsed FASTA ({rank}_x{count})")
    parser.add_argument("--index", required=True, help="bowtie index prefix")
    parser.add_argument("--reference", required=True, help="FASTA the index was built from")
    parser.add_argument("--bam", required=True)
    parser.add_argument("--unaligned", required=True, help="FASTA of reads that did not align")
    parser.add_argument("--log", required=True)
    parser.add_argument("--mismatches", type=int, default=schema_default("alignment.mismatches"))
    parser.add_argument("--threads", type=int, default=1)


def run(args: argparse.Namespace) -> int:
    require_tools("bowtie", "samtools")
    align(
        args.reads,
        args.index,
        args.reference,
        args.bam,
        args.unaligned,
        args.log,
        mismatches=args.mismatches,
        threads=args.threads,
    )
    return 0
