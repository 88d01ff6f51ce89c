"""The EV miRNA watch list: named miRNAs whose DE results are always reported.

Users write names the way papers do (``miR-21-5p``, ``miR-941``, ``hsa-miR-151b``), while
count matrices carry miRBase names (``hsa-miR-21-5p``). Matching ignores the species
prefix and the case of the ``miR``/``let`` token; a query without an arm (``-5p``/``-3p``)
matches both arms, one with an arm matches only that arm. Paralog copy numbers that
miRBase puts before the arm (``hsa-miR-92a-1-5p``) match the query without them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import pandas as pd

from exomir.config import schema_default

DEFAULT_WATCHLIST = tuple(schema_default("watchlist"))
WATCHLIST_COLUMNS = [
    "contrast",
    "query",
    "mirna",
    "baseMean",
    "log2FoldChange",
    "lfcSE",
    "pvalue",
    "padj",
    "status",
]
# Why a watch-list miRNA has no padj, in DESeq2's terms (results() documentation).
TESTED = "tested"
NOT_DETECTED = "not detected (zero counts in every sample)"
FILTERED = "filtered by independent filtering (low mean count; padj NA)"
OUTLIER = "Cook's distance outlier (p-value NA)"

# Optional species prefix (hsa-), then the family token; "let-7a" must keep its "let-".
_NAME = re.compile(r"^(?:[a-z]{3,4}-)?((?:mir|let|lin|lsy|bantam|iab)-.+)$", re.IGNORECASE)
_ARM = re.compile(r"-[35]p$", re.IGNORECASE)


def name_key(name: str) -> str:
    """A miRNA name without species prefix and with the family token in lower case."""
    name = name.strip()
    match = _NAME.match(name)
    if not match:
        return name
    core = match.group(1)
    token, rest = core.split("-", 1)
    return f"{token.lower()}-{rest}"


def _query_pattern(query: str) -> re.Pattern:
    key = name_key(query)
    arm = _ARM.search(key)
    if arm:
        stem = re.escape(key[: arm.start()])
        return re.compile(rf"^{stem}(?:-\d+)?{re.escape(arm.group(0).lower())}$", re.IGNORECASE)
    return re.compile(rf"^{re.escape(key)}(?:-\d+)?(?:-[35]p)?$", re.IGNORECASE)


def match_names(queries: Iterable[str], names: Iterable[str]) -> dict[str, list[str]]:
    """For each query (in the order given), the names it matches, sorted."""
    keyed = [(name_key(str(n)), str(n)) for n in names]
    found: dict[str, list[str]] = {}
    for query in queries:
        pattern = _query_pattern(query)
        found[query] = sorted(name for key, name in keyed if pattern.match(key))
    return found


def watchlist_queries(config: Mapping) -> list[str]:
    """The configured watch list, or the default one."""
    configured = config.get("watchlist")
    if configured is None:
        return list(DEFAULT_WATCHLIST)
    return [str(q) for q in configured]


def watchlist_table(results: Mapping[str, pd.DataFrame], queries: Iterable[str]) -> pd.DataFrame:
    """Watch-list rows for every contrast; a query matching nothing gets one 'no match' row.

    ``results`` maps contrast name to its DE table (with a ``mirna`` column).
    """
    queries = list(queries)
    rows = []
    for contrast in sorted(results):
        table = results[contrast].set_index("mirna")
        for query, names in match_names(queries, table.index).items():
            if not names:
                nan = float("nan")
                rows.append([contrast, query, "NA", nan, nan, nan, nan, nan, "no match"])
            for name in names:
                stats = table.loc[name]
                rows.append(
                    [
                        contrast,
                        query,
                        name,
                        stats["baseMean"],
                        stats["log2FoldChange"],
                        stats.get("lfcSE", float("nan")),
                        stats.get("pvalue", float("nan")),
                        stats["padj"],
                        testing_status(stats),
                    ]
                )
    return pd.DataFrame(rows, columns=WATCHLIST_COLUMNS)


def testing_status(stats: pd.Series) -> str:
    """Tested, or why not: zero counts, independent filtering, or a Cook's outlier."""
    if pd.notna(stats["padj"]):
        return TESTED
    if not stats["baseMean"] > 0:
        return NOT_DETECTED
    if "pvalue" in stats.index and pd.isna(stats["pvalue"]):
        return OUTLIER
    return FILTERED
