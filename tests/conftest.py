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


def counting_reference_args(directory: Path) -> list[str]:
    """``exomir count``'s reference options for a directory laid out by build-reference."""
    d = Path(directory)
    return [
        *("--hairpin", str(d / "hairpin.fa"), "--mature", str(d / "mature.fa")),
        *("--spikein", str(d / "spikein.fa"), "--positions", str(d / "mature_positions.tsv")),
    ]


def count_output_args(outdir: Path) -> list[str]:
    """``exomir count``'s output options, the usual names inside ``outdir``."""
    d = Path(outdir)
    names = ("mature", "hairpin", "spikein", "isomirs", "fates")
    return [arg for name in names for arg in (f"--{name}-out", str(d / f"{name}.tsv"))]


def reference_output_args(outdir: Path) -> list[str]:
    """``exomir build-reference``'s output options, the usual names inside ``outdir``."""
    d = Path(outdir)
    files = {
        "hairpin": "hairpin.fa",
        "mature": "mature.fa",
        "spikein": "spikein.fa",
        "positions": "mature_positions.tsv",
        "summary": "reference.json",
    }
    return [arg for name, file in files.items() for arg in (f"--{name}-out", str(d / file))]
