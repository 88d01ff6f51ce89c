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

import pandas as pd

from exomir import fates
from exomir.atomic import atomic_open
from exomir.errors import ExomirError
from exomir.fates import COLOURS as FATE_COLOURS
from exomir.fates import EXTRA_COLOURS as EXTRA_FATE_COLOURS

# A library whose most abundant miRNA holds at least this share of its miRNA reads is
# flagged as dominated: its profile is one miRNA (e.g. red-cell miR-451a / miR-486-5p in
# haemolysed plasma) and every other share is squeezed (exomir's threshold).
DOMINATED_SHARE = 0.5
# Per-sample legends stop being readable (and cost render time) beyond this many lines.
MAX_LEGEND_SAMPLES = 40


def _count_table(path: str | os.PathLike) -> pd.DataFrame:
    """A feature x sample count table (first column: names)."""
    try:
        table = pd.read_csv(path, sep="\t", index_col=0)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ExomirError(f"{path}: cannot read count table: {error}") from error
    numbers = table.apply(pd.to_numeric, errors="coerce")
    if numbers.isna().to_numpy().any():
        raise ExomirError(f"{path}: a count is not a number")
    return numbers


def read_fates(path: str | os.PathLike) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _number(value: str) -> float:
    number = float(value)
    return int(number) if number == int(number) else number


def fate_colours(fates: Sequence[str]) -> dict[str, str]:
    """A distinct colour per fate: fixed ones for exomir's fates, then a spare palette."""
    spare = iter(EXTRA_FATE_COLOURS)
    colours = {}
    for fate in fates:
        colours[fate] = FATE_COLOURS.get(fate) or next(spare, "#000000")
    return colours


def fates_section(rows: Sequence[dict[str, str]]) -> dict:
    """Stacked bar of read fates; the partition columns sum to the input reads."""
    partition = fates.partition_columns(list(rows[0])) if rows else []
    data = {row["sample"]: {c: _number(row[c]) for c in partition} for row in rows}
    colours = fate_colours(partition)
    categories = {c: {"name": c.replace("_", " "), "color": colours[c]} for c in partition}
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
    """Read-weighted insert-length distribution after adapter removal, per sample: in reads
    and as a percentage of the sample's reads, so libraries of any depth compare."""
    data = {
        sample: {
            int(length): reads
            for length, reads in sorted(s["insert_lengths"].items(), key=lambda kv: int(kv[0]))
        }
        for sample, s in stats.items()
    }
    percent = {}
    for sample, lengths in data.items():
        total = sum(lengths.values()) or 1
        percent[sample] = {
            length: round(100 * reads / total, 3) for length, reads in lengths.items()
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
            "showlegend": len(data) <= MAX_LEGEND_SAMPLES,
            "data_labels": [
                {"name": "Reads", "ylab": "Reads"},
                {"name": "% of reads", "ylab": "% of the sample's reads", "ysuffix": "%"},
            ],
        },
        "data": [data, percent],
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
    headers = {
        "requested": {"title": "Configured", "description": "protocol in the config or sheet"},
        "protocol": {"title": "Kit used", "description": "preset used for trimming"},
        "adapter": {"title": "3' adapter", "description": "adapter sequence trimmed"},
        "unit": {"title": "Unit", "description": "what the counts count"},
        "input": {"title": "Input", "description": "input reads", **COUNT_FORMAT},
        "no_adapter": {
            "title": "No adapter",
            "description": "reads in which no adapter was found",
            **COUNT_FORMAT,
        },
        "clip5": {"title": "5' clip", "description": "bases removed from the 5' end (nt)"},
        "clip3_after_adapter": {
            "title": "3' clip",
            "description": "bases removed before the 3' adapter (random bases, nt)",
        },
        "umi_length": {"title": "UMI", "description": "UMI length after the adapter (nt)"},
        "mirna_by_candidate": {
            "title": "miRNA by candidate",
            "description": "share of the sampled reads each candidate structure put on miRNAs "
            "(and on any reference)",
        },
        "inferred_adapter": {
            "title": "Inferred adapter",
            "description": "3' adapter inferred from the reads, and the share it explains",
        },
        "reason": {"title": "Why", "description": "why this structure was chosen"},
        # text, never a number: MultiQC would parse "1,000 reads" and drop the commas
        "warnings": {"title": "Warnings", "description": "kit decision and trimming warnings"},
    }
    return {
        "id": "exomir_protocols",
        "section_name": "Library kit",
        "description": (
            "Kit per sample: configured value, the structure used (for 'auto' decided by "
            "test mapping: the first 50,000 reads trimmed under each candidate structure and "
            "aligned to this run's references; the one putting most reads on miRNAs wins), its "
            "3' adapter and clipping, the share of sampled reads each candidate put on miRNAs "
            "and assigned to any of the run's references (spike-ins, hairpins, biotypes; the "
            "total breaks miRNA ties), an adapter inferred from "
            "the reads, and warnings (e.g. a declared kit another structure maps far better)."
        ),
        "plot_type": "table",
        "pconfig": {
            "id": "exomir_protocols_table",
            "title": "exomir: library kit",
            "col1_header": "Sample",
            "no_violin": True,
        },
        "headers": headers,
        "data": data,
    }


