"""The EV quality gate: per-sample checks, the table it writes and which samples DE drops."""

import pandas as pd
import pytest

from exomir.cli import main
from exomir.errors import ExomirError
from exomir.quality_gate import (
    QUALITY_COLUMNS,
    THRESHOLD_SOURCES,
    QualityThresholds,
    de_exclusions,
    evaluate_quality,
    failing_samples,
    read_quality,
    read_read_fates,
    samples_without_mirna_reads,
    write_quality,
)

FATES_HEADER = (
    "sample\tinput\tadapter_dimer\ttoo_short\ttoo_long\tumi_duplicate\tspikein\tmature\t"
    "hairpin_only\tunassigned\tno_adapter\n"
)


def fates_file(tmp_path, rows):
    path = tmp_path / "read_fates.tsv"
    lines = [FATES_HEADER]
    for sample, total, dimer, mature in rows:
        rest = total - dimer - mature
        lines.append(f"{sample}\t{total}\t{dimer}\t0\t0\t0\t0\t{mature}\t0\t{rest}\t0\n")
    path.write_text("".join(lines))
    return path


@pytest.fixture
def fates(tmp_path):
    return read_read_fates(
        fates_file(
            tmp_path,
            [
                ("good", 1_000_000, 100_000, 600_000),
                ("shallow", 100_000, 10_000, 50_000),
                ("dimers", 1_000_000, 700_000, 200_000),
                ("empty", 300_000, 290_000, 0),
            ],
        )
    )


def by_sample(table):
    return table.set_index("sample")


def test_deep_clean_library_passes(fates):
    row = by_sample(evaluate_quality(fates, QualityThresholds())).loc["good"]
    assert row["overall"] == "PASS" and row["failed_checks"] == "none"
    assert row["mirna_fraction"] == pytest.approx(0.6)


def test_too_few_mirna_reads_fails_that_check_only(fates):
    row = by_sample(evaluate_quality(fates, QualityThresholds())).loc["shallow"]
    assert row["mirna_reads_check"] == "FAIL"
    assert row["adapter_dimer_fraction_check"] == "PASS"
    assert row["failed_checks"] == "mirna_reads"


def test_adapter_dimer_fraction_above_threshold_fails(fates):
    row = by_sample(evaluate_quality(fates, QualityThresholds())).loc["dimers"]
    assert row["adapter_dimer_fraction"] == pytest.approx(0.7)
    assert row["adapter_dimer_fraction_check"] == "FAIL" and row["overall"] == "FAIL"


def test_sample_with_zero_mirna_reads_fails_even_with_threshold_zero(fates):
    quality = evaluate_quality(fates, QualityThresholds(min_mirna_reads=0))
    assert by_sample(quality).loc["empty", "overall"] == "FAIL"
    assert samples_without_mirna_reads(quality) == ["empty"]


def test_default_thresholds_are_the_adapted_ercc_criteria_and_each_can_fail():
    defaults = QualityThresholds()
    assert defaults.min_mirna_reads == 100_000 and defaults.min_annotated_fraction == 0.5
    assert defaults.min_mirna_fraction == 0.05 and defaults.max_adapter_dimer_fraction == 0.5
    assert set(THRESHOLD_SOURCES) == {
        "min_mirna_reads",
        "min_annotated_fraction",
        "min_mirna_fraction",
        "max_adapter_dimer_fraction",
    }
    assert "ERCC" in THRESHOLD_SOURCES["min_annotated_fraction"]


def test_mostly_unannotated_library_fails_the_annotated_fraction(tmp_path):
    # 1M reads: 400k miRNA, 500k unassigned (genomic, degraded, exogenous): 44 % annotated
    fates = read_read_fates(fates_file(tmp_path, [("unknown", 1_000_000, 100_000, 400_000)]))
    row = evaluate_quality(fates, QualityThresholds()).iloc[0]
    assert row["annotated_fraction"] == pytest.approx(400 / 900)
    assert row["annotated_fraction_check"] == "FAIL"
    assert row["failed_checks"] == "annotated_fraction"


