"""The kit-decision options of ``exomir trim`` and ``exomir detect-kit`` and the decision
they ask for (kept apart from :mod:`exomir.arguments`: only these two commands load the
trimming and test-mapping code)."""

from __future__ import annotations

import argparse
import sys

from exomir import fastq, kit_mapping, kits


def add_kit_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """Which kit to use or how to find it (``exomir trim`` and ``exomir detect-kit``)."""
    parser.add_argument(
        "--protocol", required=required, help="kit preset name, 'auto' or 'custom' (as configured)"
    )
    parser.add_argument("--adapter", help="explicit 3' adapter; overrides the preset's")
    parser.add_argument(
        "--kits", default=None, help="kit presets YAML (default: the presets shipped with exomir)"
    )
    parser.add_argument(
        "--max-reads", type=int, default=100_000, help="reads examined (default 100000)"
    )
    # Test mapping (exomir.kit_mapping): no index given, no test mapping.
    parser.add_argument(
        "--mapping-index",
        nargs="*",
        default=[],
        help="bowtie index prefix of the combined test-mapping reference (exomir "
        "kit-mapping-reference: hairpins, spike-ins, biotypes; one bowtie call)",
    )
    parser.add_argument(
        "--mirna-index",
        nargs="*",
        default=[],
        help="instead: separate bowtie index prefix(es) whose hits count as miRNA (hairpins)",
    )
    parser.add_argument(
        "--reference-index",
        nargs="*",
        default=[],
        help="and separate index prefix(es) whose hits count as assigned (spike-ins, biotypes)",
    )
    parser.add_argument(
        "--mapping-reads",
        type=int,
        default=kit_mapping.DEFAULT_MAPPING_READS,
        help="reads trimmed and mapped per candidate (default %(default)s)",
    )


def detect_kit(args: argparse.Namespace, command: str) -> kits.Detection:
    """Decide the kit as the options say; warnings go to stderr (the job's log)."""
    warnings: list[str] = []
    sequences = fastq.first_sequences(args.fastq, args.max_reads, warnings=warnings)
    references = kit_mapping.MappingReferences(
        tuple(args.mirna_index), tuple(args.reference_index), tuple(args.mapping_index)
    )
    detection = kit_mapping.decide_structure(
        sequences,
        args.protocol,
        args.adapter,
        kits.load_kits(args.kits),
        references,
        max_reads=args.max_reads,
        mapping_reads=args.mapping_reads,
        min_length=getattr(args, "min_length", kit_mapping.DEFAULT_MIN_LENGTH),
        max_length=getattr(args, "max_length", kit_mapping.DEFAULT_MAX_LENGTH),
        threads=getattr(args, "threads", 1),
        source=f"sample {args.sample} ({', '.join(str(path) for path in args.fastq)})",
    )
    detection.warnings[:0] = warnings
    for warning in detection.warnings:
        print(f"exomir {command}: warning: sample {args.sample}: {warning}", file=sys.stderr)
    if "mapping_seconds" in detection.timings:
        print(
            f"exomir {command}: sample {args.sample}: kit decided by test mapping "
            f"({detection.kit.name}) in {detection.timings['mapping_seconds']:.2f} s, "
            f"{detection.timings['mapping_cpu_seconds']:.2f} CPU s",
            file=sys.stderr,
        )
    return detection
