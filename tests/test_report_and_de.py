"""The bundled demo end to end (DE included), its report in a real browser, and the
counts-matrix entry point that starts from a deposited count table instead of FASTQ."""

from __future__ import annotations

import csv
import math
import shutil
import subprocess

import numpy as np
import pytest

from conftest import BIN, REPO, snakemake

DEMO_SAMPLES = ["truseq_1", "truseq_2", "encode_1", "encode_2"]
DE_COLUMNS = ["mirna", "baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]
REPORT_SECTIONS = {
    "exomir_read_fates": "Read fates",
    "exomir_insert_lengths": "Insert lengths",
    "exomir_protocols": "Library kit",
    "exomir_ev_quality": "EV quality gate",
    "exomir_pca": "PCA",
    "exomir_watchlist": "watch list",
    "exomir_de_encode_vs_truseq": "encode_vs_truseq",
}


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


@pytest.mark.e2e
def test_report_renders_every_section_in_a_real_browser(demo, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (bash .ci/setup test installs it)")
    report = demo / "results/multiqc/multiqc_report.html"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=15000",
    ]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
    ).stdout
    # The DOM after the page's JavaScript ran: plots were drawn, sections are present.
    for section_id, heading in REPORT_SECTIONS.items():
        assert f'id="{section_id}"' in dom, section_id
        assert heading.lower() in dom.lower(), heading
    assert "Bowtie (distinct sequences)" in dom
    assert dom.count("<svg") > 3 or "plotly" in dom.lower()
    screenshot = tmp_path / "report.png"
    subprocess.run(
        [
            chromium,
            *flags,
            "--window-size=1400,3000",
            f"--screenshot={screenshot}",
            report.as_uri(),
        ],
        capture_output=True,
        timeout=180,
    )
    assert screenshot.stat().st_size > 50_000


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
