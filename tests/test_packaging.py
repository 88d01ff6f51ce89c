"""The package outside the repository: a built wheel carries its schemas and kit presets.

The wheel is installed non-editably into a scratch folder (``--target``, no dependencies:
those come from this venv) and run from a directory outside the repository, so nothing
can be found through the source tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

import exomir
from conftest import DATA, REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    source = out / "source"
    # Build from a copy: a build must not write into the repository (build/, egg-info).
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", ".snakemake", "results", "logs", "tests", "*.egg-info", "build"
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("exomir-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target)]
        + [str(wheel)],
        check=True,
        capture_output=True,
    )
    return target


def run_installed(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m exomir.cli ARGS`` with the installed copy first on the path, from ``cwd``."""
    env = dict(os.environ, PYTHONPATH=str(installed))
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_wheel_holds_the_schemas_and_kit_presets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "exomir/data/kits.yaml",
        "exomir/schemas/config.schema.yaml",
        "exomir/schemas/samples.schema.yaml",
        "exomir/commands/trim.py",
    } <= names
    # Test tools stay out of the product.
    assert not any("simulate" in name or "accuracy" in name for name in names)


def test_installed_wheel_runs_from_outside_the_repository(installed, tmp_path):
    where = run_installed(installed, tmp_path, "-c", "import exomir; print(exomir.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed)

    # Kit presets: detect the kit of real TruSeq reads.
    fastq = shutil.copy(DATA / "reads" / "human_truseq_1_2k.fastq.gz", tmp_path)
    detect = run_installed(
        installed, tmp_path, "-m", "exomir.cli", "detect-kit", "--sample", "s1",
        "--fastq", fastq, "--protocol", "auto", "--out", "protocol.json",
    )  # fmt: skip
    assert detect.returncode == 0, detect.stderr
    assert yaml.safe_load((tmp_path / "protocol.json").read_text())["protocol"] == "illumina"

    # Schemas: a sample sheet is checked against samples.schema.yaml, config against
    # config.schema.yaml (defaults filled from it, kit names from kits.yaml).
    (tmp_path / "samples.tsv").write_text("sample\tprotocol\ns1\tilumina\n")
    sheet = (
        "from exomir.samplesheet import read_sample_sheet\n"
        "from exomir.errors import ExomirError\n"
        "try:\n    read_sample_sheet('samples.tsv', need_fastq=False)\n"
        "except ExomirError as error:\n    print(error)\n"
    )
    merge = run_installed(installed, tmp_path, "-c", sheet)
    assert merge.returncode == 0, merge.stderr
    assert "line 2, column protocol: 'ilumina' is not one of: auto, cats" in merge.stdout
    check = "from exomir.config import validate_config; print(validate_config({'samples': 'x'}))"
    config = run_installed(installed, tmp_path, "-c", check)
    assert config.returncode == 0, config.stderr
    assert "'min_length': 16" in config.stdout and "'protocol': 'auto'" in config.stdout


def test_one_version(wheel):
    assert wheel.name.startswith(f"exomir-{exomir.__version__}-")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]


def test_editable_install_reads_the_files_in_the_repository():
    # The venv's editable install maps exomir.schemas onto workflow/schemas: the catalog's
    # schemas and the package's are the same files, not copies.
    from exomir import bundled

    assert bundled.schema_path("config") == REPO / "workflow/schemas/config.schema.yaml"
    assert bundled.schema_path("samples") == REPO / "workflow/schemas/samples.schema.yaml"
    assert bundled.kits_path() == REPO / "workflow/exomir/data/kits.yaml"


def test_every_subpackage_is_listed_in_pyproject():
    # pyproject lists packages explicitly (exomir.schemas is mapped onto workflow/schemas);
    # a new subpackage left out would be missing from wheels.
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {
        ".".join(init.parent.relative_to(REPO / "workflow").parts)
        for init in (REPO / "workflow" / "exomir").rglob("__init__.py")
    }
    assert set(setuptools["packages"]) == found | {"exomir.schemas"}
    assert setuptools["package-dir"]["exomir.schemas"] == "workflow/schemas"
