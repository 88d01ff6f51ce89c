"""exomir build-reference: one species' hairpins, matures, positions, spike-ins (any database)."""

from __future__ import annotations

import argparse
import sys

from exomir.arguments import add_reference_files, reference_files
from exomir.reference import DEFAULT_SPIKEINS, build_reference

HELP = "build a species reference (hairpin.fa, mature.fa, spikein.fa, positions) from miRBase"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mature",
        help="miRBase mature.fa or MirGeneDB mature FASTA (all species; .gz ok); omit for a "
        "hairpin-only reference: arms are then placed from each hairpin's fold",
    )
    parser.add_argument(
        "--hairpin", required=True, help="miRBase hairpin.fa or MirGeneDB _pre FASTA (.gz ok)"
    )
    parser.add_argument("--gff3", help="miRBase species GFF3: mature positions from coordinates")
    parser.add_argument("--species", required=True, help="species code, e.g. hsa or Cgi (any case)")
    parser.add_argument(
        "--spikein",
        action="append",
        metavar="NAME",
        help="spike-in mature name, repeatable; must exist (default: "
        f"{' '.join(DEFAULT_SPIKEINS)}, each used if the mature file has it, else a warning)",
    )
    parser.add_argument("--no-spikeins", action="store_true", help="no named spike-ins")
    parser.add_argument("--spikein-fasta", help="FASTA of further spike-in sequences")
    parser.add_argument("--release", help="miRBase release, recorded in reference.json")
    add_reference_files(parser, "out", "written")


def run(args: argparse.Namespace) -> int:
    spikeins = [] if args.no_spikeins else args.spikein
    summary = build_reference(
        args.mature,
        args.hairpin,
        args.species,
        spikeins,
        reference_files(args, "out"),
        gff3=args.gff3,
        spikein_fasta=args.spikein_fasta,
        release=args.release,
    )
    print(
        f"{summary['species']}: {summary['hairpins']} hairpins, {summary['matures']} matures, "
        f"{summary['placements']} placements, {len(summary['unplaced_matures'])} unplaced, "
        f"{len(summary['spikeins'])} spike-ins, {len(summary['warnings'])} warnings "
        f"-> {args.summary_out}",
        file=sys.stderr,
    )
    for warning in summary["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return 0
