"""Rebuild the bundled miRNA-target tables (hsa.tsv.gz, mmu.tsv.gz) from miRTarBase.

Run once by a maintainer (it is not part of the pipeline):

    .venv/bin/python resources/targets/build_bundle.py /work/shared/data/targets

Evidence classes kept (README.md beside this file says why):
- ``strong``: the pair has at least one "Functional MTI" record (reporter assay, western
  blot, qPCR on the target);
- ``clip``: no strong record, but at least two "Functional MTI (Weak)" records whose
  experiments include CLIP or CLASH (PAR-CLIP, HITS-CLIP, CLASH, ...).
Non-functional records and single CLIP records are dropped. Output columns: ``mirna, gene,
evidence``, sorted, gzipped without name or time stamp so a rebuild is byte-identical.
"""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
STRONG = "Functional MTI"
WEAK = "Functional MTI (Weak)"
CLIP = r"CLIP|CLASH"
MIN_CLIP_RECORDS = 2
SPECIES = ("hsa", "mmu")


def evidence_pairs(mti: pd.DataFrame) -> pd.DataFrame:
    """One row per kept miRNA-gene pair with its evidence class."""
    table = pd.DataFrame(
        {
            "mirna": mti["miRNA"].str.strip(),
            "gene": mti["Target Gene"].str.strip(),
            "strong": mti["Support Type"] == STRONG,
            "clip": (mti["Support Type"] == WEAK)
            & mti["Experiments"].fillna("").str.contains(CLIP, case=False),
        }
    )
    pairs = table.groupby(["mirna", "gene"], sort=True).agg(
        strong=("strong", "any"), clip=("clip", "sum")
    )
    pairs["evidence"] = None
    pairs.loc[pairs["clip"] >= MIN_CLIP_RECORDS, "evidence"] = "clip"
    pairs.loc[pairs["strong"], "evidence"] = "strong"
    kept = pairs[pairs["evidence"].notna()].reset_index()
    return kept[["mirna", "gene", "evidence"]]


def write_gzipped_tsv(table: pd.DataFrame, path: Path) -> None:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(table.to_csv(sep="\t", index=False, lineterminator="\n").encode())
    path.write_bytes(buffer.getvalue())


def main(source: str) -> None:
    for species in SPECIES:
        mti = pd.read_csv(Path(source) / f"{species}_MTI.csv.gz", encoding="utf-8-sig")
        pairs = evidence_pairs(mti)
        write_gzipped_tsv(pairs, HERE / f"{species}.tsv.gz")
        counts = pairs["evidence"].value_counts().to_dict()
        print(
            f"{species}: {len(pairs)} pairs ({counts}), {pairs['mirna'].nunique()} miRNAs, "
            f"{pairs['gene'].nunique()} genes, from {len(mti)} records",
            file=sys.stderr,
        )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: build_bundle.py TARGETS_DIR (with hsa_MTI.csv.gz, mmu_MTI.csv.gz)")
    main(sys.argv[1])
