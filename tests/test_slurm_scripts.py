""".ci/slurm-down leaves the machine as it was: no daemon running, no SLURM config left.

A leftover slurm.conf is not harmless: `scontrol` then waits ~9 s for a controller that no
longer runs, and the SLURM executor plugin calls `scontrol show config` each time it is
imported, i.e. at the start of every snakemake run on the machine, local ones included.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.slurm

DAEMONS = ("slurmctld", "slurmd", "slurmdbd", "mariadbd")
CONFIGS = (Path("/etc/slurm/slurm.conf"), Path("/etc/slurm/slurmdbd.conf"))
MARKER = "# Written by exomir .ci/slurm-up"
STATE = Path(os.environ.get("EXOMIR_SLURM_STATE", "/var/tmp/exomir-slurm"))


def script(name: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(REPO / ".ci" / name)], capture_output=True, text=True, timeout=900
    )


def running(comm: str) -> list[int]:
    """Live processes named ``comm``; for mariadbd only slurm-up's (its command line names
    the cluster's state folder): a system MariaDB is not the test cluster's."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().strip() != comm:
                continue
            started_by_us = str(STATE) in (proc / "cmdline").read_text() or comm != "mariadbd"
        except OSError:
            continue
        if started_by_us:
            pids.append(int(proc.name))
    return pids


def ours(config: Path) -> bool:
    return config.exists() and MARKER in config.read_text()


@pytest.fixture(scope="module")
def down_after_up() -> dict[str, object]:
    up = script("slurm-up")
    assert up.returncode == 0, up.stdout + up.stderr
    seen = {comm: running(comm) for comm in DAEMONS}
    configs = [ours(config) for config in CONFIGS]
    down = script("slurm-down")
    return {"seen": seen, "configs": configs, "down": down}


def test_slurm_up_starts_the_daemons_and_writes_its_config(down_after_up):
    assert all(down_after_up["seen"][comm] for comm in ("slurmctld", "slurmd")), down_after_up
    assert down_after_up["configs"][0]


def test_slurm_down_stops_every_daemon_it_started(down_after_up):
    down = down_after_up["down"]
    assert down.returncode == 0, down.stdout + down.stderr
    assert {comm: running(comm) for comm in DAEMONS} == {comm: [] for comm in DAEMONS}


def test_slurm_down_removes_the_config_so_scontrol_fails_at_once(down_after_up):
    assert not any(ours(config) for config in CONFIGS)
    start = time.monotonic()
    result = subprocess.run(["scontrol", "show", "config"], capture_output=True, timeout=60)
    assert result.returncode != 0
    assert time.monotonic() - start < 3


def test_slurm_down_again_is_a_harmless_no_op(down_after_up):
    again = script("slurm-down")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "stopped" not in again.stdout
