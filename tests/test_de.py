"""DE with pydeseq2: planted fold changes are found, nulls are not, inputs are checked."""

import json

import numpy as np
import pandas as pd
import pytest

from exomir import de
from exomir.cli import main
from exomir.contrasts import parse_contrasts
from exomir.de import (
    RESULT_COLUMNS,
    SHRUNK_COLUMN,
    DESettings,
    format_stat,
    read_count_matrix,
    read_sample_sheet,
    run_contrast,
    write_contrast_outputs,
)
from exomir.errors import ExomirError
from exomir.normalization import NormalizationSettings, compute_size_factors


def simulate(seed, n_mirnas, per_group, n_planted, fold=4.0):
    """Negative-binomial miRNA counts, two groups, ``n_planted`` miRNAs changed ``fold``-fold.

    Means are log-normal (a few miRNAs dominate, as in EV libraries); dispersion follows
    DESeq2's trend a0 + a1/mean with a0 = 0.05 plus per-miRNA scatter; library depths vary
    about 1.4-fold. Changes are planted on miRNAs with mean >= 100 (half up, half down).
    """
    rng = np.random.default_rng(seed)
    means = np.exp(rng.normal(4.5, 2.0, n_mirnas))
    dispersion = (0.05 + 1.0 / means) * np.exp(rng.normal(0, 0.3, n_mirnas))
    log2_fold = np.zeros(n_mirnas)
    planted = rng.choice(np.flatnonzero(means >= 100), n_planted, replace=False)
    log2_fold[planted[: n_planted // 2]] = np.log2(fold)
    log2_fold[planted[n_planted // 2 :]] = -np.log2(fold)
    groups = ["control"] * per_group + ["treated"] * per_group
    depth = np.exp(rng.normal(0, 0.35, len(groups)))
    columns = {}
    samples = [f"S{i + 1:02d}" for i in range(len(groups))]
    for sample, group, factor in zip(samples, groups, depth, strict=True):
        mean = means * factor * (2.0**log2_fold if group == "treated" else 1.0)
        columns[sample] = rng.negative_binomial(1 / dispersion, 1 / (1 + mean * dispersion))
    names = [f"hsa-miR-{i + 1}-5p" for i in range(n_mirnas)]
    counts = pd.DataFrame(columns, index=pd.Index(names, name="mirna")).astype(float)
    sheet = pd.DataFrame(
        {"sample": samples, "condition": groups, "batch": ["b1", "b2"] * per_group}
    )
    truth = pd.Series(log2_fold, index=names)
    return counts, sheet, truth, pd.Series(depth / np.exp(np.log(depth).mean()), index=samples)


CONTRAST = {"variable": "condition", "level": "treated", "reference": "control"}


def spec_of(**fields):
    return parse_contrasts({"contrasts": {"treated_vs_control": {**CONTRAST, **fields}}})[0]


def median_factors(counts):
    return compute_size_factors(counts, NormalizationSettings()).set_index("sample")["size_factor"]


@pytest.fixture(scope="module")
def planted():
    counts, sheet, truth, depth = simulate(seed=2024, n_mirnas=200, per_group=4, n_planted=20)
    # the true depths, not median-of-ratios: lets a test see which factors pydeseq2 used
    result = run_contrast(counts, sheet, spec_of(), depth, DESettings(lfc_shrink=True))
    return counts, truth, depth, result, sheet


def test_planted_fourfold_changes_are_found_with_the_right_sign(planted):
    _, truth, _, result, _ = planted
    table = result.table.set_index("mirna")
    changed = truth[truth != 0]
    found = (table.loc[changed.index, "padj"] < 0.05) & (
        np.sign(table.loc[changed.index, "log2FoldChange"]) == np.sign(changed)
    )
    assert found.mean() >= 0.9


def test_unchanged_mirnas_are_rarely_called(planted):
    _, truth, _, result, _ = planted
    table = result.table.set_index("mirna")
    null = truth.index[truth == 0]
    assert (table.loc[null, "padj"] < 0.05).mean() <= 0.05


def test_table_has_deseq2_columns_sorted_by_padj_then_name(planted):
    table = planted[3].table
    assert list(table.columns) == RESULT_COLUMNS + [SHRUNK_COLUMN]
    padj = table["padj"]
    tested = padj.notna().sum()
    assert padj.iloc[tested:].isna().all()
    assert padj.iloc[:tested].is_monotonic_increasing
    untested = table["mirna"].iloc[tested:].tolist()
    assert untested == sorted(untested)


def test_pydeseq2_uses_the_size_factors_given(planted):
    counts, _, depth, result, _ = planted
    assert np.allclose(result.size_factors_used.to_numpy(), depth[result.size_factors_used.index])
    assert not np.allclose(depth, median_factors(counts)[depth.index], rtol=1e-3)
    table = result.table.set_index("mirna")
    expected = (counts.round() / depth).mean(axis=1)
    assert np.allclose(table["baseMean"], expected[table.index], rtol=1e-9)


def test_heatmap_vst_reuses_the_fit_and_equals_a_separate_vst_fit(planted, monkeypatch):
    counts, _, depth, result, sheet = planted
    from pydeseq2.dds import DeseqDataSet

    vst_fits = []
    fit = DeseqDataSet.fit_genewise_dispersions

    def counting(self, vst=False):
        vst_fits.append(vst)
        return fit(self, vst=vst)

    monkeypatch.setattr(DeseqDataSet, "fit_genewise_dispersions", counting)
    run_contrast(counts, sheet, spec_of(), depth, DESettings())
    assert vst_fits == [False]  # dispersions fitted once, for the test and the VST

    original = de._vst

    def separate_fit(dds):
        del dds.var["vst_genewise_dispersions"]  # makes pydeseq2 fit them again itself
        return original(dds)

    monkeypatch.setattr(de, "_vst", separate_fit)
    again = run_contrast(counts, sheet, spec_of(), depth, DESettings())
    assert True in vst_fits
    np.testing.assert_allclose(again.vst.to_numpy(), result.vst.to_numpy(), rtol=1e-9)


def test_shrunk_fold_changes_are_pulled_towards_zero(planted):
    table = planted[3].table.dropna(subset=["log2FoldChange", SHRUNK_COLUMN])
    shrunk, raw = table[SHRUNK_COLUMN].abs(), table["log2FoldChange"].abs()
    assert (shrunk <= raw + 1e-6).mean() > 0.95


def test_sidecar_records_design_groups_and_versions(planted):
    summary = planted[3].summary
    assert summary["design"] == "~ condition" and summary["alpha"] == 0.05
    assert summary["n_per_level"] == {"treated": 4, "control": 4}
    assert summary["samples"]["control"] == ["S01", "S02", "S03", "S04"]
    assert summary["pydeseq2_version"] and "rounded" in summary["notes"][0]
    assert summary["n_up"] + summary["n_down"] == summary["n_significant"]


@pytest.fixture(scope="module")
def small():
    counts, sheet, truth, _ = simulate(seed=7, n_mirnas=80, per_group=3, n_planted=10)
    return counts, sheet, truth


def test_swapping_level_and_reference_flips_the_fold_changes(small):
    counts, sheet, _ = small
    factors = median_factors(counts)
    forward = run_contrast(counts, sheet, spec_of(), factors, DESettings()).table
    backward_spec = spec_of(level="control", reference="treated")
    backward = run_contrast(counts, sheet, backward_spec, factors, DESettings()).table
    merged = forward.merge(backward, on="mirna").dropna()
    assert np.allclose(merged["log2FoldChange_x"], -merged["log2FoldChange_y"], atol=1e-4)


def test_fractional_counts_are_rounded_and_the_sidecar_says_so(small):
    counts, sheet, _ = small
    fractional = counts.copy()
    fractional.iloc[:4, 0] += 0.5
    result = run_contrast(fractional, sheet, spec_of(), median_factors(counts), DESettings())
    assert result.summary["fractional_counts_rounded"] == 4


def test_sample_without_reads_is_left_out_and_named(small):
    counts, sheet, _ = small
    counts = counts.copy()
    counts["S01"] = 0
    factors = median_factors(counts)
    result = run_contrast(counts, sheet, spec_of(), factors, DESettings())
    assert "S01" in result.summary["excluded_samples"]
    assert result.summary["n_per_level"] == {"treated": 3, "control": 2}


def test_whole_number_size_factors_are_accepted(small):
    counts, sheet, _ = small
    ones = pd.Series(1, index=counts.columns, dtype="int64")
    result = run_contrast(counts, sheet, spec_of(), ones, DESettings())
    assert result.summary["excluded_samples"] == {}


def test_leaving_out_too_many_samples_explains_why(small):
    counts, sheet, _ = small
    exclude = {"S01": "quality gate FAIL", "S02": "quality gate FAIL"}
    with pytest.raises(ExomirError, match=r"'control' has 1 sample.*S01 \(quality gate FAIL\)"):
        run_contrast(
            counts, sheet, spec_of(), median_factors(counts), DESettings(), exclude=exclude
        )


def test_subset_contrast_fits_only_the_subset(small):
    counts, sheet, _ = small
    sheet = sheet.assign(site=["x", "x", "y", "x", "x", "y"])
    result = run_contrast(
        counts, sheet, spec_of(subset={"site": "x"}), median_factors(counts), DESettings()
    )
    assert result.summary["samples_in_fit"] == ["S01", "S02", "S04", "S05"]


def test_rerun_writes_byte_identical_outputs(small, tmp_path):
    counts, sheet, _ = small
    outputs = []
    for run in ("a", "b"):
        result = run_contrast(counts, sheet, spec_of(), median_factors(counts), DESettings())
        write_contrast_outputs(result, tmp_path / run / "c.tsv")
        outputs.append(
            ((tmp_path / run / "c.tsv").read_bytes(), (tmp_path / run / "c.json").read_bytes())
        )
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0][1])["contrast"] == "treated_vs_control"


def test_format_stat_writes_na_and_six_digits():
    assert format_stat(float("nan")) == "NA"
    assert format_stat(0.000123456789) == "0.000123457"
    assert format_stat(-0.0) == "0"


def write(path, text):
    path.write_text(text)
    return path


def test_count_matrix_empty_cells_are_zero_and_columns_follow_the_sheet(tmp_path):
    path = write(tmp_path / "m.tsv", "mirna\tB\tA\nmiR-1\t\t2.5\nmiR-2\t3\tNA\n")
    counts = read_count_matrix(path, ["A", "B"])
    assert list(counts.columns) == ["A", "B"]
    assert counts.to_numpy().tolist() == [[2.5, 0.0], [0.0, 3.0]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name\tA\tB\nx\t1\t2\n", "first column must be 'mirna'"),
        ("mirna\tA\nx\t1\n", r"no column for sample\(s\) B"),
        ("mirna\tA\tB\tC\nx\t1\t2\t3\n", r"column\(s\) C are not samples"),
        ("mirna\tA\tB\nx\t1\t-2\n", r"row 2 \(x\) column 'B': '-2' is not a non-negative"),
        ("mirna\tA\tB\nx\tlots\t2\n", "column 'A': 'lots'"),
        ("mirna\tA\tB\nx\t1\t2\nx\t3\t4\n", "listed twice: x"),
        ("mirna\tA\tB\n", "no miRNA rows"),
    ],
)
def test_count_matrix_problems_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(ExomirError, match=message) as caught:
        read_count_matrix(write(tmp_path / "m.tsv", text), ["A", "B"])
    assert str(caught.value).startswith(str(tmp_path / "m.tsv"))


def test_sample_sheet_needs_unique_samples(tmp_path):
    with pytest.raises(ExomirError, match="duplicate sample name .A."):
        read_sample_sheet(write(tmp_path / "s.tsv", "sample\tcondition\nA\tx\nA\ty\n"))


def test_alpha_outside_zero_one_is_refused():
    with pytest.raises(ExomirError, match="alpha"):
        DESettings.from_config({"alpha": 5})


def test_commands_run_from_user_matrix_to_watchlist(tmp_path):
    counts, sheet, _, _ = simulate(seed=3, n_mirnas=60, per_group=3, n_planted=6)
    counts.index = pd.Index(["hsa-miR-941", *counts.index[1:]], name="mirna")
    counts.to_csv(tmp_path / "counts.tsv", sep="\t")
    sheet.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    spec = json.dumps(
        {"design": "~ condition", "contrasts": {"treated_vs_control": CONTRAST}, "alpha": 0.1}
    )
    (tmp_path / "de.json").write_text(spec)
    spec = ["--config", str(tmp_path / "de.json")]
    out = tmp_path / "de"
    common = ["--counts", str(tmp_path / "counts.tsv"), "--samples", str(tmp_path / "samples.tsv")]
    normalized = ["--size-factors-out", str(out / "size_factors.tsv")]
    normalized += ["--normalized-out", str(out / "normalized_counts.tsv")]
    normalized += ["--vst-out", str(out / "vst_counts.tsv"), "--plot-dir", str(out / "plots")]
    normalized += ["--pca-section-out", str(out / "multiqc" / "pca_mqc.json")]
    normalized += ["--correlation-section-out", str(out / "multiqc" / "correlation_mqc.json")]
    assert main(["de-normalize", *common, *spec, *normalized]) == 0
    factors = ["--size-factors", str(out / "size_factors.tsv")]
    name = ["--name", "treated_vs_control"]
    contrast = ["--table-out", str(out / "treated_vs_control.tsv")]
    contrast += ["--plot-dir", str(out / "plots"), "--multiqc-dir", str(out / "multiqc")]
    assert main(["de-contrast", *name, *common, *spec, *factors, *contrast]) == 0
    tables = ["--tables", str(out / "treated_vs_control.tsv")]
    summary = ["--watchlist-out", str(out / "watchlist.tsv")]
    summary += ["--summary-out", str(out / "summary.tsv")]
    summary += ["--summary-section-out", str(out / "multiqc" / "de_summary_mqc.tsv")]
    summary += ["--multiqc-dir", str(out / "multiqc")]
    assert main(["de-summary", *tables, *spec, *summary]) == 0
    watch = pd.read_csv(out / "watchlist.tsv", sep="\t")
    assert watch.loc[watch["query"] == "miR-941", "mirna"].tolist() == ["hsa-miR-941"]
    assert json.loads((out / "treated_vs_control.json").read_text())["alpha"] == 0.1
    for produced in [
        "normalized_counts.tsv",
        "vst_counts.tsv",
        "summary.tsv",
        "plots/pca_condition.png",
        "plots/treated_vs_control_volcano.svg",
        "plots/treated_vs_control_heatmap.png",
        "multiqc/de_treated_vs_control_mqc.tsv",
        "multiqc/watchlist_treated_vs_control_mqc.tsv",
        "multiqc/de_treated_vs_control_volcano_mqc.json",
        "multiqc/pca_mqc.json",
    ]:
        assert (out / produced).stat().st_size > 0, produced


def test_contrast_command_reports_unknown_contrast_in_one_line(tmp_path, capsys):
    write(tmp_path / "c.tsv", "mirna\tA\nx\t1\n")
    write(tmp_path / "s.tsv", "sample\tcondition\nA\tx\n")
    argv = ["de-contrast", "--name", "nope", "--counts", str(tmp_path / "c.tsv")]
    write(tmp_path / "de.json", "{}")
    argv += ["--samples", str(tmp_path / "s.tsv"), "--config", str(tmp_path / "de.json")]
    argv += ["--table-out", str(tmp_path / "nope.tsv"), "--plot-dir", str(tmp_path)]
    argv += ["--multiqc-dir", str(tmp_path)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "no contrast named 'nope'" in err and err.count("\n") == 1


# --- what cannot be fitted stops in one line ---------------------------------------------


UNFITTABLE_CONTRAST = {"variable": "condition", "level": "b", "reference": "a"}


def unfittable_run(tmp_path, counts: pd.DataFrame):
    counts.index.name = "mirna"
    counts.to_csv(tmp_path / "counts.tsv", sep="\t")
    sheet = pd.DataFrame(
        {"sample": list(counts.columns), "condition": ["a", "b"] * (len(counts.columns) // 2)}
    )
    sheet.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    spec = tmp_path / "normalization.json"
    spec.write_text(
        json.dumps({"design": "~ condition", "contrasts": {"b_vs_a": UNFITTABLE_CONTRAST}})
    )
    common = ["--counts", str(tmp_path / "counts.tsv"), "--samples", str(tmp_path / "samples.tsv")]
    return common, spec


ZERO = [0, 0, 0]


@pytest.mark.parametrize(
    "values, problem",
    [
        ({"S1": ZERO, "S2": ZERO, "S3": ZERO, "S4": ZERO}, "every miRNA count is zero"),
        ({"S1": [5, 0, 0], "S2": ZERO, "S3": ZERO, "S4": ZERO}, "too few samples"),
        ({s: [5, 5, 5] for s in ("S1", "S2", "S3", "S4")}, "no miRNA count varies"),
    ],
    ids=["all-zero", "one-sample-with-reads", "no-variance"],
)  # fmt: skip
def test_de_that_cannot_be_fitted_stops_in_one_line_naming_samples(
    tmp_path, capsys, values, problem
):
    counts = pd.DataFrame(values, index=["hsa-miR-1", "hsa-miR-2", "hsa-miR-3"])
    common, spec = unfittable_run(tmp_path, counts)
    out = tmp_path / "de"
    outputs = ["--size-factors-out", str(out / "size_factors.tsv")]
    outputs += ["--normalized-out", str(out / "normalized_counts.tsv")]
    outputs += ["--vst-out", str(out / "vst_counts.tsv"), "--plot-dir", str(out / "plots")]
    outputs += ["--pca-section-out", str(out / "multiqc" / "pca_mqc.json")]
    outputs += ["--correlation-section-out", str(out / "multiqc" / "correlation_mqc.json")]
    status = main(["de-normalize", *common, "--config", str(spec), *outputs])
    error = capsys.readouterr().err.strip()
    assert status == 1
    assert len(error.splitlines()) == 1 and "Traceback" not in error
    assert problem in error and "S1" in error
    assert not (tmp_path / "de" / "size_factors.tsv").exists()


def test_contrast_without_variance_stops_in_one_line(tmp_path):
    counts = pd.DataFrame(
        {s: [5, 7, 9] for s in ["S1", "S2", "S3", "S4"]}, index=["m1", "m2", "m3"]
    )
    sheet = pd.DataFrame({"sample": ["S1", "S2", "S3", "S4"], "condition": ["a", "b", "a", "b"]})
    specs = parse_contrasts(
        {
            "design": "~ condition",
            "contrasts": {"b_vs_a": UNFITTABLE_CONTRAST},
        }
    )
    factors = pd.Series(1.0, index=counts.columns)
    with pytest.raises(ExomirError, match=r"no miRNA count varies.*S1, S2, S3, S4"):
        de.run_contrast(counts, sheet, specs[0], factors, de.DESettings())
