"""An edit re-runs what it affects and nothing else (the sheet and config reach rules as files).

One demo run in a user run directory, then edits one after another: each is checked on the
dry run's job list, then run, so the next edit starts from an up-to-date directory. The
outputs of the unedited run are byte-identical to the golden copies of the demo
(tests/data/golden/demo, made before the sheet and config became rule inputs).
"""

from __future__ import annotations

import filecmp
import re
import shutil

import pytest
import yaml

from conftest import DATA, REPO, snakemake

pytestmark = pytest.mark.e2e

GOLDEN = DATA / "golden" / "demo"
GOLDEN_FILES = {
    "counts": [
        "mature_counts.tsv",
        "mature_cpm.tsv",
        "hairpin_counts.tsv",
        "spikein_counts.tsv",
        "isomir_counts.tsv",
        "biotype_counts.tsv",
    ],
    "qc": ["read_fates.tsv", "ev_quality.tsv"],
    "de": [
        "encode_vs_truseq.tsv",
        "size_factors.tsv",
        "normalized_counts.tsv",
        "vst_counts.tsv",
        "watchlist.tsv",
        "summary.tsv",
    ],
}
PER_SAMPLE_RULES = {"trim", "align", "count", "classify_biotypes"}
REFERENCE_RULES = {
    "build_reference",
    "bowtie_index",
    "prepare_biotype_reference",
    "kit_mapping_reference",
}


def planned_jobs(workdir) -> dict[str, int]:
    """Rule -> number of jobs a dry run would execute now."""
    result = snakemake(workdir, "--configfile", str(workdir / "config.yaml"), "-n")
    table = result.stdout.split("Job stats:", 1)
    if len(table) == 1:
        assert "Nothing to be done" in result.stdout + result.stderr, result.stdout[-2000:]
        return {}
    jobs = {}
    for line in table[1].splitlines()[3:]:
        match = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if not match:
            break
        if match.group(1) != "total":
            jobs[match.group(1)] = int(match.group(2))
    return jobs


def run(workdir) -> None:
    snakemake(workdir, "--configfile", str(workdir / "config.yaml"), "--cores", "2")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("edits")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["samples"] = "samples.tsv"
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    sheet = (REPO / "config" / "samples.tsv").read_text()
    sheet = sheet.replace("resources/demo/", f"{REPO}/resources/demo/")
    (workdir / "samples.tsv").write_text(sheet)
    run(workdir)
    return workdir


def edit_sheet(workdir, change) -> None:
    path = workdir / "samples.tsv"
    path.write_text(change(path.read_text()))


def edit_config(workdir, change) -> None:
    path = workdir / "config.yaml"
    config = yaml.safe_load(path.read_text())
    change(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def test_outputs_equal_the_golden_copies_byte_for_byte(demo_run):
    for folder, names in GOLDEN_FILES.items():
        for name in names:
            produced = demo_run / "results" / folder / name
            assert filecmp.cmp(produced, GOLDEN / name, shallow=False), f"{folder}/{name}"


def test_a_finished_run_plans_nothing(demo_run):
    assert planned_jobs(demo_run) == {}


def test_a_condition_swap_reruns_de_and_the_report_only(demo_run):
    def swap(text):
        text = text.replace("truseq_2.fastq.gz\ttruseq", "truseq_2.fastq.gz\tSWAP")
        text = text.replace("trimmed_2.fastq.gz\tencode", "trimmed_2.fastq.gz\ttruseq")
        return text.replace("\tSWAP", "\tencode")

    edit_sheet(demo_run, swap)
    jobs = planned_jobs(demo_run)
    assert {"de_normalize", "de_contrast", "de_summary", "multiqc"} <= set(jobs)
    assert not set(jobs) & (PER_SAMPLE_RULES | REFERENCE_RULES)
    assert not [rule for rule in jobs if rule.startswith("merge_")]
    run(demo_run)
    assert planned_jobs(demo_run) == {}


def test_a_changed_alpha_reruns_the_contrasts_and_the_report_only(demo_run):
    edit_config(demo_run, lambda config: config.update(alpha=0.1))
    jobs = planned_jobs(demo_run)
    assert {"de_contrast", "de_summary", "multiqc"} <= set(jobs)
    assert "de_normalize" not in jobs  # size factors do not depend on alpha
    assert not set(jobs) & (PER_SAMPLE_RULES | REFERENCE_RULES)
    assert not [rule for rule in jobs if rule.startswith("merge_")]
    run(demo_run)
    summary = (demo_run / "results" / "de" / "summary.tsv").read_text()
    assert "\t0.1\t" in summary


def test_an_added_sample_runs_its_own_jobs_then_the_merges(demo_run):
    source = REPO / "resources" / "demo" / "truseq_1.fastq.gz"
    shutil.copy(source, demo_run / "truseq_3.fastq.gz")
    line = f"truseq_3\t{demo_run / 'truseq_3.fastq.gz'}\ttruseq\tc\n"
    edit_sheet(demo_run, lambda text: text + line)
    jobs = planned_jobs(demo_run)
    for rule in PER_SAMPLE_RULES:
        assert jobs.get(rule) == 1, (rule, jobs)
    assert {"merge_mature", "merge_fates", "de_contrast", "multiqc"} <= set(jobs)
    assert not set(jobs) & REFERENCE_RULES
    run(demo_run)
    header = (demo_run / "results" / "counts" / "mature_counts.tsv").open().readline()
    assert header.rstrip("\n").split("\t")[-1] == "truseq_3"


def test_multiqc_reads_every_section_the_run_wrote(demo_run):
    """MultiQC reads a list of its rule's inputs: a section file missing from it (as the
    volcano plots once were) would silently drop out of the report."""
    listed = set((demo_run / "results" / "run" / "multiqc_inputs.txt").read_text().split())
    sections = sorted((demo_run / "results" / "de" / "multiqc").glob("*_mqc.*"))
    assert sections
    for path in sections:
        assert str(path.relative_to(demo_run)) in listed, path.name
    assert "results/qc/multiqc" in listed
    report = (demo_run / "results" / "multiqc" / "multiqc_report.html").read_text()
    assert "exomir_de_encode_vs_truseq_volcano" in report
