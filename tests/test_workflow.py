"""The workflow as users drive it: dry-runs, config errors before any job, run directories."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess

import pytest
import yaml

from conftest import BIN, DATA, REPO, snakemake


def user_run(tmp_path, config_text, sheet_text):
    (tmp_path / "config.yaml").write_text(config_text)
    (tmp_path / "samples.tsv").write_text(sheet_text)
    return tmp_path


SKIP = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", "tests"}


def repo_snapshot():
    """Every file of the repo (but caches and tests) with its mtime."""
    snapshot = {}
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in SKIP and not d.endswith(".egg-info")]
        for name in files:
            path = os.path.join(root, name)
            snapshot[path] = os.stat(path).st_mtime_ns
    return snapshot


@pytest.fixture
def reads(tmp_path):
    source = DATA / "reads" / "human_truseq_1_2k.fastq.gz"
    target = tmp_path / "my reads.fastq.gz"  # a space, on purpose
    shutil.copy(source, target)
    return target


def test_dry_run_of_the_demo_needs_no_bowtie_or_samtools(tmp_path):
    # A machine with a shell and coreutils but neither bowtie nor samtools.
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("which", "sh", "bash", "env", "uname", "cat", "ls"):
        if shutil.which(name):
            (tools / name).symlink_to(shutil.which(name))
    assert shutil.which("bowtie", path=str(tools)) is None
    assert shutil.which("samtools", path=str(tools)) is None
    env = {"PATH": str(tools), "HOME": os.environ.get("HOME", "/root")}
    tmp_path = tmp_path / "run"
    tmp_path.mkdir()
    command = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "-n"]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    for rule in ("build_reference", "trim", "align", "count", "merge_mature", "multiqc"):
        assert rule in result.stdout
    assert not (tmp_path / "results").exists()


def test_user_config_without_samples_fails_instead_of_using_the_demo(tmp_path):
    run = user_run(tmp_path, "protocol: auto\n", "sample\tfastq\n")
    result = snakemake(run, "--configfile", str(run / "config.yaml"), "-n", check=False)
    assert result.returncode != 0
    assert "required key 'samples' is missing" in result.stdout + result.stderr


def test_bad_sheet_fails_before_any_job_naming_line_and_column(tmp_path, reads):
    run = user_run(
        tmp_path,
        "samples: samples.tsv\n",
        f"sample\tfastq\nok\t{reads.name}\nbad;rm\t{reads.name}\n",
    )
    result = snakemake(run, "--configfile", str(run / "config.yaml"), "--cores", "1", check=False)
    assert result.returncode != 0
    assert "line 3, column sample" in result.stdout + result.stderr
    assert not (run / "results").exists()


def test_bad_config_value_is_named(tmp_path, reads):
    run = user_run(
        tmp_path,
        "samples: samples.tsv\nmultimapper: sometimes\n",
        f"sample\tfastq\ns1\t{reads.name}\n",
    )
    result = snakemake(run, "--configfile", str(run / "config.yaml"), "-n", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "'multimapper'" in output and "'fractional'" in output


def test_user_paths_resolve_against_the_working_directory(tmp_path, reads):
    run = user_run(tmp_path, "samples: samples.tsv\n", f"sample\tfastq\ns1\t{reads.name}\n")
    result = snakemake(run, "--configfile", str(run / "config.yaml"), "-n")
    assert "trim" in result.stdout


@pytest.mark.e2e
def test_run_from_another_directory_writes_only_there(tmp_path, reads):
    before = repo_snapshot()
    run = user_run(
        tmp_path,
        "samples: samples.tsv\nprotocol: illumina\n",
        f"sample\tfastq\ns1\t{reads.name}\n",
    )
    snakemake(run, "--configfile", str(run / "config.yaml"), "--cores", "2")
    assert repo_snapshot() == before
    assert (run / "results" / "counts" / "mature_counts.tsv").is_file()
    assert (run / "results" / "multiqc" / "multiqc_report.html").is_file()
    top = {p.name for p in run.iterdir()}
    assert top <= {"results", "logs", ".snakemake", "config.yaml", "samples.tsv", reads.name}
    with gzip.open(reads, "rt") as handle:
        n_reads = sum(1 for _ in handle) // 4
    fates = (run / "results" / "qc" / "read_fates.tsv").read_text().splitlines()
    header, row = fates[0].split("\t"), fates[1].split("\t")
    values = dict(zip(header, row, strict=True))
    assert int(values["input"]) == n_reads
    partition = header[header.index("adapter_dimer") : header.index("unassigned") + 1]
    assert sum(float(values[c]) for c in partition) == pytest.approx(n_reads)


def test_slurm_profile_names_only_rules_that_exist_and_sizes_every_cluster_rule(tmp_path):
    """A renamed rule would silently fall back to default resources or leave its group."""
    listed = subprocess.run(
        [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "-l"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    named = set(profile["set-resources"]) | set(profile["groups"]) | set(profile["set-threads"])
    assert named <= set(listed), named - set(listed)
    local = set()
    for path in [REPO / "Snakefile", REPO / "workflow" / "Snakefile"]:
        for block in path.read_text().split("localrules:")[1:]:
            local |= set(block.split("\n\n")[0].replace(",", " ").split())
    assert set(listed) - local - set(profile["set-resources"]) == set()
