"""GEO reanalysis through the main Snakefile, in the two documented steps, against a fake
GEO/ENA on 127.0.0.1: (1) `geo:` alone proposes a sample sheet; (2) that sheet, with a
condition filled in, runs the whole pipeline with FASTQ fetched by the workflow."""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from conftest import snakemake

pytest_plugins = ["httpserver", "geo_archive"]

SERIES = "GSE900001"


def read_tsv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.mark.e2e
def test_geo_series_to_sheet_to_counts(archive, tmp_path):
    services = {
        "eutils": archive.services.eutils,
        "ena_browser": archive.services.ena_browser,
        "ena_portal": archive.services.ena_portal,
    }
    step1 = {"geo": SERIES, "geo_services": services, "fastq_download": {"retries": 1}}
    (tmp_path / "geo.yaml").write_text(yaml.safe_dump(step1))
    result = snakemake(tmp_path, "--configfile", str(tmp_path / "geo.yaml"), "--cores", "1")
    assert "rule trim" not in result.stdout  # step 1 only proposes the sheet
    proposed = read_tsv(tmp_path / "results/geo/samples.tsv")
    assert {"sample", "runs", "layout", "condition"} <= set(proposed[0])
    assert all(row["condition"] == "" for row in proposed)

    # Step 2: the user keeps two samples, fills in the condition, and runs the pipeline.
    chosen = [row for row in proposed if row["runs"]][:2]
    for row, condition in zip(chosen, ["trained", "sedentary"], strict=True):
        row["condition"] = condition
    with open(tmp_path / "my_samples.tsv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(chosen[0]), delimiter="\t")
        writer.writeheader()
        writer.writerows(chosen)
    step2 = dict(step1, samples="my_samples.tsv", protocol="auto")
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(step2))
    snakemake(tmp_path, "--configfile", str(tmp_path / "run.yaml"), "--cores", "2")

    counts = read_tsv(tmp_path / "results/counts/mature_counts.tsv")
    samples = [row["sample"] for row in chosen]
    assert list(counts[0]) == ["mirna", *samples]
    assert all(sum(float(r[s]) for r in counts) > 0 for s in samples)
    for sample in samples:
        report = json.loads((tmp_path / f"results/fastq/{sample}.json").read_text())
        assert report["runs"] and all(run["md5_verified"] for run in report["runs"])
        detection = json.loads((tmp_path / f"results/trimmed/{sample}/protocol.json").read_text())
        assert detection["protocol"] == "illumina"
    fates = read_tsv(tmp_path / "results/qc/read_fates.tsv")
    assert [row["sample"] for row in fates] == samples
