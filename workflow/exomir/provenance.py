"""results/provenance.yaml: what produced these numbers and what the numbers mean.

A count table is only interpretable with its definitions (unit, multi-mapper policy,
isomiR tolerance), the reference release and checksums, the sample sheet it came from,
and the tool versions; this module gathers all of that into one file.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import yaml

from exomir import __version__
from exomir.atomic import atomic_open

PYTHON_PACKAGES = (
    "snakemake",
    "cutadapt",
    "dnaio",
    "pysam",
    "pandas",
    "numpy",
    "pydeseq2",
    "multiqc",
)

MULTIMAPPER_MEANING = {
    "unique": "a read counts only when all its mature hits carry one name; ambiguous reads are "
    "left out of the table (they are in the 'mature' read fate)",
    "fractional": "a read hitting n distinct mature names adds 1/n to each; loci of the same "
    "mature miRNA (e.g. let-7a-5p from let-7a-1/2/3) are one name, so such reads count 1",
    "collapse": "mature miRNAs with identical sequences are one row named 'a/b'; a read hitting "
    "n such rows adds 1/n to each",
}


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _first_line(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "not found"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def tool_versions() -> dict[str, str]:
    versions = {"exomir": __version__, "python": platform.python_version()}
    for package in PYTHON_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    versions["bowtie"] = _first_line(["bowtie", "--version"]).split("version")[-1].strip()
    versions["samtools"] = _first_line(["samtools", "--version"]).removeprefix("samtools ").strip()
    return versions


def count_definitions(config: dict) -> dict[str, str]:
    tolerance = config.get("isomir_tolerance", {})
    five, three = tolerance.get("five_prime", 2), tolerance.get("three_prime", 5)
    policy = config.get("multimapper", "fractional")
    return {
        "unit": (
            "reads; for UMI kits (qiaseq) molecules: UMIs clustered per insert by UMI-tools' "
            "directional rule, corrected for genuine molecules whose random UMIs collide, "
            "rounded to whole molecules per insert"
        ),
        "mature_counts": (
            "reads aligned (bowtie -v "
            f"{config.get('alignment', {}).get('mismatches', 1)}, best stratum) to a hairpin whose "
            f"start is within {five} nt and end within {three} nt of an annotated mature arm; "
            "all isomiRs of a mature miRNA are summed into its row"
        ),
        "multimapper": f"{policy}: {MULTIMAPPER_MEANING[policy]}",
        "hairpin_counts": "reads aligned anywhere on a hairpin, same multi-mapper policy "
        "over hairpins",
        "spikein_counts": "reads aligned to a spike-in sequence (aligned before the hairpins)",
        "mature_cpm": "mature counts per million mature-assigned counts of the sample",
        "isomir_counts": "per mature miRNA and exact read sequence; offsets are read start/end "
        "minus mature start/end on the hairpin",
        "read_fates": "columns adapter_dimer..unassigned partition the input reads; no_adapter is "
        "informative (reads in which no adapter was found, whatever their fate)",
    }


def build_provenance(
    config: dict,
    sample_sheet: str | os.PathLike,
    reference_json: str | os.PathLike | None,
    protocol_paths: list[Path],
    counts_matrix: str | os.PathLike | None = None,
) -> dict:
    record: dict = {
        "exomir_version": __version__,
        "tools": tool_versions(),
        "sample_sheet": {"path": str(sample_sheet), "sha256": sha256(sample_sheet)},
        "definitions": count_definitions(config),
        "config": config,
    }
    if reference_json:
        record["reference"] = json.loads(Path(reference_json).read_text())
    if counts_matrix:
        record["counts_matrix"] = {"path": str(counts_matrix), "sha256": sha256(counts_matrix)}
    protocols = {}
    for path in protocol_paths:
        detection = json.loads(Path(path).read_text())
        protocols[detection["sample"]] = {
            "requested": detection.get("requested"),
            "used": detection.get("protocol"),
            "adapter": detection.get("adapter"),
            "warnings": detection.get("warnings", []),
        }
    if protocols:
        record["protocols"] = protocols
    return record


def write_provenance(record: dict, path: str | os.PathLike) -> None:
    with atomic_open(path) as handle:
        yaml.safe_dump(record, handle, sort_keys=False, default_flow_style=False, width=100)
