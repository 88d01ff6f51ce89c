"""exomir report-overview: the report's warnings (first section) and methods (last)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from exomir.errors import ExomirError

HELP = "write the report's warnings and methods/provenance sections as MultiQC custom content"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--provenance", required=True, help="results/provenance.yaml")
    parser.add_argument("--sample-sheet", required=True)
    parser.add_argument("--quality", help="results/qc/ev_quality.tsv (pipeline runs)")
    parser.add_argument(
        "--contrast-summary",
        action="append",
        default=[],
        help="a contrast's results/de/{contrast}.json (repeat for each contrast)",
    )
    parser.add_argument(
        "--warnings-out", required=True, help="e.g. results/report/warnings_mqc.json"
    )
    parser.add_argument("--methods-out", required=True, help="e.g. results/report/methods_mqc.json")
    parser.add_argument(
        "--order-out",
        required=True,
        help="MultiQC config with the section order of each contrast, e.g. "
        "results/report/multiqc_order.yaml",
    )


def _read_json(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ExomirError(f"{path}: cannot read: {error}") from error


def _read_provenance(path: str) -> dict:
    import yaml

    try:
        record = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ExomirError(f"{path}: cannot read provenance: {error}") from error
    if not isinstance(record, dict):
        raise ExomirError(f"{path}: not a provenance record (expected a mapping)")
    return record


def run(args: argparse.Namespace) -> int:
    import yaml

    from exomir.atomic import atomic_open
    from exomir.de_multiqc import contrast_section_order, write_mqc_json
    from exomir.methods import methods_section
    from exomir.quality_gate import read_quality
    from exomir.report_warnings import (
        NUISANCE_COLUMNS,
        contrast_warnings,
        quality_warnings,
        warnings_section,
    )
    from exomir.samplesheet import read_sample_sheet

    record = _read_provenance(args.provenance)
    summaries = {}
    for path in args.contrast_summary:
        summary = _read_json(path)
        summaries[str(summary.get("contrast", Path(path).stem))] = summary
    sheet = read_sample_sheet(args.sample_sheet, need_fastq=False, check_files=False)
    metadata = {s.name: {**s.metadata, "protocol": s.protocol or ""} for s in sheet.samples}
    nuisances = {
        column: {name: str(meta.get(column) or "") for name, meta in metadata.items()}
        for column in NUISANCE_COLUMNS
        if column in sheet.columns
    }
    kits = {s: str(p.get("used") or "") for s, p in (record.get("protocols") or {}).items()}
    found = []
    for name in sorted(summaries):
        found += contrast_warnings(summaries[name], nuisances, kits)
    if args.quality:
        found += quality_warnings(read_quality(args.quality))
    write_mqc_json(warnings_section(found), args.warnings_out)
    write_mqc_json(methods_section(record, summaries), args.methods_out)
    with atomic_open(args.order_out) as out:
        yaml.safe_dump(contrast_section_order(sorted(summaries)), out, sort_keys=False)
    return 0
