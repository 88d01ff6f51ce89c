"""exomir used as a Snakemake module by a host workflow, with a prefix, through to counts."""

from __future__ import annotations

import filecmp

import pytest
import yaml

from conftest import DATA, REPO, snakemake_command, workflow_env

pytestmark = pytest.mark.e2e

HOST = """configfile: "config.yaml"


module exomir:
    snakefile:
        "{snakefile}"
    config:
        config["exomir"]
    prefix:
        "exomir_out"


use rule * from exomir as exomir_*


rule host_all:
    default_target: True
    input:
        "exomir_out/results/counts/mature_counts.tsv",
        "exomir_out/results/qc/read_fates.tsv",
"""


def test_host_workflow_runs_exomir_as_a_module_with_a_prefix(tmp_path):
    import subprocess

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["samples"] = "samples.tsv"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"exomir": config}, sort_keys=False))
    sheet = (REPO / "config" / "samples.tsv").read_text()
    (tmp_path / "samples.tsv").write_text(
        sheet.replace("resources/demo/", f"{REPO}/resources/demo/")
    )
    (tmp_path / "Snakefile").write_text(HOST.format(snakefile=REPO / "workflow" / "Snakefile"))
    command = snakemake_command(tmp_path, "--cores", "2")
    command[2] = str(tmp_path / "Snakefile")  # the host's Snakefile, not exomir's
    result = subprocess.run(
        command, capture_output=True, text=True, env=workflow_env(), timeout=900
    )
    assert result.returncode == 0, result.stderr[-4000:]
    out = tmp_path / "exomir_out"
    for name, folder in (("mature_counts.tsv", "counts"), ("read_fates.tsv", "qc")):
        produced = out / "results" / folder / name
        assert filecmp.cmp(produced, DATA / "golden" / "demo" / name, shallow=False)
    # Nothing outside the prefix: every file a rule writes is one of its declared paths.
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "Snakefile",
        "config.yaml",
        "exomir_out",
        "samples.tsv",
    ]
