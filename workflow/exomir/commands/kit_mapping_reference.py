"""``exomir kit-mapping-reference``: the one FASTA the kit decision's test mapping aligns to.

Hairpins, spike-ins and biotype references together, each record named
``<reference>|<name>``, so that ``exomir trim`` needs one bowtie call a sample
(:mod:`exomir.kit_mapping`).
"""

from __future__ import annotations

import argparse
import sys

from exomir.kit_mapping import write_mapping_reference

HELP = "combine hairpins, spike-ins and biotype FASTAs into the kit decision's test-mapping FASTA"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hairpin", required=True, help="hairpin.fa (hits count as miRNA)")
    parser.add_argument(
        "--other",
        nargs="*",
        default=[],
        help="spike-in and biotype FASTAs (hits count as assigned), named by file: tRNA.fa -> tRNA",
    )
    parser.add_argument("--out", required=True, help="combined FASTA to write")


def run(args: argparse.Namespace) -> int:
    counts = write_mapping_reference(args.hairpin, args.other, args.out)
    summary = ", ".join(f"{name} {n}" for name, n in counts.items())
    print(
        f"exomir kit-mapping-reference: {args.out}: records by reference: {summary}",
        file=sys.stderr,
    )
    return 0
