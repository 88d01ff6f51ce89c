"""Shared test fixtures: repo paths, the venv's tools, and small helpers for workflow runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DATA = REPO / "tests" / "data"


def workflow_env() -> dict[str, str]:
    """This environment without the venv on PATH: proves rules find tools without activation."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if Path(p) != BIN)
    return env


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    """This interpreter's snakemake on the repo's Snakefile, run from ``workdir``."""
    return [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 900):
    """Run the workflow from ``workdir`` with this interpreter's snakemake (no venv activation)."""
    command = snakemake_command(workdir, *args)
    result = subprocess.run(
        command, capture_output=True, text=True, env=workflow_env(), timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
        )
    return result


@pytest.fixture
def repo() -> Path:
    return REPO