def test_biotype_reads_count_as_annotated_and_spikeins_are_left_out(tmp_path):
    path = tmp_path / "fates.tsv"
    path.write_text(
        "sample\tinput\tadapter_dimer\tspikein\tmature\thairpin_only\ttRNA\tunassigned\n"
        "A\t1000\t100\t300\t200\t50\t150\t200\n"
    )
    row = evaluate_quality(read_read_fates(path), QualityThresholds(min_mirna_reads=1)).iloc[0]
    assert row["annotated_fraction"] == pytest.approx(400 / 600)


def test_mirna_poor_library_fails_the_mirna_fraction(tmp_path):
    fates = read_read_fates(fates_file(tmp_path, [("poor", 10_000_000, 100_000, 400_000)]))
    row = evaluate_quality(fates, QualityThresholds()).iloc[0]
    assert row["mirna_fraction_check"] == "FAIL"


def test_table_without_annotation_bounds_does_not_check_the_annotated_fraction(tmp_path):
    (tmp_path / "f.tsv").write_text("sample\tinput\tadapter_dimer\tmature\nA\t1000000\t0\t500000\n")
    row = evaluate_quality(read_read_fates(tmp_path / "f.tsv"), QualityThresholds()).iloc[0]
    assert row["annotated_fraction_check"] == "NA" and row["overall"] == "PASS"


def test_thresholds_come_from_config_with_defaults():
    thresholds = QualityThresholds.from_config({"quality_gate": {"min_mirna_reads": 10}})
    assert thresholds.min_mirna_reads == 10
    assert thresholds.max_adapter_dimer_fraction == 0.5 and not thresholds.drop_failing


def test_sample_without_input_reads_fails_with_na_fractions(tmp_path):
    fates = read_read_fates(fates_file(tmp_path, [("none", 0, 0, 0)]))
    row = evaluate_quality(fates, QualityThresholds()).iloc[0]
    assert row["overall"] == "FAIL"
    write_quality(evaluate_quality(fates, QualityThresholds()), tmp_path / "q.tsv")
    assert "\tNA\t" in (tmp_path / "q.tsv").read_text()


def test_missing_column_is_named(tmp_path):
    (tmp_path / "f.tsv").write_text("sample\tinput\tmature\nA\t10\t5\n")
    with pytest.raises(ExomirError, match=r"f.tsv: missing column\(s\) adapter_dimer"):
        read_read_fates(tmp_path / "f.tsv")


def test_negative_count_names_sample_and_column(tmp_path):
    (tmp_path / "f.tsv").write_text("sample\tinput\tadapter_dimer\tmature\nA\t10\t-1\t5\n")
    with pytest.raises(ExomirError, match="sample 'A' column 'adapter_dimer'"):
        read_read_fates(tmp_path / "f.tsv")


def test_table_round_trips_and_lists_failing_samples(fates, tmp_path):
    quality = evaluate_quality(fates, QualityThresholds())
    write_quality(quality, tmp_path / "ev_quality.tsv")
    back = read_quality(tmp_path / "ev_quality.tsv")
    assert list(back.columns) == QUALITY_COLUMNS
    assert failing_samples(back) == ["dimers", "empty", "shallow"]


def test_keep_and_flag_excludes_only_samples_without_mirna_reads(fates, tmp_path):
    write_quality(evaluate_quality(fates, QualityThresholds()), tmp_path / "q.tsv")
    excluded, kept = de_exclusions(str(tmp_path / "q.tsv"), drop_failing=False)
    assert excluded == {"empty": "no miRNA reads"}
    assert kept == ["dimers", "shallow"]


def test_drop_failing_excludes_every_failing_sample(fates, tmp_path):
    write_quality(evaluate_quality(fates, QualityThresholds()), tmp_path / "q.tsv")
    excluded, kept = de_exclusions(str(tmp_path / "q.tsv"), drop_failing=True)
    assert sorted(excluded) == ["dimers", "empty", "shallow"] and kept == []


def test_command_writes_table_and_multiqc_section(tmp_path):
    path = fates_file(tmp_path, [("a", 1_000_000, 10, 500_000), ("b", 1000, 900, 10)])
    out, mqc = tmp_path / "qc" / "ev_quality.tsv", tmp_path / "mqc" / "ev_quality_mqc.tsv"
    spec = tmp_path / "quality_gate.json"
    spec.write_text('{"quality_gate": {"min_mirna_reads": 1000}}')
    argv = ["quality-gate", "--read-fates", str(path), "--config", str(spec), "--out", str(out)]
    assert main([*argv, "--multiqc", str(mqc)]) == 0
    table = pd.read_csv(out, sep="\t")
    assert table["overall"].tolist() == ["PASS", "FAIL"]
    assert '# plot_type: "table"' in mqc.read_text()


