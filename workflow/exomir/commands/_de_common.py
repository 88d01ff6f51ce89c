"""Arguments shared by the DE commands: the DE config as one JSON argument, threads."""

from __future__ import annotations

import argparse
import json

from exomir.errors import ExomirError


def add_spec_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--spec",
        required=True,
        help="the DE part of the config as JSON (design, contrasts, alpha, normalization, "
        "lfc_shrink, watchlist, quality_gate, continuous_covariates)",
    )


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=1, help="worker processes (default 1)")


def load_spec(text: str) -> dict:
    """The --spec JSON as a dict; a malformed one is a one-line error, not a traceback."""
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as error:
        raise ExomirError(f"--spec: not valid JSON: {error}") from error
    if not isinstance(spec, dict):
        raise ExomirError("--spec: must be a JSON object")
    return spec
