"""UMI deduplication: count molecules, not PCR copies.

The unit is (insert, UMI). Within one insert, UMIs one mismatch apart are taken to be one
molecule whose UMI picked up a PCR or sequencing error. Greedy by abundance: the most-read
UMI becomes a representative, and any later UMI within one mismatch of a representative is
its duplicate. Neighbours are generated (L × 4 strings per UMI) instead of comparing all
pairs, so the cost is O(n·L) even for inserts with tens of thousands of UMIs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping

UMI_ALPHABET = "ACGTN"


def one_mismatch_neighbours(umi: str) -> Iterator[str]:
    """Every string of the same length that differs from ``umi`` at exactly one position."""
    for position, base in enumerate(umi):
        prefix, suffix = umi[:position], umi[position + 1 :]
        for other in UMI_ALPHABET:
            if other != base:
                yield prefix + other + suffix


def representative_umis(umi_reads: Mapping[str, int]) -> list[str]:
    """UMIs that stand for distinct molecules, most-read first (ties by sequence)."""
    if len(umi_reads) <= 1:
        return list(umi_reads)
    ordered = sorted(umi_reads, key=lambda umi: (-umi_reads[umi], umi))
    accepted: set[str] = set()
    representatives = []
    for umi in ordered:
        if any(neighbour in accepted for neighbour in one_mismatch_neighbours(umi)):
            continue
        accepted.add(umi)
        representatives.append(umi)
    return representatives


def count_molecules(pair_reads: Mapping[tuple[str, str], int]) -> dict[str, int]:
    """Molecules per insert from reads per (insert, UMI)."""
    umis_by_insert: dict[str, dict[str, int]] = defaultdict(dict)
    for (insert, umi), reads in pair_reads.items():
        umis_by_insert[insert][umi] = reads
    return {insert: len(representative_umis(umis)) for insert, umis in umis_by_insert.items()}