def test_command_reports_bad_input_in_one_line(tmp_path, capsys):
    (tmp_path / "f.tsv").write_text("sample\tinput\n")
    (tmp_path / "q.json").write_text("{}")
    argv = ["quality-gate", "--read-fates", str(tmp_path / "f.tsv")]
    argv += ["--config", str(tmp_path / "q.json")]
    assert main([*argv, "--out", str(tmp_path / "q.tsv")]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_exclusions_without_quality_table_exclude_nothing():
    assert de_exclusions(None, drop_failing=True) == ({}, [])


# --- likely_reason ----------------------------------------------------------------------


def reason_fates(tmp_path):
    header = FATES_HEADER.rstrip("\n").split("\t")
    header.insert(header.index("unassigned"), "tRNA")
    rows = {
        # sample: input, dimer, too_short, too_long, mature, tRNA, unassigned
        "good": (1_000_000, 50_000, 50_000, 50_000, 700_000, 100_000, 50_000),
        "wrongkit": (1_000_000, 10_000, 300_000, 10_000, 5_000, 300_000, 375_000),
        "degraded": (1_000_000, 400_000, 300_000, 0, 5_000, 100_000, 195_000),
        "mrna": (1_000_000, 10_000, 10_000, 800_000, 5_000, 100_000, 75_000),
        "trna": (1_000_000, 10_000, 50_000, 50_000, 5_000, 800_000, 85_000),
        "unknown": (1_000_000, 10_000, 50_000, 50_000, 5_000, 100_000, 785_000),
    }
    lines = ["\t".join(header) + "\n"]
    for sample, (total, dimer, short, long, mature, trna, rest) in rows.items():
        lines.append(
            f"{sample}\t{total}\t{dimer}\t{short}\t{long}\t0\t0\t{mature}\t0\t{trna}\t{rest}\t0\n"
        )
    path = tmp_path / "read_fates.tsv"
    path.write_text("".join(lines))
    return read_read_fates(path)


def test_likely_reason_names_why_a_library_has_almost_no_mirna(tmp_path):
    protocols = {
        "wrongkit": {
            "sample": "wrongkit",
            "evidence": {"mapping": {"better_than_declared": "nextflex"}},
        }
    }
    table = evaluate_quality(reason_fates(tmp_path), QualityThresholds(), protocols)
    reasons = by_sample(table)["likely_reason"].to_dict()
    assert reasons == {
        "good": "none",
        "wrongkit": "kit or adapter mismatch: nextflex maps better",
        "degraded": "degraded",
        "mrna": "not a small-RNA library",
        "trna": "mostly tRNA",
        "unknown": "mostly unassigned",
    }
    assert QUALITY_COLUMNS[-1] == "likely_reason"


def test_quality_gate_cli_reads_protocols_for_the_likely_reason(tmp_path):
    import json

    fates = reason_fates(tmp_path)  # writes read_fates.tsv
    protocol = tmp_path / "wrongkit.protocol.json"
    protocol.write_text(
        json.dumps(
            {"sample": "wrongkit", "evidence": {"mapping": {"better_than_declared": "qiaseq"}}}
        )
    )
    out = tmp_path / "ev_quality.tsv"
    spec = tmp_path / "quality_gate.json"
    spec.write_text("{}")
    protocols = tmp_path / "protocols.tsv"
    protocols.write_text(f"wrongkit\t{protocol}\n")
    status = main(
        ["quality-gate", "--read-fates", str(tmp_path / "read_fates.tsv"), "--config", str(spec),
         "--protocols", str(protocols), "--out", str(out)]
    )  # fmt: skip
    assert status == 0 and len(fates) == 6
    table = pd.read_csv(out, sep="\t").set_index("sample")
    assert table.loc["wrongkit", "likely_reason"] == "kit or adapter mismatch: qiaseq maps better"
