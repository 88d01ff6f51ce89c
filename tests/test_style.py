"""The code habits of the project, enforced: formatters, linters, snakemake --lint."""

from __future__ import annotations

import subprocess

from conftest import BIN, REPO

PYTHON_SOURCES = ["workflow/exomir", "workflow/scripts", "tests"]
SNAKEMAKE_SOURCES = ["Snakefile", "workflow/Snakefile", "workflow/rules"]


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True)


def test_python_is_ruff_formatted():
    result = run(str(BIN / "ruff"), "format", "--check", *PYTHON_SOURCES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_python_passes_ruff_check():
    result = run(str(BIN / "ruff"), "check", *PYTHON_SOURCES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakemake_files_are_snakefmt_formatted():
    result = run(str(BIN / "snakefmt"), "--check", *SNAKEMAKE_SOURCES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakemake_lint_is_clean():
    result = run(str(BIN / "snakemake"), "--lint", "--cores", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr, result.stdout + result.stderr
