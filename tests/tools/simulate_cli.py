"""A simulated small-RNA-seq FASTQ.gz with its truth table, from the command line.

    python -m tools.simulate_cli --mature ... --kit illumina --reads 100000 ...   (from tests/)

A test tool, not an exomir command: the pipeline never simulates reads.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from exomir.errors import ExomirError
from tools.simulate import (
    DEFAULT_ERROR_RATE,
    DEFAULT_SPIKEINS,
    DEFAULT_TAIL_RATE,
    KITS,
    ORIGINS,
    RANDOM_BASE_MODELS,
    TRNA_FRAGMENT_LENGTHS,
    simulate_library,
)

HELP = "Simulate a small-RNA-seq library (FASTQ.gz) and its truth table, for accuracy tests"


def parse_composition(text: str) -> dict[str, float]:
    """``mirna=0.7,trna=0.1,...`` into a dict; origins left out get no reads."""
    composition = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        origin, sep, share = item.partition("=")
        try:
            composition[origin.strip()] = float(share)
        except ValueError:
            sep = ""
        if not sep:
            raise ExomirError(f"--composition: expected origin=share, got '{item}'")
    return composition


def _length_range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        return int(low), int(high)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN-MAX, got '{text}'") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mature", required=True, help="miRBase mature.fa(.gz)")
    parser.add_argument("--hairpin", required=True, help="miRBase hairpin.fa(.gz)")
    parser.add_argument("--species", required=True, help="miRBase species code, e.g. hsa")
    parser.add_argument("--reads", type=int, required=True, help="number of reads")
    parser.add_argument("--kit", required=True, choices=sorted(KITS))
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--read-length", type=int, help="default: 50 (qiaseq: 75)")
    parser.add_argument(
        "--spikein",
        nargs="*",
        default=list(DEFAULT_SPIKEINS),
        help="spike-in names from the mature file (none: no spike-ins)",
    )
    parser.add_argument("--trna-fasta", help="tRNA FASTA (default: random pseudo-tRNAs)")
    parser.add_argument(
        "--composition",
        help=f"molecule shares per origin ({', '.join(ORIGINS)}), e.g. mirna=0.7,dimer=0.3",
    )
    parser.add_argument("--mirnas", type=int, default=300, help="size of the miRNA pool")
    parser.add_argument(
        "--tail-rate",
        type=float,
        default=DEFAULT_TAIL_RATE,
        help="share of miRNA molecules with a non-templated 3' tail of 1-3 nt (mostly A/U)",
    )
    parser.add_argument("--no-errors", action="store_true", help="no sequencing errors")
    parser.add_argument(
        "--adapter", help="sequence following the insert instead of the kit's (adapter variants)"
    )
    parser.add_argument(
        "--random-bases",
        choices=RANDOM_BASE_MODELS,
        default="biased",
        help="kit random bases next to the insert: ligation-biased (default) or uniform",
    )
    parser.add_argument(
        "--trna-lengths",
        type=_length_range,
        default=TRNA_FRAGMENT_LENGTHS,
        help="tRNA fragment lengths MIN-MAX (default %(default)s; tRNA halves: 31-40)",
    )
    parser.add_argument("--fastq", required=True, help="output FASTQ.gz")
    parser.add_argument("--truth", required=True, help="output truth TSV")


def run(args: argparse.Namespace) -> int:
    result = simulate_library(
        args.mature,
        args.hairpin,
        args.species,
        args.reads,
        args.kit,
        args.seed,
        fastq_out=args.fastq,
        truth_out=args.truth,
        read_length=args.read_length,
        spikeins=args.spikein,
        trna_fa=args.trna_fasta,
        composition=parse_composition(args.composition) if args.composition else None,
        n_mirnas=args.mirnas,
        error_rate=None if args.no_errors else DEFAULT_ERROR_RATE,
        tail_rate=args.tail_rate,
        adapter=args.adapter,
        random_bases=args.random_bases,
        trna_lengths=args.trna_lengths,
    )
    print(
        f"{result.fastq}: {result.reads} reads ({result.molecules} molecules), "
        f"{result.read_length} nt, kit {result.kit}, seed {result.seed}, "
        f"{len(result.mirna_pool)} miRNAs in the pool"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="simulate", description=HELP)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ExomirError as error:
        print(f"simulate: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
