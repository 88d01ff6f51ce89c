"""What an analyst must see before reading any figure, as the report's first section.

A DE result can be formally correct and still answer the wrong question: a contrast
whose groups were sequenced in different batches or with different kits measures the
batch or kit, and a group mixing kits adds kit bias to its variance. Failing libraries
and contrasts that tested nothing are easy to miss further down. These checks use only
what the run already wrote: the sample sheet, the kits in ``results/provenance.yaml``,
``results/qc/ev_quality.tsv`` and each contrast's ``results/de/{contrast}.json``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

# Sheet columns a contrast must not coincide with; "detected kit" comes from provenance.
NUISANCE_COLUMNS = ("batch", "kit", "protocol")
# A library with less than this share of its input reads on miRNAs has next to no profile.
NEAR_ZERO_MIRNA_FRACTION = 0.01
SEVERE, CAUTION = "danger", "warning"
# Samples named in one warning; the rest are counted (the tables list them all).
MAX_LISTED = 20


@dataclass(frozen=True)
class ReportWarning:
    """One warning: how severe (a Bootstrap alert class), what it is about, and the text."""

    level: str
    topic: str
    text: str


def _values(samples: Iterable[str], labels: Mapping[str, str]) -> dict[str, list[str]]:
    """Samples grouped by their label (samples without one are left out)."""
    grouped: dict[str, list[str]] = {}
    for sample in samples:
        value = labels.get(sample, "")
        if value != "":
            grouped.setdefault(value, []).append(sample)
    return grouped


def confounded(levels: Mapping[str, list[str]], labels: Mapping[str, str]) -> bool:
    """True if the label separates the compared groups: it takes more than one value over
    the contrast's samples and no value occurs in two groups (every sample labelled)."""
    samples = [s for members in levels.values() for s in members]
    if any(labels.get(s, "") == "" for s in samples):
        return False
    values = {labels[s] for s in samples}
    if len(values) < 2:
        return False
    for value in values:
        groups_with_value = [
            lv for lv, members in levels.items() if any(labels[s] == value for s in members)
        ]
        if len(groups_with_value) > 1:
            return False
    return True


def contrast_warnings(
    summary: Mapping, nuisances: Mapping[str, Mapping[str, str]], kits: Mapping[str, str]
) -> list[ReportWarning]:
    """Warnings of one contrast from its sidecar JSON: nothing tested, groups confounded
    with a nuisance column or the detected kit, groups mixing kits, samples left out."""
    name = str(summary.get("contrast", "?"))
    levels = {str(k): [str(s) for s in v] for k, v in (summary.get("samples") or {}).items()}
    found = []
    if int(summary.get("n_tested", 0)) == 0:
        found.append(
            ReportWarning(
                SEVERE,
                name,
                f"contrast {name}: no miRNA was tested (every miRNA had zero counts or was "
                "removed by independent filtering); its table holds no result.",
            )
        )
    candidates = {**{f"sheet column '{c}'": v for c, v in nuisances.items()}, "detected kit": kits}
    for what, labels in candidates.items():
        if levels and confounded(levels, labels):
            per_level = "; ".join(
                f"{level}: {', '.join(sorted({labels[s] for s in members}))}"
                for level, members in levels.items()
            )
            found.append(
                ReportWarning(
                    SEVERE,
                    name,
                    f"contrast {name} is confounded with the {what} ({per_level}): its "
                    "fold changes cannot be told apart from that difference.",
                )
            )
    for level, members in levels.items():
        by_kit = _values(members, kits)
        if len(by_kit) > 1:
            listing = "; ".join(
                f"{kit}: {', '.join(sorted(s))}" for kit, s in sorted(by_kit.items())
            )
            found.append(
                ReportWarning(
                    CAUTION,
                    name,
                    f"contrast {name}, group {level}: samples were made with {len(by_kit)} "
                    f"kits ({listing}); kit bias adds to this group's variance.",
                )
            )
    excluded = summary.get("excluded_samples") or {}
    if excluded:
        listing = ", ".join(f"{s} ({why})" for s, why in sorted(excluded.items()))
        found.append(
            ReportWarning(
                CAUTION, name, f"contrast {name}: samples left out of the fit: {listing}."
            )
        )
    return found


