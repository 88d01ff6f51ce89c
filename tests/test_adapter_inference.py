"""Adapter inference from the reads: de novo, shifted presets, 5' barcodes."""

from __future__ import annotations

import random
from collections import Counter

from exomir.adapter_inference import (
    explained_fraction,
    five_prime_barcode_length,
    infer_adapter,
    partial_presets,
)

TRUSEQ = "TGGAATTCTCGGGTGCCAAGG"
UNKNOWN = "GTCCAGTTACGGATCTAGGCTTAACCGATG"
MIRNAS = [
    "TAGCTTATCAGACTGATGTTGA",
    "TGAGGTAGTAGGTTGTATAGTT",
    "TAGCAGCACGTAAATATTGGCG",
    "CAACGGAATCCCAAAAGCAGCTG",
    "TCCCTGAGACCCTTTAACCTGTGA",
]


def library(adapter: str, n: int = 2000, seed: int = 1, barcodes=(), skew=None) -> Counter:
    rng = random.Random(seed)
    reads = Counter()
    for _ in range(n):
        insert = rng.choices(MIRNAS, weights=skew)[0] if skew else rng.choice(MIRNAS)
        if rng.random() < 0.3:  # other small RNA fragments of varied length
            insert = "".join(rng.choice("ACGT") for _ in range(rng.randint(16, 30)))
        head = rng.choice(barcodes) if barcodes else ""
        reads[(head + insert + adapter + "A" * 50)[:50]] += 1
    return reads


def test_unknown_adapter_is_found_de_novo_from_its_first_base():
    found = infer_adapter(library(UNKNOWN))
    assert found is not None and found.source == "de novo"
    assert UNKNOWN.startswith(found.sequence) and len(found.sequence) >= 12
    assert found.fraction > 0.9


def test_an_abundant_mirna_is_not_taken_for_the_adapter():
    # 90 % of reads are one miRNA: its k-mers are everywhere, but it starts at the read start
    found = infer_adapter(library(TRUSEQ, skew=[90, 3, 3, 2, 2]))
    assert found is not None and TRUSEQ.startswith(found.sequence[:12])


def test_preset_missing_its_first_bases_explains_the_reads_and_the_preset_does_not():
    reads = library(TRUSEQ[2:])
    assert explained_fraction(reads, TRUSEQ) < 0.5
    best = max(partial_presets(reads, {"illumina": TRUSEQ}), key=lambda a: a.fraction)
    assert best.sequence == TRUSEQ[2:] and best.fraction > 0.9
    assert best.source == "illumina adapter without its first 2 bases"


def test_six_nt_barcodes_are_seen_and_plain_or_one_mirna_libraries_have_none():
    barcodes = ("CAGTCG", "TGACTC", "GCTAGA", "ATCGAT")
    assert five_prime_barcode_length(library(TRUSEQ, barcodes=barcodes)) == 6
    assert five_prime_barcode_length(library(TRUSEQ)) == 0
    assert five_prime_barcode_length(library(TRUSEQ, skew=[96, 1, 1, 1, 1])) == 0
