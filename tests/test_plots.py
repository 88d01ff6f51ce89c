"""DE figures and their MultiQC custom content: deterministic files that MultiQC renders."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from exomir import plots
from exomir.de_multiqc import (
    MAX_HEATMAP_SAMPLES,
    TOP_HITS,
    contrast_sections,
    correlation_section,
    direction,
    pca_section,
    quality_section,
    section_id,
    watchlist_section,
    write_mqc_json,
)
from exomir.watchlist import FILTERED


def de_table(n=40, seed=1):
    rng = np.random.default_rng(seed)
    padj = np.sort(rng.uniform(0, 1, n) ** 3)
    padj[-5:] = np.nan
    return pd.DataFrame(
        {
            "mirna": [f"hsa-miR-{i}-5p" for i in range(n)],
            "baseMean": rng.uniform(1, 1e4, n),
            "log2FoldChange": rng.normal(0, 2, n),
            "lfcSE": rng.uniform(0.1, 1, n),
            "stat": rng.normal(0, 3, n),
            "pvalue": padj / 2,
            "padj": padj,
        }
    )


def vst_matrix(seed=2):
    """Six samples, two groups that differ in the first ten miRNAs."""
    rng = np.random.default_rng(seed)
    values = rng.normal(8, 0.3, (50, 6))
    values[:10, 3:] += 3
    return pd.DataFrame(
        values, index=[f"hsa-miR-{i}-5p" for i in range(50)], columns=[f"S{i}" for i in range(6)]
    )


GROUPS = pd.Series(["a", "a", "a", "b", "b", "b"], index=[f"S{i}" for i in range(6)])


def test_figure_is_written_as_png_and_svg_without_dates(tmp_path):
    paths = plots.save_figure(plots.volcano_plot(de_table(), 0.05, "b_vs_a"), tmp_path / "v")
    assert [p.name for p in paths] == ["v.png", "v.svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<dc:date>" not in paths[1].read_text()


def test_rerendering_gives_byte_identical_files(tmp_path):
    for run in ("a", "b"):
        plots.save_figure(plots.ma_plot(de_table(), 0.05, "c"), tmp_path / run / "ma")
        heatmap = plots.heatmap_plot(vst_matrix(), ["hsa-miR-1-5p", "hsa-miR-2-5p"], GROUPS, "c")
        plots.save_figure(heatmap, tmp_path / run / "heat")
    for name in ("ma.png", "ma.svg", "heat.png", "heat.svg"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_volcano_title_counts_significant_up_and_down():
    table = de_table()
    figure = plots.volcano_plot(table, 0.05, "b_vs_a")
    significant = table["padj"] < 0.05
    up = int((significant & (table["log2FoldChange"] > 0)).sum())
    assert f"{up} up" in figure.axes[0].get_title()


def test_zscores_are_centred_and_scaled_per_mirna():
    scores = plots.zscore_rows(vst_matrix())
    assert np.allclose(scores.mean(axis=1), 0)
    assert np.allclose(scores.std(axis=1, ddof=1), 1)


def test_constant_mirna_has_zero_zscores():
    values = vst_matrix()
    values.iloc[0] = 5.0
    assert (plots.zscore_rows(values).iloc[0] == 0).all()


def test_top_mirnas_are_the_smallest_padj_and_skip_untested():
    table = de_table()
    assert plots.top_mirnas(table, 3) == table["mirna"].head(3).tolist()
    assert len(plots.top_mirnas(table, 100)) == table["padj"].notna().sum()


def test_pca_separates_groups_on_pc1_with_a_fixed_sign():
    coordinates, explained = plots.pca_coordinates(vst_matrix())
    pc1 = coordinates["PC1"]
    assert (np.sign(pc1[GROUPS == "a"]) != np.sign(pc1[GROUPS == "b"].iloc[0])).all()
    assert explained[0] > 0.5
    again, _ = plots.pca_coordinates(vst_matrix().iloc[::-1])
    assert np.allclose(again["PC1"], pc1)


def test_abundance_plot_lists_the_most_abundant_first():
    values = vst_matrix()
    figure = plots.abundance_plot(values, top=3)
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert labels == values.mean(axis=1).sort_values(ascending=False).index[:3].tolist()


def header(path):
    lines = [line[2:] for line in Path(path).read_text().splitlines() if line.startswith("# ")]
    return yaml.safe_load("\n".join(lines))


def contrast_report(tmp_path, table=None):
    table = de_table() if table is None else table
    outdir = tmp_path / "multiqc"
    return contrast_sections("b_vs_a", table, outdir, alpha=0.05, level="b", reference="a")


def test_contrast_table_volcano_and_ma_share_one_report_section(tmp_path):
    table_path, volcano_path, ma_path = contrast_report(tmp_path)
    table_config = header(table_path)
    volcano = json.loads(volcano_path.read_text())
    ma = json.loads(ma_path.read_text())
    assert table_config["plot_type"] == "table"
    assert volcano["plot_type"] == ma["plot_type"] == "scatter"
    parents = {table_config["parent_id"], volcano["parent_id"], ma["parent_id"]}
    assert parents == {section_id("de_b_vs_a")}


def test_volcano_points_are_named_by_mirna_and_coloured_by_significance(tmp_path):
    table = de_table()
    _, volcano_path, _ = contrast_report(tmp_path, table)
    points = json.loads(volcano_path.read_text())["data"]
    tested = table[table["padj"].notna()]
    assert sorted(points) == sorted(tested["mirna"])
    row = tested.iloc[0]
    point = points[row["mirna"]]
    assert point["x"] == pytest.approx(row["log2FoldChange"], abs=1e-4)
    assert point["y"] == pytest.approx(-np.log10(row["padj"]), abs=1e-4)
    up = tested[(tested["padj"] < 0.05) & (tested["log2FoldChange"] > 0)]
    assert {points[m]["group"] for m in up["mirna"]} == {"up in b (padj < 0.05)"}
    down = tested[(tested["padj"] < 0.05) & (tested["log2FoldChange"] < 0)]
    assert {points[m]["color"] for m in down["mirna"]} == {"#2471a3"}


def test_ma_plot_has_every_mirna_with_counts_on_a_log_axis(tmp_path):
    _, _, ma_path = contrast_report(tmp_path)
    section = json.loads(ma_path.read_text())
    assert section["pconfig"]["xlog"] is True
    assert len(section["data"]) == len(de_table())


def test_contrast_table_has_effect_sizes_direction_and_explicit_formats(tmp_path):
    table_path, _, _ = contrast_report(tmp_path)
    rows = pd.read_csv(table_path, sep="\t", comment="#")
    tested = int(de_table()["padj"].notna().sum())
    assert rows["padj"].notna().all() and len(rows) == min(TOP_HITS, tested)
    assert {"baseMean", "log2FoldChange", "lfcSE"} <= set(rows.columns)
    for _, row in rows.iterrows():
        expected = direction(row["log2FoldChange"], row["padj"], 0.05, "b")
        assert row["direction"] == expected
    headers = header(table_path)["headers"]
    assert headers["log2FoldChange"]["format"] == "{:+.3f}"
    assert headers["padj"]["format"] == "{:.2e}"
    assert all(h["scale"] is False for h in headers.values())  # no data bars


def test_direction_reads_as_level_vs_reference():
    assert direction(1.2, 0.001, 0.05, "encode") == "up in encode"
    assert direction(-0.4, 0.01, 0.05, "encode") == "down in encode"
    assert direction(3.0, 0.2, 0.05, "encode") == "n.s."
    assert direction(float("nan"), float("nan"), 0.05, "encode") == "n.s."


def test_section_ids_are_multiqc_safe():
    assert section_id("DE: b-vs a") == "exomir_de_b_vs_a"


def watchlist_rows():
    nan = float("nan")
    return pd.DataFrame(
        {
            "contrast": ["b_vs_a", "b_vs_a", "b_vs_a", "c_vs_a"],
            "query": ["miR-21-5p", "miR-16-5p", "miR-941", "miR-21-5p"],
            "mirna": ["hsa-miR-21-5p", "hsa-miR-16-5p", "NA", "hsa-miR-21-5p"],
            "baseMean": [10.0, 3.0, nan, 11.0],
            "log2FoldChange": [1.0, 0.5, nan, -2.0],
            "lfcSE": [0.2, 1.5, nan, 0.3],
            "pvalue": [0.001, 0.4, nan, 0.01],
            "padj": [0.01, nan, nan, 0.04],
            "status": ["tested", FILTERED, "no match", "tested"],
        }
    )


def test_watchlist_is_one_table_per_contrast_without_repeated_labels(tmp_path):
    summary = {"level": "b", "reference": "a", "alpha": 0.05}
    path = tmp_path / "watchlist_b_vs_a_mqc.tsv"
    watchlist_section(watchlist_rows(), "b_vs_a", summary, path)
    rows = pd.read_csv(path, sep="\t", comment="#")
    assert "contrast" not in rows.columns
    assert rows["mirna"].tolist() == ["hsa-miR-21-5p", "hsa-miR-16-5p", "miR-941"]
    assert rows["status"].tolist() == ["tested", FILTERED, "no match"]
    assert rows["direction"].tolist() == ["up in b", "n.s.", "n.s."]
    assert header(path)["parent_id"] == section_id("de_b_vs_a")


def quality_rows():
    from exomir.quality_gate import QualityThresholds, evaluate_quality

    fates = pd.DataFrame(
        {
            "sample": ["S1", "S2"],
            "input": [2_000_000, 1_000_000],
            "adapter_dimer": [100_000, 700_000],
            "spikein": [0, 0],
            "mature": [1_234_567, 60_000],
            "hairpin_only": [10_000, 1_000],
            "unassigned": [100_000, 200_000],
        }
    )
    return evaluate_quality(fates, QualityThresholds())


def test_quality_table_puts_thresholds_in_headers_and_fits_a_laptop_screen(tmp_path):
    quality_section(quality_rows(), tmp_path / "ev_quality_mqc.tsv")
    text = (tmp_path / "ev_quality_mqc.tsv").read_text()
    assert "S1\t1234567\t" in text  # read counts in full
    rows = pd.read_csv(tmp_path / "ev_quality_mqc.tsv", sep="\t", comment="#")
    assert len(rows.columns) <= 9  # value columns only; thresholds are constant
    assert rows.set_index("sample").loc["S2", "dimer_pct"] == pytest.approx(70.0)
    headers = header(tmp_path / "ev_quality_mqc.tsv")["headers"]
    assert headers["mirna_reads"]["title"] == "miRNA reads (min 100,000)"
    assert headers["dimer_pct"]["title"] == "% dimer (max 50%)"
    assert headers["overall"]["bgcols"]["FAIL"]


def test_correlation_heatmap_names_samples_and_is_symmetric():
    section = correlation_section(vst_matrix(), GROUPS, "condition")
    assert section["xcats"] == section["ycats"] == list(vst_matrix().columns)
    values = np.array(section["data"])
    assert np.allclose(values, values.T) and np.allclose(np.diag(values), 1)
    # group b shares its ten raised miRNAs: b samples correlate among themselves
    assert values[3, 4] > 0.5 > values[0, 4]


def test_correlation_heatmap_averages_groups_beyond_the_sample_limit():
    rng = np.random.default_rng(5)
    n = MAX_HEATMAP_SAMPLES + 10
    vst = pd.DataFrame(rng.normal(8, 1, (30, n)), columns=[f"S{i}" for i in range(n)])
    groups = pd.Series(["a" if i % 2 else "b" for i in range(n)], index=vst.columns)
    section = correlation_section(vst, groups, "condition")
    assert section["xcats"] == [f"a ({n // 2})", f"b ({n - n // 2})"]
    assert np.array(section["data"]).shape == (2, 2)


def test_pca_section_has_a_tab_per_column_and_samples_on_hover():
    coordinates, explained = plots.pca_coordinates(vst_matrix())
    batch = pd.Series(["1", "2", "1", "2", "1", "2"], index=GROUPS.index)
    section = pca_section(coordinates, explained, {"condition": GROUPS, "batch": batch})
    assert [label["name"] for label in section["pconfig"]["data_labels"]] == [
        "by condition",
        "by batch",
    ]
    by_condition = section["data"][0]
    assert sorted(by_condition) == list(GROUPS.index)
    assert by_condition["S0"]["group"] == "condition: a"
    assert by_condition["S0"]["color"] != by_condition["S3"]["color"]


def write_all_sections(tmp_path):
    outdir = tmp_path / "multiqc"
    contrast_report(tmp_path)
    summary = {"level": "b", "reference": "a", "alpha": 0.05}
    watchlist_section(watchlist_rows(), "b_vs_a", summary, outdir / "watchlist_b_vs_a_mqc.tsv")
    quality_section(quality_rows(), outdir / "ev_quality_mqc.tsv")
    coordinates, explained = plots.pca_coordinates(vst_matrix())
    write_mqc_json(
        pca_section(coordinates, explained, {"condition": GROUPS}), outdir / "pca_mqc.json"
    )
    write_mqc_json(
        correlation_section(vst_matrix(), GROUPS, "condition"),
        outdir / "sample_correlation_mqc.json",
    )
    return outdir


@pytest.mark.slow
def test_multiqc_renders_every_section(tmp_path):
    outdir = write_all_sections(tmp_path)
    multiqc = shutil.which("multiqc") or str(Path(sys.executable).with_name("multiqc"))
    run = subprocess.run(
        [multiqc, str(outdir), "-o", str(tmp_path / "report"), "--no-ansi", "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    html = (tmp_path / "report" / "multiqc_report.html").read_text()
    for part in (
        "de_b_vs_a",
        "de_b_vs_a_top",
        "de_b_vs_a_volcano",
        "de_b_vs_a_ma",
        "de_b_vs_a_watchlist",
        "ev_quality",
        "pca",
        "sample_correlation",
    ):
        assert f'id="exomir_{part}' in html, part


def test_contrast_heatmap_has_the_top_mirnas_as_zscores_by_group(tmp_path):
    table = de_table(n=50)
    table["mirna"] = list(vst_matrix().index)
    paths = contrast_sections(
        "b_vs_a",
        table,
        tmp_path / "multiqc",
        alpha=0.05,
        level="b",
        reference="a",
        vst=vst_matrix(),
        groups=GROUPS,
    )
    section = json.loads(paths[3].read_text())
    assert section["plot_type"] == "heatmap"
    assert section["ycats"] == plots.top_mirnas(table)
    assert section["xcats"][0] == "S0 (a)" and section["xcats"][-1] == "S5 (b)"
    values = np.array(section["data"])
    assert np.allclose(values.mean(axis=1), 0, atol=1e-2)