def _listing(items: list[str], where: str) -> str:
    """The first MAX_LISTED items, then how many more and where they all are."""
    shown = ", ".join(items[:MAX_LISTED])
    if len(items) > MAX_LISTED:
        shown += f" and {len(items) - MAX_LISTED:,} more (all in {where})"
    return shown


def quality_warnings(quality: pd.DataFrame) -> list[ReportWarning]:
    """Samples failing the EV quality gate, and samples with next to no miRNA reads."""
    found = []
    failing = quality[quality["overall"] == "FAIL"]
    if len(failing):
        checks: dict[str, int] = {}
        for failed in failing["failed_checks"]:
            for check in str(failed).split(";"):
                checks[check] = checks.get(check, 0) + 1
        per_check = ", ".join(f"{check} {n:,}" for check, n in checks.items())
        listing = _listing(
            [
                f"{row['sample']} ({str(row['failed_checks']).replace(';', ', ')})"
                for _, row in failing.iterrows()
            ],
            "the EV quality gate table",
        )
        found.append(
            ReportWarning(
                SEVERE,
                "EV quality gate",
                f"{len(failing):,} of {len(quality):,} samples fail the EV quality gate "
                f"(failed checks: {per_check}): {listing}.",
            )
        )
    fraction = pd.to_numeric(quality["mirna_fraction"], errors="coerce").fillna(0.0)
    near_zero = quality[fraction < NEAR_ZERO_MIRNA_FRACTION]
    if len(near_zero):
        listing = _listing(
            [
                f"{row['sample']} ({float(row['mirna_reads']):,.0f} miRNA reads)"
                for _, row in near_zero.iterrows()
            ],
            "the EV quality gate table",
        )
        found.append(
            ReportWarning(
                SEVERE,
                "miRNA reads",
                f"{len(near_zero):,} samples have under {NEAR_ZERO_MIRNA_FRACTION:.0%} of their "
                f"reads on miRNAs: {listing}.",
            )
        )
    return found


# MultiQC tables never wrap cells: long kit warnings and NA reasons ran off the screen.
# The warnings section is in every report, so it carries the style for exomir's tables.
TABLE_STYLE = (
    "<style>#exomir_protocols_table_table td, #exomir_protocols_table_table td *, "
    "#exomir_ev_quality_table_table td:last-child, "
    "#exomir_ev_quality_table_table td:last-child * "
    "{white-space: normal !important; min-width: 0;}</style>"
)


def warnings_html(warnings: list[ReportWarning]) -> str:
    return TABLE_STYLE + _alerts(warnings)


def _alerts(warnings: list[ReportWarning]) -> str:
    if not warnings:
        return (
            '<div class="alert alert-success">No warnings: no contrast is confounded with '
            "batch or kit, no group mixes kits, every sample passes the EV quality gate and "
            "every contrast tested miRNAs.</div>"
        )
    items = "".join(
        f'<div class="alert alert-{w.level}" style="margin-bottom:6px">'
        f"<strong>{html.escape(w.topic)}</strong>: {html.escape(w.text)}</div>"
        for w in warnings
    )
    return f"<div>{items}</div>"


def warnings_section(warnings: list[ReportWarning]) -> dict:
    return {
        "id": "exomir_warnings",
        "section_name": "Warnings",
        "description": (
            f"{len(warnings)} warning(s) to read before any figure: confounded contrasts, "
            "groups mixing kits, failing samples, contrasts without results."
        ),
        "plot_type": "html",
        "data": warnings_html(warnings),
    }
