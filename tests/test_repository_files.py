"""Files a user or the Snakemake workflow catalog reads: licence, citation, catalog usage."""

from __future__ import annotations

import json
import tomllib

import jsonschema
import yaml

import exomir
from conftest import DATA, REPO


def test_citation_is_valid_cff_1_2_0_with_the_package_version():
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    schema = json.loads((DATA / "cff" / "schema-1.2.0.json").read_text())
    jsonschema.Draft7Validator(schema).validate(citation)
    assert citation["cff-version"] == "1.2.0"
    assert citation["version"] == exomir.__version__
    assert citation["license"] == "MIT"


def test_citation_schema_rejects_a_broken_file():
    # The schema check above can fail: a citation without authors is not valid CFF.
    schema = json.loads((DATA / "cff" / "schema-1.2.0.json").read_text())
    broken = {"cff-version": "1.2.0", "message": "m", "title": "t"}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_license_is_the_mit_licence_pyproject_declares():
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License") and "exomir developers" in text
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == {"text": "MIT"}


def test_catalog_file_states_usage_and_deployment():
    catalog = yaml.safe_load((REPO / ".snakemake-workflow-catalog.yml").read_text())
    usage = catalog["usage"]
    assert set(usage) == {"mandatory-flags", "software-stack-deployment"}
    assert {"desc", "flags"} <= set(usage["mandatory-flags"])
    deployment = usage["software-stack-deployment"]
    assert deployment["conda"] is True and all(isinstance(v, bool) for v in deployment.values())
    for env in (REPO / "envs").glob("*.yaml"):
        assert env.with_suffix(".post-deploy.sh").is_file(), env
