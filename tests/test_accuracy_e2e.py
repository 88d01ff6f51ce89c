"""Accuracy of the whole workflow on simulated libraries with known truth, per kit.

Each kit's library (150,000 reads from the bundled miRBase subset) goes through the real
Snakemake workflow; its counts are compared with the simulator's truth. The figures are
printed (run with -s) for the issue notes.
"""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import DATA, REPO, snakemake
from tools.accuracy import evaluate_files, read_mature_counts
from tools.simulate import simulate_library

pytestmark = [pytest.mark.e2e]

READS = 150_000
# CATS is left out: its poly(A) trimming loses ~5 % of inserts to a 1-base over-trim (see
# the simulator issue note); its figures are reported, not asserted.
# illumina and qiaseq (UMIs) run by default; the other kits with -m slow.
KITS = [
    "illumina",
    "qiaseq",
    pytest.param("nextflex", marks=pytest.mark.slow),
    pytest.param("nebnext", marks=pytest.mark.slow),
]
MIRBASE = REPO / "resources" / "mirbase"


@pytest.fixture(scope="module", params=KITS)
def workflow_run(request, tmp_path_factory):
    """Simulate one kit's library, run the workflow on it; (kit, sample, run dir, truth)."""
    kit = request.param
    run = tmp_path_factory.mktemp(f"accuracy_{kit}")
    sample = f"sim_{kit}"
    result = simulate_library(
        MIRBASE / "mature.fa.gz",
        MIRBASE / "hairpin.fa.gz",
        "hsa",
        READS,
        kit,
        seed=20240,
        fastq_out=run / f"{sample}.fastq.gz",
        truth_out=run / f"{sample}.truth.tsv",
        trna_fa=DATA / "simulate" / "tRNA.fa",
    )
    (run / "samples.tsv").write_text(f"sample\tfastq\n{sample}\t{result.fastq.name}\n")
    (run / "config.yaml").write_text(f"samples: samples.tsv\nprotocol: {kit}\nspecies: hsa\n")
    per_sample = f"results/counts/per_sample/{sample}"
    targets = [
        f"{per_sample}/isomirs.tsv",
        f"{per_sample}/mature.tsv",
        "results/counts/mature_counts.tsv",
        "results/qc/read_fates.tsv",
    ]
    snakemake(run, "--configfile", str(run / "config.yaml"), "--cores", "2", *targets)
    return kit, sample, run, result.truth


@pytest.fixture(scope="module")
def report(workflow_run):
    """The accuracy figures of one kit's run, printed once for the issue notes."""
    kit, sample, run, truth = workflow_run
    per_sample = run / "results" / "counts" / "per_sample" / sample
    unit = "molecules" if kit == "qiaseq" else "reads"
    found = evaluate_files(truth, per_sample / "isomirs.tsv", per_sample / "mature.tsv", unit)
    print(f"\n[{kit}, {READS} reads]\n{found.summary()}")
    return found


def test_counts_rank_mirnas_as_the_truth_does(report):
    assert report.mirnas_compared >= 100
    assert report.spearman >= 0.98


def test_mirna_reads_are_counted_for_the_right_mirna(report):
    assert report.right_fraction >= 0.95


def test_non_mirna_reads_are_rarely_counted_as_mirna(report):
    assert report.non_mirna_fraction < 0.01


def test_read_fates_sum_to_the_simulated_reads(workflow_run):
    kit, sample, run, _ = workflow_run
    fates = pd.read_csv(run / "results" / "qc" / "read_fates.tsv", sep="\t").set_index("sample")
    row = fates.loc[sample]
    assert row["input"] == READS
    # The partition: every column between input and no_adapter (biotypes included).
    partition = list(fates.columns[fates.columns.get_loc("input") + 1 : -1])
    assert partition[0] == "adapter_dimer" and partition[-1] == "unassigned"
    assert row[partition].sum() == pytest.approx(READS)
    # Only UMI kits can tell PCR duplicates; their fates after dedup are in molecules.
    assert (row["umi_duplicate"] > 0) == (kit == "qiaseq")


def test_merged_matrix_holds_the_sample_column(workflow_run):
    _, sample, run, _ = workflow_run
    counts = run / "results" / "counts"
    merged = read_mature_counts(counts / "mature_counts.tsv", sample)
    single = read_mature_counts(counts / "per_sample" / sample / "mature.tsv", sample)
    pd.testing.assert_series_equal(merged, single)
