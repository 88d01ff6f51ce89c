"""DE figures and their MultiQC custom content: deterministic files that MultiQC renders."""

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
    TOP_HITS,
    contrast_sections,
    pca_section,
    quality_section,
    section_id,
    watchlist_section,
)


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


def contrast_report(tmp_path):
    volcano = plots.save_figure(plots.volcano_plot(de_table(), 0.05, "b_vs_a"), tmp_path / "v")[0]
    return contrast_sections("b_vs_a", de_table(), volcano, tmp_path / "multiqc")


def test_contrast_table_and_volcano_share_one_report_section(tmp_path):
    table_path, volcano_path = contrast_report(tmp_path)
    table_config = header(table_path)
    volcano_config = yaml.safe_load(volcano_path.read_text())
    assert table_config["plot_type"] == "table"
    assert table_config["parent_id"] == volcano_config["parent_id"] == section_id("de_b_vs_a")
    assert "data:image/png;base64," in volcano_config["data"]


def test_contrast_table_lists_only_tested_mirnas(tmp_path):
    table_path, _ = contrast_report(tmp_path)
    rows = pd.read_csv(table_path, sep="\t", comment="#")
    tested = int(de_table()["padj"].notna().sum())
    assert rows["padj"].notna().all() and len(rows) == min(TOP_HITS, tested)


def test_section_ids_are_multiqc_safe():
    assert section_id("DE: b-vs a") == "exomir_de_b_vs_a"


def write_all_sections(tmp_path):
    outdir = tmp_path / "multiqc"
    contrast_report(tmp_path)
    watch = pd.DataFrame(
        {
            "contrast": ["b_vs_a"],
            "query": ["miR-21-5p"],
            "mirna": ["hsa-miR-21-5p"],
            "baseMean": [10.0],
            "log2FoldChange": [1.0],
            "padj": [0.01],
            "status": ["matched"],
        }
    )
    watchlist_section(watch, outdir / "watchlist_mqc.tsv")
    quality = pd.DataFrame({"sample": ["S1"], "mirna_reads": [123456], "overall": ["PASS"]})
    quality_section(quality, outdir / "ev_quality_mqc.tsv")
    pca = plots.save_figure(plots.pca_plot(vst_matrix(), GROUPS, "condition"), tmp_path / "p")[0]
    pca_section([pca], outdir / "pca_mqc.yaml")
    return outdir


def test_read_counts_in_report_tables_are_written_in_full(tmp_path):
    outdir = write_all_sections(tmp_path)
    assert "S1\t123456\tPASS" in (outdir / "ev_quality_mqc.tsv").read_text()


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
        "watchlist",
        "ev_quality",
        "pca",
    ):
        assert f'id="exomir_{part}' in html, part
