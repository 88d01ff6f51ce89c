"""Which target table, gene sets and literature table a run uses: the user's or the bundles.

Resolved when the workflow loads (so kept free of scipy, which costs a second to import):
targets are bundled for hsa and mmu, gene sets (human) for hsa only, the literature table
for every species. Without a table for the species, enrichment is skipped and the reason
is stated in ``results/enrichment/{contrast}.json`` and the report.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from exomir.config import resolve_path, schema_default

BUNDLED_TARGET_SPECIES = ("hsa", "mmu")
BUNDLED_GENESETS = {"reactome": "reactome.gmt.gz", "go_bp": "go_bp.gmt.gz"}
GENESET_SPECIES = "hsa"


@dataclass(frozen=True)
class EnrichmentInputs:
    """The target table and GMT files a run uses, or why enrichment is skipped."""

    targets: Path | None
    genesets: list[Path]
    skip_reason: str | None


def bundled_targets_path(resources: str | os.PathLike, species: str) -> Path | None:
    """The bundled table of ``species``, or None when none is bundled."""
    if species not in BUNDLED_TARGET_SPECIES:
        return None
    return Path(resources) / "targets" / f"{species}.tsv.gz"


def bundled_geneset_paths(resources: str | os.PathLike) -> list[Path]:
    return [Path(resources) / "genesets" / name for name in BUNDLED_GENESETS.values()]


def bundled_literature_path(resources: str | os.PathLike) -> Path:
    return Path(resources) / "literature" / "seed_findings.tsv"


def enrichment_inputs(
    config: Mapping, resources: str | os.PathLike, base_dir: str | os.PathLike
) -> EnrichmentInputs:
    """From config ``targets:`` / ``genesets:`` and ``species``: user files or the bundles."""
    species = config.get("species", schema_default("species"))
    targets = (
        resolve_path(config["targets"], base_dir)
        if config.get("targets")
        else bundled_targets_path(resources, species)
    )
    given = config.get("genesets")
    if isinstance(given, str):
        given = [given]
    if given:
        genesets = [resolve_path(p, base_dir) for p in given]
    elif species == GENESET_SPECIES:
        genesets = bundled_geneset_paths(resources)
    else:
        genesets = []
    reason = None
    if targets is None:
        reason = f"no miRNA-target table is bundled for species {species}; give one in targets:"
    elif not genesets:
        reason = (
            f"the bundled gene sets are human and species is {species}; give a GMT of "
            f"{species} genes in genesets:"
        )
    return EnrichmentInputs(targets, genesets, reason)


def literature_table_path(
    config: Mapping, resources: str | os.PathLike, base_dir: str | os.PathLike
) -> Path:
    if config.get("literature_table"):
        return resolve_path(config["literature_table"], base_dir)
    return bundled_literature_path(resources)
