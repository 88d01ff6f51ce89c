"""The accuracy evaluator on tiny hand-made truth, isomiR and count tables."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from exomir.errors import ExomirError
from tools.accuracy import (
    evaluate,
    evaluate_files,
    read_isomirs,
    read_mature_counts,
    spearman,
)

A, B, C = "hsa-miR-a", "hsa-miR-b", "hsa-miR-c"


def truth_table(rows) -> pd.DataFrame:
    """Rows (origin, label, insert, reads[, molecules]); molecules default to reads."""
    full = [row if len(row) == 5 else (*row, row[3]) for row in rows]
    return pd.DataFrame(full, columns=["origin", "label", "insert", "reads", "molecules"])


def isomir_table(rows) -> pd.DataFrame:
    """Rows (mirna, sequence, count)."""
    table = pd.DataFrame(rows, columns=["mirna", "sequence", "count"])
    table[["start_offset", "end_offset", "mismatches"]] = 0
    table["tail"] = "."
    return table


def mature(mapping: dict[str, float]) -> pd.Series:
    return pd.Series(mapping, dtype=float)


PERFECT_TRUTH = truth_table(
    [
        ("mirna", A, "AAAA", 100),
        ("mirna", A, "AAAT", 20),
        ("mirna", B, "CCCC", 50),
        ("mirna", C, "GGGG", 30),
        ("spikein", "cel-miR-39-3p", "TTTT", 40),
        ("trna", "", "GTGTGT", 60),
        ("random", "", "ACACAC", 30),
        ("dimer", "", "", 10),
    ]
)
PERFECT_ISOMIRS = isomir_table(
    [(A, "AAAA", 100), (A, "AAAT", 20), (B, "CCCC", 50), (C, "GGGG", 30)]
)
PERFECT_MATURE = mature({A: 120, B: 50, C: 30, "hsa-miR-unseen": 0})


def test_perfect_counts_score_perfectly():
    report = evaluate(PERFECT_TRUTH, PERFECT_ISOMIRS, PERFECT_MATURE)
    assert report.spearman == pytest.approx(1.0)
    assert report.right_fraction == 1.0
    assert report.non_mirna_fraction == 0.0
    assert report.recovery == 1.0
    assert report.mirna_true == 200 and report.non_mirna_true == 100


def test_spikeins_count_neither_as_mirna_nor_as_non_mirna():
    report = evaluate(PERFECT_TRUTH, PERFECT_ISOMIRS, PERFECT_MATURE)
    assert report.mirna_true + report.non_mirna_true == PERFECT_TRUTH["reads"].sum() - 40


def test_reads_counted_for_another_mirna_are_wrong():
    isomirs = isomir_table([(A, "AAAA", 100), (B, "AAAT", 20), (B, "CCCC", 50), (C, "GGGG", 30)])
    report = evaluate(PERFECT_TRUTH, isomirs, PERFECT_MATURE)
    assert report.right_fraction == pytest.approx(180 / 200)


def test_fractional_split_counts_only_the_right_share():
    isomirs = isomir_table(
        [(A, "AAAA", 50), (B, "AAAA", 50), (A, "AAAT", 20), (B, "CCCC", 50), (C, "GGGG", 30)]
    )
    report = evaluate(PERFECT_TRUTH, isomirs, PERFECT_MATURE)
    assert report.right_fraction == pytest.approx(150 / 200)


def test_inserts_lost_by_the_pipeline_are_not_right():
    isomirs = isomir_table([(A, "AAAA", 100), (B, "CCCC", 50)])
    report = evaluate(PERFECT_TRUTH, isomirs, PERFECT_MATURE)
    assert report.right_fraction == pytest.approx(150 / 200)


def test_colliding_truth_rows_split_the_counted_insert_proportionally():
    # One sequence, 90 reads from miR-a and 10 from miR-b (a sequencing error made them
    # collide): all 100 counted for miR-a is the best possible and scores 90 right.
    truth = truth_table([("mirna", A, "AAAA", 90), ("mirna", B, "AAAA", 10)])
    isomirs = isomir_table([(A, "AAAA", 100)])
    report = evaluate(truth, isomirs, mature({A: 100, B: 0}))
    assert report.mirna_counted_right == pytest.approx(90)
    assert report.right_fraction == pytest.approx(0.9)


def test_non_mirna_reads_equal_to_a_mirna_insert_share_its_count():
    truth = truth_table([("mirna", A, "AAAA", 80), ("random", "", "AAAA", 20)])
    isomirs = isomir_table([(A, "AAAA", 100)])
    report = evaluate(truth, isomirs, mature({A: 100}))
    assert report.right_fraction == pytest.approx(1.0)
    assert report.non_mirna_counted_as_mirna == pytest.approx(20)
    assert report.non_mirna_fraction == pytest.approx(1.0)


def test_non_mirna_reads_counted_for_any_mirna_are_false_positives():
    isomirs = pd.concat(
        [PERFECT_ISOMIRS, isomir_table([(A, "GTGTGT", 15), (C, "GTGTGT", 15)])], ignore_index=True
    )
    report = evaluate(PERFECT_TRUTH, isomirs, PERFECT_MATURE)
    assert report.non_mirna_counted_as_mirna == pytest.approx(30)
    assert report.non_mirna_fraction == pytest.approx(30 / 100)


def test_counts_above_the_true_units_are_capped():
    isomirs = isomir_table([(A, "AAAA", 150), (A, "AAAT", 20), (B, "CCCC", 50), (C, "GGGG", 30)])
    assert evaluate(PERFECT_TRUTH, isomirs, PERFECT_MATURE).right_fraction == 1.0


def test_spearman_uses_only_mirnas_with_enough_true_reads():
    truth = truth_table(
        [("mirna", A, "AAAA", 100), ("mirna", B, "CCCC", 50), ("mirna", C, "GGGG", 19)]
    )
    # miR-c (19 true reads) is counted absurdly high, but is below the threshold.
    report = evaluate(truth, isomir_table([]), mature({A: 90, B: 40, C: 10_000}))
    assert report.mirnas_compared == 2
    assert report.spearman == pytest.approx(1.0)
    lowered = evaluate(truth, isomir_table([]), mature({A: 90, B: 40, C: 10_000}), min_true=10)
    assert lowered.mirnas_compared == 3
    assert lowered.spearman < 0


def test_mirnas_missing_from_the_count_table_count_as_zero():
    truth = truth_table(
        [("mirna", A, "AAAA", 100), ("mirna", B, "CCCC", 50), ("mirna", C, "GGGG", 30)]
    )
    report = evaluate(truth, isomir_table([]), mature({A: 100, B: 50}))
    assert report.spearman == pytest.approx(spearman([100, 50, 30], [100, 50, 0]))
    assert report.recovery == pytest.approx(150 / 180)


def test_umi_kits_are_compared_in_molecules():
    truth = truth_table(
        [("mirna", A, "AAAA", 400, 100), ("mirna", B, "CCCC", 100, 50), ("dimer", "", "", 90, 30)]
    )
    isomirs = isomir_table([(A, "AAAA", 100), (B, "CCCC", 50)])
    report = evaluate(truth, isomirs, mature({A: 100, B: 50}), unit="molecules", min_true=1)
    assert report.mirna_true == 150 and report.non_mirna_true == 30
    assert report.right_fraction == 1.0 and report.recovery == 1.0
    in_reads = evaluate(truth, isomirs, mature({A: 100, B: 50}), unit="reads", min_true=1)
    assert in_reads.right_fraction == pytest.approx(150 / 500)


def test_unknown_unit_is_a_user_error():
    with pytest.raises(ExomirError, match="unit must be one of"):
        evaluate(PERFECT_TRUTH, PERFECT_ISOMIRS, PERFECT_MATURE, unit="umis")


def test_spearman_handles_ties_and_degenerate_input():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [40, 30, 20, 10]) == pytest.approx(-1.0)
    assert spearman([1, 2, 2, 3], [1, 2, 2, 3]) == pytest.approx(1.0)
    assert math.isnan(spearman([1], [1]))
    assert math.isnan(spearman([1, 2, 3], [5, 5, 5]))


def test_summary_names_every_figure():
    text = evaluate(PERFECT_TRUTH, PERFECT_ISOMIRS, PERFECT_MATURE).summary()
    for phrase in ("spearman", "right miRNA: 1.0000", "counted as miRNA: 0.0000", "unit: reads"):
        assert phrase in text


# --- files -----------------------------------------------------------------------------


def write(path, text: str):
    path.write_text(text)
    return path


ISOMIRS_TSV = (
    "mirna\tsequence\tstart_offset\tend_offset\ttail\tmismatches\tcount\n"
    f"{A}\tAAAA\t0\t0\t.\t0\t2.5\n{B}\tAAAA\t0\t0\t.\t0\t2.5\n{B}\tCCCC\t0\t1\t.\t0\t5\n"
)
TRUTH_TSV = (
    "origin\tlabel\tinsert\treads\tmolecules\n"
    "dimer\t\t\t7\t7\n"
    f"mirna\t{A}\tAAAA\t5\t5\nmirna\t{B}\tCCCC\t5\t5\n"
)


def test_evaluate_files_reads_the_pipeline_formats(tmp_path):
    report = evaluate_files(
        write(tmp_path / "truth.tsv", TRUTH_TSV),
        write(tmp_path / "isomirs.tsv", ISOMIRS_TSV),
        write(tmp_path / "mature.tsv", f"mirna\ts1\n{A}\t2.5\n{B}\t7.5\n"),
        min_true=1,
    )
    assert report.right_fraction == pytest.approx(7.5 / 10)
    assert report.non_mirna_true == 7


def test_isomir_counts_are_read_as_fractional_numbers(tmp_path):
    table = read_isomirs(write(tmp_path / "isomirs.tsv", ISOMIRS_TSV))
    assert table["count"].tolist() == [2.5, 2.5, 5.0]


def test_isomir_table_missing_a_column_is_named(tmp_path):
    path = write(tmp_path / "isomirs.tsv", "mirna\tsequence\tcount\nm\tAC\t1\n")
    with pytest.raises(ExomirError, match=r"isomirs\.tsv: isomir table lacks column"):
        read_isomirs(path)


def test_non_numeric_count_names_file_line_and_column(tmp_path):
    path = write(tmp_path / "mature.tsv", f"mirna\ts1\n{A}\t3\n{B}\tlots\n")
    with pytest.raises(ExomirError, match=r"mature\.tsv: line 3, column s1: not a number: 'lots'"):
        read_mature_counts(path)


def test_merged_matrix_needs_the_sample_named(tmp_path):
    path = write(tmp_path / "m.tsv", f"mirna\ts1\ts2\n{A}\t3\t4\n")
    with pytest.raises(ExomirError, match="several samples"):
        read_mature_counts(path)
    assert read_mature_counts(path, "s2")[A] == 4
    with pytest.raises(ExomirError, match="no column for sample 's3'"):
        read_mature_counts(path, "s3")


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(ExomirError, match="cannot read isomir table"):
        read_isomirs(tmp_path / "absent.tsv")