def _mapping_columns(protocol: dict) -> dict:
    """The test-mapping evidence of one protocol.json as report table cells."""
    evidence = protocol.get("evidence") or {}
    mapping = evidence.get("mapping") or {}
    inferred = evidence.get("inferred_adapter") or {}
    cells = []
    for candidate in mapping.get("candidates", []):
        cell = f"{candidate['protocol']} {100 * candidate['mirna_fraction']:.1f}% miRNA"
        if candidate.get("assigned_fraction") is not None:  # null: hairpins alone were given
            cell += f", {100 * candidate['assigned_fraction']:.1f}% assigned"
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


COUNT_FORMAT = {"format": "{:,.0f}", "scale": False}
PERCENT_FORMAT = {"format": "{:.2f}", "suffix": "%", "min": 0, "max": 100, "scale": False}


def general_stats_section(
    rows: Sequence[dict[str, str]], facts: pd.DataFrame | None = None
) -> dict:
    """Read-based figures only (the tools' own columns count distinct sequences)."""
    data = {}
    for row in rows:
        total = float(row["input"]) or 1.0
        data[row["sample"]] = {
            "input_reads": _number(row["input"]),
            "mature_pct": round(100 * float(row["mature"]) / total, 2),
            "dimer_pct": round(100 * float(row["adapter_dimer"]) / total, 2),
        }
        if facts is not None and row["sample"] in facts.index:
            data[row["sample"]]["mirnas_detected"] = int(facts.loc[row["sample"], "detected"])
    pconfig = [
        {"input_reads": {"title": "Reads", "description": "input reads", **COUNT_FORMAT}},
        {"mature_pct": {"title": "% miRNA", "description": "% of input reads", **PERCENT_FORMAT}},
        {"dimer_pct": {"title": "% dimer", "description": "% of input reads", **PERCENT_FORMAT}},
    ]
    if facts is not None:
        pconfig.append(
            {
                "mirnas_detected": {
                    "title": "miRNAs",
                    "description": "mature miRNAs with at least one count",
                    **COUNT_FORMAT,
                }
            }
        )
    return {"id": "exomir_general", "plot_type": "generalstats", "pconfig": pconfig, "data": data}


def library_facts(counts: pd.DataFrame) -> pd.DataFrame:
    """Per sample: miRNAs detected (count >= 1), the top miRNA and its share of the miRNA
    counts, the top-10 share, and whether one miRNA dominates (``DOMINATED_SHARE``)."""
    rows = []
    for sample in counts.columns:
        column = counts[sample].astype(float)
        total = float(column.sum())
        ranked = column.sort_index().sort_values(ascending=False, kind="mergesort")
        top1 = float(ranked.iloc[0]) / total if total > 0 else float("nan")
        rows.append(
            {
                "sample": sample,
                "detected": int((column >= 1).sum()),
                "mirna_counts": total,
                "top_mirna": str(ranked.index[0]) if total > 0 else "",
                "top1_share": top1,
                "top10_share": float(ranked.head(10).sum()) / total if total > 0 else float("nan"),
                "dominated": bool(total > 0 and top1 >= DOMINATED_SHARE),
            }
        )
    return pd.DataFrame(rows).set_index("sample")


