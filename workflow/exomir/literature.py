"""Do the published miRNAs replicate here, in the same direction?

A literature table lists findings per comparison (``comparison, mirna, direction, ...``;
the bundled one is ``resources/literature/seed_findings.tsv``). A contrast that names a
comparison (``literature: exercise_trained_vs_sedentary``) gets one row per finding: the
published name, the miRNAs of the species it matches (as in the watch list: a name
without an arm matches both arms), the statistics of the most abundant match, and a
verdict:

- ``up`` / ``down``: ``yes`` when padj < alpha with the published sign, else ``no``;
- ``unchanged``: ``yes`` when padj >= alpha, ``no`` when padj < alpha;
- ``mechanism`` (no direction published): ``no verdict``;
- ``not detected``: no miRNA of that name, or no reads; ``not tested``: reads but no padj
  (independent filtering or an outlier).

The summary: k of n findings with a verdict agree; and, for the up/down findings that
were tested, how many changed in the published direction whatever their padj, with a
one-sided sign test (binomial, p = 0.5) of that count.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import pandas as pd

from exomir.errors import ExomirError
from exomir.watchlist import match_names

FINDING_COLUMNS = ("comparison", "mirna", "direction")
DIRECTIONS = ("up", "down", "unchanged", "mechanism")
LITERATURE_COLUMNS = [
    "comparison",
    "published",
    "matched",
    "mirna",
    "expected",
    "baseMean",
    "log2FoldChange",
    "padj",
    "agrees",
    "context",
    "mechanism",
    "source",
]
SUMMARY_COLUMNS = [
    "contrast",
    "comparison",
    "n_findings",
    "n_with_verdict",
    "n_agree",
    "n_directional_tested",
    "n_same_sign",
    "sign_test_p",
]


def read_findings(path: str | os.PathLike) -> pd.DataFrame:
    """The literature table; problems are one-line errors naming the file."""
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, comment="#", keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ExomirError(f"{path}: cannot read literature table: {err}") from err
    missing = [c for c in FINDING_COLUMNS if c not in table.columns]
    if missing:
        raise ExomirError(f"{path}: literature table lacks column(s) {', '.join(missing)}")
    table = table.assign(direction=table["direction"].str.strip().str.lower())
    bad = sorted(set(table["direction"]) - set(DIRECTIONS))
    if bad:
        raise ExomirError(
            f"{path}: direction must be one of {', '.join(DIRECTIONS)}, not {', '.join(bad)}"
        )
    for column in ("context", "mechanism", "source"):
        if column not in table.columns:
            table[column] = ""
    return table


def check_comparisons(findings: pd.DataFrame, requested: Mapping[str, str], path: str) -> None:
    """Every contrast's ``literature:`` names a comparison of the table."""
    known = set(findings["comparison"])
    for contrast, comparison in sorted(requested.items()):
        if comparison not in known:
            raise ExomirError(
                f"config: contrast '{contrast}': literature comparison '{comparison}' is not in "
                f"{path} (it has: {', '.join(sorted(known))})"
            )


def _verdict(expected: str, row: pd.Series | None, alpha: float) -> str:
    if expected == "mechanism":
        return "no verdict"
    if row is None or not row["baseMean"] > 0:
        return "not detected"
    padj = row["padj"]
    if np.isnan(padj):
        return "not tested"
    if expected == "unchanged":
        return "yes" if padj >= alpha else "no"
    sign = 1 if expected == "up" else -1
    return "yes" if padj < alpha and sign * row["log2FoldChange"] > 0 else "no"


def concordance(
    findings: pd.DataFrame, comparison: str, de_table: pd.DataFrame, alpha: float
) -> pd.DataFrame:
    """One row per finding of ``comparison`` against one contrast's DE table."""
    chosen = findings[findings["comparison"] == comparison]
    stats_of = de_table.set_index("mirna")
    matches = match_names(chosen["mirna"].tolist(), stats_of.index)
    rows = []
    for finding in chosen.itertuples(index=False):
        names = matches[finding.mirna]
        best = None
        if names:
            # the most abundant match stands for a name without arm (what the paper measured)
            best_name = max(names, key=lambda n: (np.nan_to_num(stats_of.loc[n, "baseMean"]), n))
            best = stats_of.loc[best_name]
        rows.append(
            {
                "comparison": comparison,
                "published": finding.mirna,
                "matched": ";".join(names) if names else "NA",
                "mirna": best.name if best is not None else "NA",
                "expected": finding.direction,
                "baseMean": best["baseMean"] if best is not None else np.nan,
                "log2FoldChange": best["log2FoldChange"] if best is not None else np.nan,
                "padj": best["padj"] if best is not None else np.nan,
                "agrees": _verdict(finding.direction, best, alpha),
                "context": finding.context,
                "mechanism": finding.mechanism,
                "source": finding.source,
            }
        )
    return pd.DataFrame(rows, columns=LITERATURE_COLUMNS)


def concordance_summary(contrast: str, table: pd.DataFrame) -> dict:
    """k of n agreeing, and the sign test over the directional findings that were tested."""
    from scipy import stats

    verdict = table["agrees"].isin(["yes", "no"])
    directional = table["expected"].isin(["up", "down"]) & verdict
    sign = np.where(table["expected"] == "up", 1, -1)
    same_sign = int((directional & (sign * table["log2FoldChange"] > 0)).sum())
    n_directional = int(directional.sum())
    p = (
        float(stats.binomtest(same_sign, n_directional, 0.5, alternative="greater").pvalue)
        if n_directional
        else float("nan")
    )
    return {
        "contrast": contrast,
        "comparison": table["comparison"].iloc[0] if len(table) else "",
        "n_findings": len(table),
        "n_with_verdict": int(verdict.sum()),
        "n_agree": int((table["agrees"] == "yes").sum()),
        "n_directional_tested": n_directional,
        "n_same_sign": same_sign,
        "sign_test_p": p,
    }


def summary_sentence(summary: dict, alpha: float) -> str:
    """The summary as the report states it."""
    text = (
        f"{summary['n_agree']} of {summary['n_with_verdict']} findings of "
        f"{summary['comparison']} agree (same sign at padj < {alpha}; unchanged ones at "
        f"padj >= {alpha})"
    )
    if summary["n_directional_tested"]:
        text += (
            f"; {summary['n_same_sign']} of {summary['n_directional_tested']} up/down findings "
            f"changed in the published direction, sign test p = {summary['sign_test_p']:.3g}"
        )
    return text + "."
