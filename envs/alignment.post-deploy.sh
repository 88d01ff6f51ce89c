#!/usr/bin/env bash
# Run by Snakemake once, inside the new env: install this workflow's exomir package.
# Editable, so the env runs the workflow's current source; no dependencies (the env file
# lists them, from conda). EXOMIR_SOURCE is set by workflow/rules/common.smk.
set -euo pipefail
: "${EXOMIR_SOURCE:?EXOMIR_SOURCE (the exomir workflow directory) is not set}"
python -m pip install --no-deps --no-build-isolation --disable-pip-version-check -e "$EXOMIR_SOURCE"
