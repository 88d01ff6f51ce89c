"""The kit decision inside the workflow: the trim rule maps to the run's own references.

One run of three samples: the real barcoded ENCODE library (auto: adapter inferred, 5'
barcode clipped), a simulated NEXTflex library with ligation-biased random bases (auto:
composition alone says TruSeq) and the same NEXTflex library declared TruSeq (kept, but
warned in log, protocol.json, report and ``likely_reason``).
"""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from conftest import DATA, REPO, snakemake
from tools.simulate import simulate_library

pytestmark = [pytest.mark.e2e]
MIRBASE = REPO / "resources" / "mirbase"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("kit_decision_run")
    shutil.copy(DATA / "reads" / "human_encode_hepg2_barcoded_2k.fastq.gz", workdir / "hepg2.fq.gz")
    simulate_library(
        MIRBASE / "mature.fa.gz",
        MIRBASE / "hairpin.fa.gz",
        "hsa",
        20_000,
        "nextflex",
        5,
        fastq_out=workdir / "nextflex.fq.gz",
        truth_out=workdir / "nextflex.truth.tsv",
        trna_fa=DATA / "simulate" / "tRNA.fa",
    )
    (workdir / "samples.tsv").write_text(
        "sample\tfastq\tprotocol\n"
        "hepg2\thepg2.fq.gz\t\n"
        "nextflex_auto\tnextflex.fq.gz\t\n"
        "nextflex_as_truseq\tnextflex.fq.gz\tillumina\n"
    )
    (workdir / "config.yaml").write_text("samples: samples.tsv\nprotocol: auto\nspecies: hsa\n")
    targets = [
        "results/qc/read_fates.tsv",
        "results/qc/ev_quality.tsv",
        "results/qc/insert_lengths_by_fate.tsv",
        "results/multiqc/multiqc_report.html",
    ]
    snakemake(workdir, "--configfile", str(workdir / "config.yaml"), "--cores", "2", *targets)
    return workdir


def protocol(run, sample):
    return json.loads((run / f"results/trimmed/{sample}/protocol.json").read_text())


def test_barcoded_encode_library_is_trimmed_with_inferred_adapter_and_barcode_clipped(run):
    decided = protocol(run, "hepg2")
    assert decided["protocol"] == "inferred+barcode6" and decided["clip5"] == 6
    assert decided["adapter"].startswith("ACGGGCTAATATTT")
    with open(run / "results/qc/read_fates.tsv") as handle:
        fates = {row["sample"]: row for row in csv.DictReader(handle, delimiter="\t")}
    assert float(fates["hepg2"]["mature"]) > 0.3 * float(fates["hepg2"]["input"])


def test_biased_nextflex_is_decided_by_mapping_in_the_workflow(run):
    decided = protocol(run, "nextflex_auto")
    assert decided["protocol"] == "nextflex"
    candidates = decided["evidence"]["mapping"]["candidates"]
    assert {"illumina", "nextflex", "trimmed"} <= {c["protocol"] for c in candidates}
    # every candidate's total assignment rate (spike-ins, hairpins, biotypes), not on ties only
    assert all(c["assigned_fraction"] >= c["mirna_fraction"] for c in candidates)
    log = (run / "logs/trim/nextflex_auto.log").read_text()
    assert "kit decided by test mapping (nextflex)" in log


def test_wrong_declared_kit_is_warned_in_log_report_and_quality_gate(run):
    decided = protocol(run, "nextflex_as_truseq")
    assert decided["protocol"] == "illumina"
    assert decided["evidence"]["mapping"]["better_than_declared"] == "nextflex"
    log = (run / "logs/trim/nextflex_as_truseq.log").read_text()
    assert "with nextflex" in log and "check protocol:" in log
    with open(run / "results/qc/ev_quality.tsv") as handle:
        quality = {row["sample"]: row for row in csv.DictReader(handle, delimiter="\t")}
    assert quality["nextflex_as_truseq"]["likely_reason"] == (
        "kit or adapter mismatch: nextflex maps better"
    )
    report = (run / "results/multiqc/multiqc_report.html").read_text()
    assert "Insert length by fate" in report
    assert "mirna_by_candidate" in report or "nextflex 6" in report
    assert "% assigned" in report


def test_insert_lengths_by_fate_cover_every_sample(run):
    with open(run / "results/qc/insert_lengths_by_fate.tsv") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert {r["sample"] for r in rows} == {"hepg2", "nextflex_auto", "nextflex_as_truseq"}
    assert {"mirna_hairpin", "tRNA"} <= {r["fate"] for r in rows}
