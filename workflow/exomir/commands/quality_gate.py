"""exomir quality-gate: PASS/FAIL per sample on miRNA reads and adapter dimers."""

from __future__ import annotations

import argparse

from exomir.commands._de_common import add_spec_argument, load_spec

HELP = "Apply the EV quality gate to read fates; write ev_quality.tsv."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--read-fates", required=True, help="results/qc/read_fates.tsv")
    add_spec_argument(parser)
    parser.add_argument("--out", required=True, help="e.g. results/qc/ev_quality.tsv")
    parser.add_argument("--multiqc", help="also write this MultiQC table (*_mqc.tsv)")


def run(args: argparse.Namespace) -> int:
    from exomir.de_multiqc import quality_section
    from exomir.quality_gate import (
        QualityThresholds,
        evaluate_quality,
        read_read_fates,
        threshold_sources_text,
        write_quality,
    )

    thresholds = QualityThresholds.from_config(load_spec(args.spec))
    quality = evaluate_quality(read_read_fates(args.read_fates), thresholds)
    write_quality(quality, args.out)
    if args.multiqc:
        quality_section(quality, args.multiqc, threshold_sources_text())
    return 0
