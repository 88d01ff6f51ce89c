"""Read-weighted QC for the MultiQC report, written as MultiQC custom content.

The tools' own logs see collapsed input (one record per distinct sequence), so their
numbers are distinct sequences, not reads. The figures that must be in reads — read
fates, insert lengths, kit detection — come from exomir's own counters and are written
here as ``*_mqc.json`` files that MultiQC renders as sections.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path

from exomir import fates
from exomir.atomic import atomic_open


def read_fates(path: str | os.PathLike) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _number(value: str) -> float:
    number = float(value)
    return int(number) if number == int(number) else number


def fates_section(rows: Sequence[dict[str, str]]) -> dict:
    """Stacked bar of read fates; the partition columns sum to the input reads."""
    partition = fates.partition_columns(list(rows[0])) if rows else []
    data = {row["sample"]: {c: _number(row[c]) for c in partition} for row in rows}
    categories = {c: {"name": c.replace("_", " ")} for c in partition}
    explained = "; ".join(
        f"<b>{c.replace('_', ' ')}</b>: {fates.DESCRIPTIONS.get(c, c)}" for c in partition
    )
    return {
        "id": "exomir_read_fates",
        "section_name": "Read fates",
        "description": (
            "Where every input read went, in reads (UMI kits: molecules after the UMI "
            f"duplicate step). The categories partition the input. {explained}."
        ),
        "plot_type": "bargraph",
        "pconfig": {"id": "exomir_read_fates_plot", "title": "exomir: read fates", "ylab": "Reads"},
        "categories": categories,
        "data": data,
    }


def insert_length_section(stats: dict[str, dict]) -> dict:
    """Read-weighted insert-length distribution after adapter removal, per sample."""
    data = {
        sample: {
            int(length): reads
            for length, reads in sorted(s["insert_lengths"].items(), key=lambda kv: int(kv[0]))
        }
        for sample, s in stats.items()
    }
    return {
        "id": "exomir_insert_lengths",
        "section_name": "Insert lengths",
        "description": (
            "Length of the insert after adapter (and kit-specific random-base) removal, in "
            "reads, before the length filter. miRNAs peak at 21-23 nt; a peak near 0 means "
            "adapter dimers; "
            "tRNA and Y-RNA fragments sit at 30-35 nt."
        ),
        "plot_type": "linegraph",
        "pconfig": {
            "id": "exomir_insert_lengths_plot",
            "title": "exomir: insert length distribution",
            "xlab": "Insert length (nt)",
            "ylab": "Reads",
        },
        "data": data,
    }


def protocol_section(protocols: dict[str, dict], stats: dict[str, dict]) -> dict:
    """Kit per sample: what was configured, what was used, and why."""
    data = {}
    for sample, p in protocols.items():
        s = stats.get(sample, {})
        data[sample] = {
            "requested": p.get("requested", ""),
            "protocol": p.get("protocol", ""),
            "adapter": p.get("adapter") or "",
            "unit": s.get("unit", "reads"),
            "input": s.get("input", 0),
            "no_adapter": s.get("no_adapter", 0),
            **_mapping_columns(p),
            "warnings": " | ".join(p.get("warnings", []) + s.get("warnings", [])),
        }
    return {
        "id": "exomir_protocols",
        "section_name": "Library kit",
        "description": (
            "Kit per sample: configured value, the structure used (for 'auto' decided by "
            "test mapping: the first 50,000 reads trimmed under each candidate structure and "
            "aligned to this run's references; the one putting most reads on miRNAs wins), its "
            "3' adapter and clipping, the share of sampled reads each candidate put on miRNAs "
            "(and assigned to any reference, when a tie needed it), an adapter inferred from "
            "the reads, and warnings (e.g. a declared kit another structure maps far better)."
        ),
        "plot_type": "table",
        "pconfig": {"id": "exomir_protocols_table", "title": "exomir: library kit"},
        "data": data,
    }


def _mapping_columns(protocol: dict) -> dict:
    """The test-mapping evidence of one protocol.json as report table cells."""
    evidence = protocol.get("evidence") or {}
    mapping = evidence.get("mapping") or {}
    inferred = evidence.get("inferred_adapter") or {}
    cells = []
    for candidate in mapping.get("candidates", []):
        cell = f"{candidate['protocol']} {100 * candidate['mirna_fraction']:.1f}%"
        if candidate.get("assigned_fraction") is not None:
            cell += f" (assigned {100 * candidate['assigned_fraction']:.1f}%)"
        cells.append(cell)
    return {
        "clip5": protocol.get("clip5", 0),
        "clip3_after_adapter": protocol.get("clip3_after_adapter", 0),
        "umi_length": protocol.get("umi_length", 0),
        "mirna_by_candidate": " · ".join(cells) if cells else "no test mapping",
        "inferred_adapter": (
            f"{inferred['adapter']} ({inferred['source']}, {100 * inferred['fraction']:.1f}% "
            "of reads)"
            if inferred
            else ""
        ),
        "reason": evidence.get("reason", ""),
    }


def general_stats_section(rows: Sequence[dict[str, str]]) -> dict:
    data = {}
    for row in rows:
        total = float(row["input"]) or 1.0
        data[row["sample"]] = {
            "input_reads": _number(row["input"]),
            "mature_pct": round(100 * float(row["mature"]) / total, 2),
            "dimer_pct": round(100 * float(row["adapter_dimer"]) / total, 2),
        }
    return {
        "id": "exomir_general",
        "plot_type": "generalstats",
        "pconfig": [
            {"input_reads": {"title": "Reads", "description": "input reads", "format": "{:,.0f}"}},
            {"mature_pct": {"title": "% miRNA", "suffix": "%", "max": 100, "min": 0}},
            {"dimer_pct": {"title": "% dimer", "suffix": "%", "max": 100, "min": 0}},
        ],
        "data": data,
    }


def write_report_content(
    fates_path: str | os.PathLike,
    protocol_paths: Sequence[str | os.PathLike],
    stats_paths: Sequence[str | os.PathLike],
    outdir: str | os.PathLike,
) -> list[Path]:
    outdir = Path(outdir)
    rows = read_fates(fates_path)
    protocols = {}
    for path in protocol_paths:
        record = json.loads(Path(path).read_text())
        protocols[record["sample"]] = record
    stats = {}
    for path in stats_paths:
        record = json.loads(Path(path).read_text())
        stats[record["sample"]] = record
    sections = {
        "exomir_general_mqc.json": general_stats_section(rows),
        "exomir_read_fates_mqc.json": fates_section(rows),
        "exomir_insert_lengths_mqc.json": insert_length_section(stats),
        "exomir_protocols_mqc.json": protocol_section(protocols, stats),
    }
    written = []
    for name, section in sections.items():
        with atomic_open(outdir / name) as handle:
            # key order matters: the bar stacks fates in partition (priority) order
            json.dump(section, handle, indent=1)
        written.append(outdir / name)
    return written
