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
from exomir.config import schema_default

PYTHON_PACKAGES = (
    "snakemake",
    "cutadapt",
    "dnaio",
    "pysam",
    "pandas",
    "numpy",
    "pydeseq2",
    "multiqc",
    "ViennaRNA",
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


# A hairpin-only reference (no mature file): arms placed from each hairpin's fold.
PREDICTED_ARM_COUNTS = (
    "the reference had no matures: reads aligned to a hairpin lying wholly on one side of its "
    "terminal loop's centre count for that arm ({hairpin}-5p / -3p; MirGeneDB X_pre -> X_5p / "
    "X_3p), arms placed from the hairpin's ViennaRNA fold; reads across the loop are "
    "hairpin_only"
)


def count_definitions(config: dict) -> dict[str, str]:
    tolerance = config.get("isomir_tolerance", {})
    five = tolerance.get("five_prime", schema_default("isomir_tolerance.five_prime"))
    three = tolerance.get("three_prime", schema_default("isomir_tolerance.three_prime"))
    policy = config.get("multimapper", schema_default("multimapper"))
    mismatches = config.get("alignment", {}).get(
        "mismatches", schema_default("alignment.mismatches")
    )
    max_tail = config.get("alignment", {}).get("max_tail", schema_default("alignment.max_tail"))
    return {
        "unit": (
            "reads; for UMI kits (qiaseq) molecules: UMIs clustered per insert by UMI-tools' "
            "directional rule, corrected for genuine molecules whose random UMIs collide, "
            "rounded to whole molecules per insert"
        ),
        "mature_counts": (
            f"reads aligned (bowtie -v {mismatches}, best stratum) to a hairpin whose "
            f"start is within {five} nt and end within {three} nt of an annotated mature arm; "
            "all isomiRs of a mature miRNA are summed into its row"
            + (
                f"; reads left unaligned are aligned again without their last 1-{max_tail} nt "
                "(non-templated 3' tails) and count when that copy lands on a mature arm"
                if max_tail
                else ""
            )
        ),
        "multimapper": f"{policy}: {MULTIMAPPER_MEANING[policy]}",
        "hairpin_counts": "reads aligned anywhere on a hairpin, same multi-mapper policy "
        "over hairpins",
        "spikein_counts": "reads aligned to a spike-in sequence (aligned before the hairpins)",
        "mature_cpm": "mature counts per million mature-assigned counts of the sample",
        "isomir_counts": "per mature miRNA and exact read sequence; offsets are read start/"
        "templated end minus mature start/end on the hairpin; tail: the non-templated 3' bases "
        "('.' for none)",
        "isomirs_gff": "the isomiR counts as mirGFF3 (miRTop), counts rounded to whole reads",
        "read_fates": "columns adapter_dimer..unassigned partition the input reads; no_adapter is "
        "informative (reads in which no adapter was found, whatever their fate)",
    }


def enrichment_provenance(
    targets: str | os.PathLike | None,
    genesets: list[str | os.PathLike],
    literature_table: str | os.PathLike | None,
) -> dict:
    """Checksums of the target table, gene sets and literature table, and for the bundled
    ones what they hold: the miRTarBase evidence classes kept and the release as known."""
    from exomir.enrichment import BUNDLED_GENESET_ORIGIN
    from exomir.enrichment_sources import BUNDLED_GENESETS
    from exomir.targets import BUNDLE_PROVENANCE

    resources = Path(__file__).resolve().parents[2] / "resources"

    def bundled(path: str | os.PathLike, folder: str) -> bool:
        return Path(path).resolve().parent == resources / folder

    record: dict = {}
    if targets:
        record["targets"] = {"path": str(targets), "sha256": sha256(targets)}
        if bundled(targets, "targets"):
            record["targets"].update(BUNDLE_PROVENANCE)
    record["genesets"] = []
    for path in genesets:
        entry = {"path": str(path), "sha256": sha256(path)}
        names = {file: source for source, file in BUNDLED_GENESETS.items()}
        if bundled(path, "genesets") and Path(path).name in names:
            entry["origin"] = BUNDLED_GENESET_ORIGIN[names[Path(path).name]]
        record["genesets"].append(entry)
    if literature_table:
        record["literature_table"] = {
            "path": str(literature_table),
            "sha256": sha256(literature_table),
        }
        if bundled(literature_table, "literature"):
            record["literature_table"]["origin"] = (
                "findings as summarised in the osteosarcoma chemoresistance and the exercise / "
                "EV / sarcopenia reviews (resources/literature/README.md); directions are the "
                "reviews' statements"
            )
    return record


def build_provenance(
    config: dict,
    sample_sheet: str | os.PathLike | None,
    reference_json: str | os.PathLike | None,
    protocol_paths: list[Path],
    counts_matrix: str | os.PathLike | None = None,
    enrichment: dict | None = None,
) -> dict:
    record: dict = {"exomir_version": __version__, "tools": tool_versions()}
    if sample_sheet:
        record["sample_sheet"] = {"path": str(sample_sheet), "sha256": sha256(sample_sheet)}
    record["definitions"] = count_definitions(config)
    record["config"] = config
    if reference_json:
        record["reference"] = json.loads(Path(reference_json).read_text())
        if record["reference"].get("positions_from") == "predicted_arms":
            record["definitions"]["mature_counts"] = PREDICTED_ARM_COUNTS
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
    if enrichment:
        record["enrichment"] = enrichment
    return record


def write_provenance(record: dict, path: str | os.PathLike) -> None:
    with atomic_open(path) as handle:
        yaml.safe_dump(record, handle, sort_keys=False, default_flow_style=False, width=100)
