"""Watch-list matching: paper-style names against miRBase names, and the per-contrast table."""

import math

import pandas as pd
import pytest

from exomir.watchlist import (
    DEFAULT_WATCHLIST,
    WATCHLIST_COLUMNS,
    match_names,
    name_key,
    watchlist_queries,
    watchlist_table,
)

MIRBASE = [
    "hsa-miR-21-5p",
    "hsa-miR-21-3p",
    "hsa-miR-210-3p",
    "hsa-miR-941",
    "hsa-miR-151b",
    "hsa-miR-151a-5p",
    "hsa-miR-92a-3p",
    "hsa-miR-92a-1-5p",
    "hsa-miR-92a-2-5p",
    "hsa-let-7a-5p",
    "hsa-miR-1-3p",
    "hsa-miR-1-5p",
    "hsa-miR-206",
]


def matched(query):
    return match_names([query], MIRBASE)[query]


def test_name_without_species_or_arm_matches_single_arm_mirna():
    assert matched("miR-941") == ["hsa-miR-941"]


def test_name_of_mirna_without_arms_matches():
    assert matched("miR-151b") == ["hsa-miR-151b"]


def test_arm_specific_name_matches_only_that_arm():
    assert matched("miR-21-5p") == ["hsa-miR-21-5p"]


def test_name_without_arm_matches_both_arms_but_not_longer_numbers():
    assert matched("miR-21") == ["hsa-miR-21-3p", "hsa-miR-21-5p"]


def test_mir_token_is_case_insensitive():
    assert matched("MIR-21-5p") == matched("mir-21-5p") == ["hsa-miR-21-5p"]


def test_species_prefix_in_query_is_accepted():
    assert matched("hsa-miR-206") == ["hsa-miR-206"]


def test_let7_keeps_its_family_token():
    assert name_key("let-7a-5p") == "let-7a-5p"
    assert matched("let-7a-5p") == ["hsa-let-7a-5p"]


def test_paralog_copies_match_the_family_arm():
    assert matched("miR-92a-5p") == ["hsa-miR-92a-1-5p", "hsa-miR-92a-2-5p"]
    assert matched("miR-92a-3p") == ["hsa-miR-92a-3p"]


def test_mir1_does_not_match_other_numbers():
    assert matched("miR-1-3p") == ["hsa-miR-1-3p"]


def test_unknown_name_matches_nothing():
    assert matched("miR-99999") == []


def test_default_watchlist_when_not_configured():
    assert watchlist_queries({}) == list(DEFAULT_WATCHLIST)
    assert watchlist_queries({"watchlist": ["miR-16-5p"]}) == ["miR-16-5p"]


def de_table(rows):
    return pd.DataFrame(rows, columns=["mirna", "baseMean", "log2FoldChange", "padj"])


def test_table_has_a_row_per_contrast_and_match_and_flags_missing_queries():
    results = {
        "b_vs_a": de_table([["hsa-miR-21-5p", 100.0, 1.5, 0.01], ["hsa-miR-21-3p", 10, -1, 0.5]]),
        "c_vs_a": de_table([["hsa-miR-21-5p", 90.0, -0.2, 0.9]]),
    }
    table = watchlist_table(results, ["miR-21", "miR-941"])
    assert list(table.columns) == WATCHLIST_COLUMNS
    first = table[table["contrast"] == "b_vs_a"]
    assert first["mirna"].tolist() == ["hsa-miR-21-3p", "hsa-miR-21-5p", "NA"]
    missing = first[first["query"] == "miR-941"].iloc[0]
    assert missing["status"] == "no match" and math.isnan(missing["padj"])
    second = table[(table["contrast"] == "c_vs_a") & (table["mirna"] == "hsa-miR-21-5p")]
    assert second["log2FoldChange"].tolist() == [pytest.approx(-0.2)]
