"""UMI dedup: one-mismatch neighbours, greedy by abundance, per insert."""

from __future__ import annotations

import random
from itertools import combinations

from exomir.umi import count_molecules, one_mismatch_neighbours, representative_umis


def hamming(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b, strict=True))


def test_neighbours_are_all_strings_one_mismatch_away():
    umi = "ACGTN"
    neighbours = list(one_mismatch_neighbours(umi))
    assert len(neighbours) == len(set(neighbours)) == len(umi) * 4
    assert all(hamming(umi, other) == 1 for other in neighbours)


def test_pcr_duplicates_with_one_mismatch_are_one_molecule():
    assert count_molecules({("TAGCTT", "AAAACCCCGGGG"): 40, ("TAGCTT", "AAAACCCCGGGT"): 2}) == {
        "TAGCTT": 1
    }


def test_umis_two_mismatches_apart_stay_distinct():
    assert count_molecules({("TAGCTT", "AAAACCCCGGGG"): 40, ("TAGCTT", "AAAACCCCGGTT"): 2}) == {
        "TAGCTT": 2
    }


def test_same_umi_on_different_inserts_is_different_molecules():
    molecules = count_molecules({("TAGCTT", "AAAACCCCGGGG"): 3, ("TGAGGT", "AAAACCCCGGGG"): 5})
    assert molecules == {"TAGCTT": 1, "TGAGGT": 1}


def test_greedy_chain_keeps_umis_far_from_every_representative():
    # B is one mismatch from A and from C, but C is two from A: A absorbs B, C stays.
    umis = {"AAAA": 10, "AAAC": 5, "AACC": 1}
    assert representative_umis(umis) == ["AAAA", "AACC"]


def test_most_abundant_umi_is_the_representative():
    assert representative_umis({"AAAC": 2, "AAAA": 9}) == ["AAAA"]


def test_ties_are_broken_by_sequence():
    assert representative_umis({"AAAC": 3, "AAAA": 3}) == ["AAAA"]


def test_umis_of_different_length_are_never_merged():
    assert len(representative_umis({"AAAA": 5, "AAA": 1})) == 2


def all_pairs_representatives(umi_reads: dict[str, int]) -> list[str]:
    ordered = sorted(umi_reads, key=lambda umi: (-umi_reads[umi], umi))
    accepted: list[str] = []
    for umi in ordered:
        if not any(hamming(umi, rep) <= 1 for rep in accepted):
            accepted.append(umi)
    return accepted


def test_neighbour_search_agrees_with_all_pairs_comparison():
    rng = random.Random(7)
    parents = ["".join(rng.choice("ACGT") for _ in range(6)) for _ in range(30)]
    umi_reads: dict[str, int] = {}
    for parent in parents:
        position = rng.randrange(6)
        child = parent[:position] + rng.choice("ACGTN") + parent[position + 1 :]
        umi_reads[parent] = rng.randint(1, 20)
        umi_reads.setdefault(child, rng.randint(1, 20))
    assert any(hamming(a, b) == 1 for a, b in combinations(umi_reads, 2))
    assert representative_umis(umi_reads) == all_pairs_representatives(umi_reads)
