"""exomir quality-gate: PASS/FAIL per sample on miRNA reads and adapter dimers."""

from __future__ import annotations

import argparse

from exomir.arguments import add_config_file, config_file
from exomir.runfiles import read_sample_list

HELP = "Apply the EV quality gate to read fates; write ev_quality.tsv."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--read-fates", required=True, help="results/qc/read_fates.tsv")
    parser.add_argument(
        "--protocols", help="sample list of the samples' protocol.json (for likely_reason)"
    )
    add_config_file(parser, "quality_gate")
    parser.add_argument("--out", required=True, help="e.g. results/qc/ev_quality.tsv")
    parser.add_argument("--multiqc", help="also write this MultiQC table (*_mqc.tsv)")


def run(args: argparse.Namespace) -> int:
    from exomir.de_multiqc import quality_section
    from exomir.quality_gate import (
        QualityThresholds,
        evaluate_quality,
        read_protocols,
        read_read_fates,
        threshold_sources_text,
        write_quality,
    )

    thresholds = QualityThresholds.from_config(config_file(args))
    protocols = read_sample_list(args.protocols)[1] if args.protocols else []
    quality = evaluate_quality(
        read_read_fates(args.read_fates), thresholds, read_protocols(protocols)
    )
    write_quality(quality, args.out)
    if args.multiqc:
        quality_section(quality, args.multiqc, threshold_sources_text())
    return 0
