"""Command-line options that several ``exomir`` commands share (commands never import
each other: what two of them need lives here or in the package's domain modules)."""

from __future__ import annotations

import argparse

from exomir.reference import ReferenceFiles
from exomir.runfiles import read_json_file, read_sample_list

REFERENCE_FILES = {
    "hairpin": "the species' hairpins (FASTA)",
    "mature": "the species' mature miRNAs (FASTA)",
    "spikein": "spike-in sequences (FASTA)",
    "positions": "mature positions on hairpins (TSV)",
    "summary": "reference.json: release, checksums, warnings",
}


def add_reference_files(parser: argparse.ArgumentParser, suffix: str, verb: str) -> None:
    """``--hairpin-<suffix>`` ... ``--summary-<suffix>``: the files of a built reference."""
    for name, what in REFERENCE_FILES.items():
        parser.add_argument(f"--{name}-{suffix}", required=True, help=f"{what}, {verb}")


def reference_files(args: argparse.Namespace, suffix: str) -> ReferenceFiles:
    return ReferenceFiles(*(getattr(args, f"{name}_{suffix}") for name in REFERENCE_FILES))


def add_sample_list(parser: argparse.ArgumentParser, what: str = "per-sample tables") -> None:
    parser.add_argument(
        "--list",
        required=True,
        dest="sample_list",
        help=f"sample list: 'sample<TAB>path' lines of the {what}, in sheet order",
    )


def sample_list(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """(samples, paths) of ``--list``."""
    return read_sample_list(args.sample_list)


def add_config_file(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--config", required=True, help=f"the config fragment this step reads (JSON): {what}"
    )


def config_file(args: argparse.Namespace) -> dict:
    return read_json_file(args.config)


def add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=1, help="worker processes (default 1)")
