"""The bundled demo end to end (DE included), its report in a real browser, and the
counts-matrix entry point that starts from a deposited count table instead of FASTQ."""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess

import browser
import numpy as np
import pytest
import yaml

from conftest import BIN, REPO, snakemake

DEMO_SAMPLES = ["truseq_1", "truseq_2", "encode_1", "encode_2"]
DE_COLUMNS = ["mirna", "baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]
REPORT_SECTIONS = {
    "exomir_read_fates": "Read fates",
    "exomir_insert_lengths": "Insert lengths",
    "exomir_protocols": "Library kit",
    "exomir_ev_quality": "EV quality gate",
    "exomir_pca": "PCA",
    "exomir_de_encode_vs_truseq_watchlist": "watch list",
    "exomir_de_encode_vs_truseq": "encode_vs_truseq",
    "exomir_warnings": "Warnings",
    "exomir_library_facts": "Library complexity",
    "exomir_sample_correlation": "Sample correlation",
    "exomir_de_encode_vs_truseq_volcano": "Volcano plot",
    "exomir_de_encode_vs_truseq_ma": "MA plot",
    "exomir_de_encode_vs_truseq_heatmap": "Heatmap of top miRNAs",
    "exomir_methods": "Methods and provenance",
}
REPORT_ORDER = [
    "exomir_warnings",
    "exomir_read_fates",
    "exomir_insert_lengths",
    "exomir_ev_quality",
    "exomir_de_summary",
    "exomir_de_encode_vs_truseq",
    "exomir_methods",
]


def read_tsv(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle, delimiter="\t"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The bundled demo config (no --configfile), run from a scratch working directory."""
    workdir = tmp_path_factory.mktemp("demo")
    snakemake(workdir, "--cores", "2")
    return workdir


@pytest.mark.e2e
def test_demo_de_table_has_the_documented_columns_sorted_by_padj(demo):
    rows = read_tsv(demo / "results/de/encode_vs_truseq.tsv")
    assert rows[0] == DE_COLUMNS
    padj = [float(r[6]) if r[6] != "NA" else math.inf for r in rows[1:]]
    assert padj == sorted(padj)
    assert sum(p < 0.05 for p in padj) > 0


@pytest.mark.e2e
def test_demo_records_normalisation_and_rounding(demo):
    factors = read_tsv(demo / "results/de/size_factors.tsv")
    assert factors[0] == ["sample", "size_factor", "method"]
    assert [r[0] for r in factors[1:]] == DEMO_SAMPLES
    assert all(r[2].startswith("median_of_ratios") for r in factors[1:])
    summary = (demo / "results/de/encode_vs_truseq.json").read_text()
    assert "round" in summary and "median_of_ratios" in summary and "0.05" in summary
    assert (demo / "results/de/normalized_counts.tsv").is_file()
    quality = read_tsv(demo / "results/qc/ev_quality.tsv")
    assert quality[0][0] == "sample" and "overall" in quality[0]


@pytest.mark.e2e
def test_demo_plots_exist_as_png_and_svg(demo):
    for stem in ("encode_vs_truseq_volcano", "encode_vs_truseq_ma", "encode_vs_truseq_heatmap"):
        for suffix in (".png", ".svg"):
            path = demo / "results/de/plots" / f"{stem}{suffix}"
            assert path.stat().st_size > 1000, path


@pytest.fixture(scope="module")
def rendered(demo, tmp_path_factory):
    """The demo report's DOM after its JavaScript ran, and a screenshot at 1,280 px."""
    if browser.chromium() is None:
        pytest.skip("chromium is not installed (bash .ci/setup test installs it)")
    scratch = tmp_path_factory.mktemp("browser")
    report = demo / "results/multiqc/multiqc_report.html"
    dom = browser.dump_dom(report, scratch / "profile")
    shot = browser.screenshot(report, scratch / "report.png", scratch / "profile")
    return dom, shot


def cell_text(dom: str, table_id: str) -> str:
    """The text of one MultiQC table (tags removed, whitespace collapsed)."""
    start = dom.index(f'id="{table_id}"')
    table = dom[start : dom.index("</table>", start)]
    return " ".join(re.sub(r"<[^>]+>", " ", table).split())


@pytest.mark.e2e
def test_report_renders_every_section_in_a_real_browser(rendered):
    dom, screenshot = rendered
    # The DOM after the page's JavaScript ran: plots were drawn, sections are present.
    for section_id, heading in REPORT_SECTIONS.items():
        assert f'id="{section_id}"' in dom, section_id
        assert heading.lower() in dom.lower(), heading
    assert "Bowtie (distinct sequences)" in dom
    assert dom.count("<svg") > 3 or "plotly" in dom.lower()
    assert screenshot.stat().st_size > 50_000
    # order: warnings, then per-sample QC, then DE, then methods
    positions = [dom.index(f'id="{s}"') for s in REPORT_ORDER]
    assert positions == sorted(positions)


@pytest.mark.e2e
def test_report_shows_the_configured_alpha_not_a_rounded_one(demo, rendered):
    dom, _ = rendered
    summary = json.loads((demo / "results/de/encode_vs_truseq.json").read_text())
    assert summary["alpha"] == 0.05
    text = cell_text(dom, "exomir_de_summary_table_table")
    assert "encode_vs_truseq" in text and " 0.05 " in f" {text} " and " 0.1 " not in text


@pytest.mark.e2e
def test_report_shows_log2fc_and_direction_of_a_named_mirna(demo, rendered):
    dom, _ = rendered
    rows = read_tsv(demo / "results/de/encode_vs_truseq.tsv")
    top = dict(zip(rows[0], rows[1], strict=True))
    text = cell_text(dom, "exomir_de_encode_vs_truseq_top_table_table")
    lfc = float(top["log2FoldChange"])
    direction = "up in encode" if lfc > 0 else "down in encode"
    assert f"{top['mirna']} {direction} {lfc:+.3f} {float(top['lfcSE']):.3f}" in text


@pytest.mark.e2e
def test_report_methods_show_the_run_s_tool_versions(demo, rendered):
    dom, _ = rendered
    provenance = yaml.safe_load((demo / "results/provenance.yaml").read_text())
    methods = dom[dom.index('id="exomir_methods"') :]
    for tool in ("cutadapt", "bowtie", "samtools", "pysam", "pydeseq2", "multiqc"):
        assert f"<td>{tool}</td><td>{provenance['tools'][tool]}</td>" in methods, tool
    assert provenance["reference"]["inputs"]["mature"]["sha256"] in methods
    assert "higher in encode than in truseq" in methods


@pytest.mark.e2e
def test_report_fate_colours_are_distinct(rendered):
    dom, _ = rendered
    plot = dom[dom.index('id="exomir_read_fates_plot"') :]
    legend = re.findall(
        r'data-unformatted="([^"]+)".{0,2000}?class="legendundefined"[^>]*fill: (rgb\([^)]+\))',
        plot[: plot.index("Created with MultiQC")],
    )
    colours = dict(legend)
    assert {"too short", "unassigned", "adapter dimer", "piRNA", "mature"} <= set(colours)
    assert len(set(colours.values())) == len(colours)


@pytest.mark.e2e
def test_report_warns_that_the_demo_contrast_is_confounded_with_the_kit(rendered):
    dom, _ = rendered
    warnings = dom[dom.index('id="exomir_warnings"') :]
    assert "confounded with the detected kit" in warnings[:5000]


@pytest.mark.e2e
def test_general_statistics_show_reads_only(rendered):
    dom, _ = rendered
    start = dom.index('id="general_stats_table_table"')
    header = dom[start : dom.index("</thead>", start)]
    visible = [
        cell
        for cell in re.findall(r"<th[^>]*>(.*?)</th>", header, flags=re.S)
        if "hidden" not in cell
    ]
    text = " ".join(re.sub(r"<[^>]+>", " ", c) for c in visible)
    assert "% miRNA" in text and "M Aligned" not in text


@pytest.mark.e2e
def test_report_has_one_bowtie_row_per_sample_named_like_the_sample(demo, tmp_path):
    """The bowtie section reads the hairpin logs only, under the sheet's sample names, so the
    general statistics table has one row a sample (no '<sample>.spikein' rows)."""
    command = [str(BIN / "multiqc"), "--config", str(REPO / "resources/multiqc_config.yaml")]
    command += ["--outdir", str(tmp_path), "--filename", "multiqc_report.html"]
    command += ["--file-list", "results/run/multiqc_inputs.txt"]  # the workflow's own list
    subprocess.run(command, cwd=demo, capture_output=True, check=True, timeout=300)
    rows = read_tsv(tmp_path / "multiqc_report_data" / "multiqc_bowtie1.txt")
    assert sorted(row[0] for row in rows[1:]) == sorted(DEMO_SAMPLES)
    general = read_tsv(tmp_path / "multiqc_report_data" / "multiqc_general_stats.txt")
    assert sorted(row[0] for row in general[1:]) == sorted(DEMO_SAMPLES)


def write_matrix(path, samples, seed=7):
    """Negative-binomial counts for 200 miRNAs; the first 20 are 8-fold up in group b."""
    rng = np.random.default_rng(seed)
    means = rng.lognormal(5, 1.5, size=200)
    with open(path, "w") as handle:
        handle.write("mirna\t" + "\t".join(samples) + "\n")
        for i, mean in enumerate(means):
            values = []
            for sample in samples:
                mu = mean * (8 if i < 20 and sample.startswith("b") else 1)
                n = 10.0
                values.append(str(rng.negative_binomial(n, n / (n + mu))))
            handle.write(f"hsa-miR-{i}\t" + "\t".join(values) + "\n")


@pytest.mark.e2e
def test_counts_matrix_entry_point_skips_upstream_and_finds_planted_changes(tmp_path):
    samples = ["a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4"]
    write_matrix(tmp_path / "counts.tsv", samples)
    sheet = ["sample\tcondition"] + [
        f"{s}\t{'treated' if s[0] == 'b' else 'control'}" for s in samples
    ]
    (tmp_path / "samples.tsv").write_text("\n".join(sheet) + "\n")
    (tmp_path / "config.yaml").write_text(
        "samples: samples.tsv\ncounts_matrix: counts.tsv\ncontrasts:\n"
        "  treated_vs_control: {variable: condition, level: treated, reference: control}\n"
    )
    result = snakemake(tmp_path, "--configfile", str(tmp_path / "config.yaml"), "--cores", "2")
    assert "rule trim" not in result.stdout and "rule build_reference" not in result.stdout
    assert not (tmp_path / "results/trimmed").exists()
    rows = read_tsv(tmp_path / "results/de/treated_vs_control.tsv")
    assert rows[0] == DE_COLUMNS
    significant = {r[0] for r in rows[1:] if r[6] != "NA" and float(r[6]) < 0.05}
    planted = {f"hsa-miR-{i}" for i in range(20)}
    assert len(planted & significant) >= 18
    assert all(float(r[2]) > 0 for r in rows[1:] if r[0] in planted & significant)
    assert (tmp_path / "results/multiqc/multiqc_report.html").is_file()
    assert "counts_matrix" in (tmp_path / "results/provenance.yaml").read_text()