def library_facts_section(facts: pd.DataFrame) -> dict:
    data = {}
    for sample, row in facts.iterrows():
        data[sample] = {
            "detected": int(row["detected"]),
            "mirna_counts": round(float(row["mirna_counts"]), 1),
            "top_mirna": row["top_mirna"] or "none",
            "top1_pct": _percent(row["top1_share"]),
            "top10_pct": _percent(row["top10_share"]),
            "dominated": "DOMINATED" if row["dominated"] else "ok",
        }
    headers = {
        "detected": {
            "title": "miRNAs detected",
            "description": "mature miRNAs with a count of at least 1",
            **COUNT_FORMAT,
        },
        "mirna_counts": {
            "title": "miRNA counts",
            "description": "sum of the mature counts (results/counts/mature_counts.tsv)",
            **COUNT_FORMAT,
        },
        "top_mirna": {"title": "Top miRNA", "description": "the most abundant mature miRNA"},
        "top1_pct": {
            "title": "Top-1 share",
            "description": "% of the miRNA counts",
            **PERCENT_FORMAT,
        },
        "top10_pct": {
            "title": "Top-10 share",
            "description": "% of the miRNA counts in the 10 most abundant miRNAs",
            **PERCENT_FORMAT,
        },
        "dominated": {
            "title": "Dominated",
            "description": f"DOMINATED when the top miRNA holds >= {DOMINATED_SHARE:.0%}",
            "cond_formatting_rules": {"fail": [{"s_eq": "DOMINATED"}], "pass": [{"s_eq": "ok"}]},
        },
    }
    return {
        "id": "exomir_library_facts",
        "section_name": "Library complexity",
        "description": (
            "How many miRNAs each library detects and how much of it its most abundant "
            f"miRNAs take. A library is flagged DOMINATED when one miRNA holds at least "
            f"{DOMINATED_SHARE:.0%} of its miRNA counts (exomir's threshold): its other "
            "miRNAs rest on few reads and compositional shares are distorted."
        ),
        "plot_type": "table",
        "pconfig": {"id": "exomir_library_facts_table", "title": "exomir: library complexity"},
        "headers": headers,
        "data": data,
    }


def spikein_section(spikeins: pd.DataFrame, rows: Sequence[dict[str, str]]) -> dict | None:
    """Reads per spike-in and sample, and as a share of the input; None without any."""
    if spikeins.empty or float(spikeins.to_numpy().sum()) <= 0:
        return None
    inputs = {row["sample"]: float(row["input"]) for row in rows}
    data = {
        sample: {name: round(float(spikeins.loc[name, sample]), 2) for name in spikeins.index}
        for sample in spikeins.columns
    }
    percent = {
        sample: {
            name: round(100 * value / inputs[sample], 4) if inputs.get(sample) else 0
            for name, value in values.items()
        }
        for sample, values in data.items()
    }
    return {
        "id": "exomir_spikeins",
        "section_name": "Spike-ins",
        "description": (
            "Reads aligned to each spike-in (results/counts/spikein_counts.tsv), and as a "
            "% of the sample's input reads. Equal spike-in amounts per sample should give "
            "shares that track RNA input: a sample far above the others had little RNA."
        ),
        "plot_type": "bargraph",
        "pconfig": {
            "id": "exomir_spikeins_plot",
            "title": "exomir: spike-in reads",
            "ylab": "Reads",
            "cpswitch": False,
            "data_labels": [
                {"name": "Reads", "ylab": "Reads"},
                {"name": "% of input", "ylab": "% of input reads", "ysuffix": "%"},
            ],
        },
        "data": [data, percent],
    }


def _percent(share: float) -> float | None:
    return None if pd.isna(share) else round(100 * float(share), 2)


def write_report_content(
    fates_path: str | os.PathLike,
    protocol_paths: Sequence[str | os.PathLike],
    stats_paths: Sequence[str | os.PathLike],
    outdir: str | os.PathLike,
    mature_counts: str | os.PathLike | None = None,
    spikein_counts: str | os.PathLike | None = None,
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
    facts = library_facts(_count_table(mature_counts)) if mature_counts else None
    sections = {
        "exomir_general_mqc.json": general_stats_section(rows, facts),
        "exomir_read_fates_mqc.json": fates_section(rows),
        "exomir_insert_lengths_mqc.json": insert_length_section(stats),
        "exomir_protocols_mqc.json": protocol_section(protocols, stats),
    }
    if facts is not None:
        sections["exomir_library_facts_mqc.json"] = library_facts_section(facts)
    if spikein_counts:
        spikeins = spikein_section(_count_table(spikein_counts), rows)
        if spikeins is not None:
            sections["exomir_spikeins_mqc.json"] = spikeins
    written = []
    for name, section in sections.items():
        with atomic_open(outdir / name) as handle:
            # key order matters: the bar stacks fates in partition (priority) order
            json.dump(section, handle, indent=1)
        written.append(outdir / name)
    return written
