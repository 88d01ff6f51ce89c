"""The demo workflow through a real single-node SLURM cluster gives a local run's numbers.

Select with `pytest -m slurm`, as root: a module fixture starts the cluster with
.ci/slurm-up (installing SLURM, munge and MariaDB from Debian when missing) and always stops
it with .ci/slurm-down. The SLURM run uses profiles/slurm plus the flags a one-node test
cluster needs; everything else is what a user of a real cluster would type.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from conftest import REPO, snakemake

pytestmark = pytest.mark.slurm

PARTITION = "main"
# Outputs that must not depend on where the jobs ran.
COUNTS_DIR = "results/counts"
READ_FATES = "results/qc/read_fates.tsv"
# Rules that can never be local rules: each of them must have run inside a SLURM job.
CLUSTER_RULES = {
    "build_reference",
    "bowtie_index",
    "trim",
    "align",
    "count",
}
PROFILE = REPO / "profiles" / "slurm"


@dataclass(frozen=True)
class Cluster:
    accounting: bool


@dataclass(frozen=True)
class Run:
    workdir: Path
    seconds: float
    log: str


@dataclass(frozen=True)
class SlurmJob:
    partition: str
    state: str


def ci_script(name: str) -> list[str]:
    return ["bash", str(REPO / ".ci" / name)]


# Module scope: the cluster is down again before tests/test_slurm_scripts.py brings its own.
@pytest.fixture(scope="module")
def slurm_cluster() -> Iterator[Cluster]:
    try:
        up = subprocess.run(ci_script("slurm-up"), capture_output=True, text=True, timeout=900)
        assert up.returncode == 0, f".ci/slurm-up failed:\n{up.stdout}\n{up.stderr}"
        config = subprocess.run(
            ["scontrol", "show", "config"], capture_output=True, text=True, check=True
        ).stdout
        yield Cluster(accounting="accounting_storage/slurmdbd" in config)
    finally:
        down = subprocess.run(ci_script("slurm-down"), capture_output=True, text=True, timeout=300)
        if down.returncode != 0:
            pytest.fail(f".ci/slurm-down failed:\n{down.stdout}\n{down.stderr}")


def timed_run(workdir: Path, *args: str, timeout: int) -> Run:
    start = time.monotonic()
    result = snakemake(workdir, *args, timeout=timeout)
    return Run(workdir, time.monotonic() - start, result.stdout + result.stderr)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return timed_run(tmp_path_factory.mktemp("local"), "--cores", "2", timeout=1200)


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Run:
    args = [
        "--executor",
        "slurm",
        "--workflow-profile",
        str(PROFILE),
        # Test-cluster flags: no accounts exist; jobs take seconds, so poll early; keep the
        # logs of successful jobs as evidence of where each rule ran.
        "--slurm-no-account",
        "--slurm-init-seconds-before-status-checks",
        "5",
        "--slurm-keep-successful-logs",
    ]
    if not slurm_cluster.accounting:
        args += ["--slurm-status-command", "squeue"]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("EXOMIR_SLURM_PARTITION", PARTITION)
        return timed_run(tmp_path_factory.mktemp("slurm"), *args, timeout=2400)


def file_bytes(workdir: Path, relative: str) -> dict[str, bytes]:
    """Every file at ``relative`` (a file or a folder, recursively), by path in the run."""
    root = workdir / relative
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(workdir)): p.read_bytes() for p in files}


def differing(local: dict[str, bytes], slurm: dict[str, bytes]) -> list[str]:
    return sorted(
        name for name in local.keys() | slurm.keys() if local.get(name) != slurm.get(name)
    )


def submitted_job_ids(run: Run) -> set[str]:
    return set(re.findall(r"submitted with SLURM jobid (\d+)", run.log))


def slurm_run_id(run: Run) -> str:
    match = re.search(r"SLURM run ID: (\S+)", run.log)
    assert match, "the SLURM executor did not log its run ID"
    return match.group(1)


def slurm_jobs(cluster: Cluster, run_id: str) -> dict[str, SlurmJob]:
    """The cluster's record of the run's jobs (the executor names every job by the run ID)."""
    if cluster.accounting:
        since = (date.today() - timedelta(days=2)).isoformat()
        command = ["sacct", "-X", "-n", "-P", "-S", since, "--name", run_id]
        command += ["-o", "JobIDRaw,Partition,State"]
    else:
        # Finished jobs stay listed for MinJobAge (300 s, set by .ci/slurm-up).
        command = ["squeue", "-h", "--states=all", "--name", run_id, "-o", "%i|%P|%T"]
    lines = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    jobs = {}
    for line in lines.splitlines():
        job_id, partition, state = line.split("|")
        jobs[job_id] = SlurmJob(partition, state.split()[0])
    return jobs


def rules_in_slurm_logs(workdir: Path) -> dict[str, set[str]]:
    """SLURM job id -> rules the job's snakemake ran, from the executor's per-job logs."""
    logs = (workdir / ".snakemake" / "slurm_logs").rglob("*.log")
    return {log.stem: set(re.findall(r"^\s*rule (\w+):$", log.read_text(), re.M)) for log in logs}


def profile_group(name: str) -> set[str]:
    groups = yaml.safe_load((PROFILE / "config.yaml").read_text())["groups"]
    return {rule for rule, group in groups.items() if group == name}


def demo_sample_count() -> int:
    lines = (REPO / "config" / "samples.tsv").read_text().splitlines()
    rows = [line for line in lines if line.strip() and not line.startswith("#")]
    return len(rows) - 1  # the header


def test_slurm_counts_are_byte_identical_to_local_counts(local_run: Run, slurm_run: Run):
    local = file_bytes(local_run.workdir, COUNTS_DIR)
    slurm = file_bytes(slurm_run.workdir, COUNTS_DIR)
    assert local, f"the local run wrote nothing under {COUNTS_DIR}"
    assert differing(local, slurm) == []


def test_slurm_read_fates_are_byte_identical_to_local_read_fates(local_run: Run, slurm_run: Run):
    local = file_bytes(local_run.workdir, READ_FATES)
    assert local, f"the local run wrote no {READ_FATES}"
    assert differing(local, file_bytes(slurm_run.workdir, READ_FATES)) == []


def test_every_submitted_job_completed_in_slurm(slurm_cluster: Cluster, slurm_run: Run):
    submitted = submitted_job_ids(slurm_run)
    assert submitted, "snakemake submitted no SLURM jobs"
    jobs = slurm_jobs(slurm_cluster, slurm_run_id(slurm_run))
    assert set(jobs) == submitted
    assert {job_id: job.state for job_id, job in jobs.items() if job.state != "COMPLETED"} == {}


def test_slurm_jobs_ran_in_the_partition_from_the_environment(
    slurm_cluster: Cluster, slurm_run: Run
):
    jobs = slurm_jobs(slurm_cluster, slurm_run_id(slurm_run))
    assert jobs
    assert {job.partition for job in jobs.values()} == {PARTITION}


def test_cluster_rules_ran_inside_submitted_slurm_jobs(slurm_run: Run):
    rules_by_job = rules_in_slurm_logs(slurm_run.workdir)
    assert set(rules_by_job) <= submitted_job_ids(slurm_run)
    ran_in_slurm = set().union(*rules_by_job.values())
    assert CLUSTER_RULES - ran_in_slurm == set()


def test_each_sample_aligns_and_counts_in_one_slurm_job(slurm_run: Run):
    rules_by_job = rules_in_slurm_logs(slurm_run.workdir)
    ran = set().union(*rules_by_job.values())
    # Rules of the profile's group that this workflow has (e.g. biotypes only for some species).
    expected = profile_group("align_count") & ran
    assert {"align", "count"} <= expected
    chains = [rules for rules in rules_by_job.values() if "count" in rules]
    assert len(chains) == demo_sample_count()
    assert all(rules == expected for rules in chains), chains
