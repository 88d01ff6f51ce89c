"""UMI molecules: directional clustering as umi_tools does it, and right counts at depth."""

from __future__ import annotations

import random

import pytest

from exomir.umi import count_molecules, directional_clusters, estimate_molecules
from tools.simulate_umis import simulate_umi_reads

umi_tools_network = pytest.importorskip("umi_tools.network")


def umi_tools_clusters(pair_reads: dict[tuple[str, str], int]) -> dict[str, int]:
    """Directional clusters per insert (and UMI length) from umi_tools itself."""
    by_group: dict[tuple[str, int], dict[bytes, int]] = {}
    for (insert, umi), reads in pair_reads.items():
        by_group.setdefault((insert, len(umi)), {})[umi.encode()] = reads
    clusters: dict[str, int] = {}
    for (insert, _), umis in by_group.items():
        clusterer = umi_tools_network.UMIClusterer(cluster_method="directional")
        clusters[insert] = clusters.get(insert, 0) + len(clusterer(umis, 1))
    return clusters


def test_error_copy_with_few_reads_joins_its_molecule():
    assert count_molecules({("TAGCTT", "AAAACCCCGGGG"): 40, ("TAGCTT", "AAAACCCCGGGT"): 2}) == {
        "TAGCTT": 1
    }


def test_two_well_read_umis_one_mismatch_apart_stay_two_molecules():
    # 40 < 2 * 30 - 1: directional keeps them apart, greedy merging did not.
    pairs = {("TAGCTT", "AAAACCCCGGGG"): 40, ("TAGCTT", "AAAACCCCGGGT"): 30}
    assert count_molecules(pairs) == {"TAGCTT": 2}


def test_umis_two_mismatches_apart_stay_distinct():
    assert count_molecules({("TAGCTT", "AAAACCCCGGGG"): 40, ("TAGCTT", "AAAACCCCGGTT"): 2}) == {
        "TAGCTT": 2
    }


def test_same_umi_on_different_inserts_is_different_molecules():
    molecules = count_molecules({("TAGCTT", "AAAACCCCGGGG"): 3, ("TGAGGT", "AAAACCCCGGGG"): 5})
    assert molecules == {"TAGCTT": 1, "TGAGGT": 1}


def test_umis_of_different_length_are_never_merged():
    assert directional_clusters({("T", "AAAA"): 5, ("T", "AAA"): 1}) == {"T": 2}


def test_reads_whose_umi_was_cut_off_are_one_molecule_per_insert():
    pairs = {("T", ""): 7, ("T", "ACGTACGTACGT"): 3, ("U", ""): 2}
    assert count_molecules(pairs) == {"T": 2, "U": 1}


def test_chain_through_directional_edges_is_one_cluster():
    # 10 -> 5 -> 1: reachable from the most-read UMI, as in umi_tools.
    pairs = {("T", "AAAA"): 10, ("T", "AAAC"): 5, ("T", "AACC"): 1}
    assert directional_clusters(pairs) == umi_tools_clusters(pairs) == {"T": 1}


def test_single_read_umis_joined_only_by_each_other_are_one_cluster():
    pairs = {("T", "AAAA"): 1, ("T", "AAAC"): 1, ("T", "AACC"): 1, ("T", "GGGG"): 1}
    assert directional_clusters(pairs) == umi_tools_clusters(pairs) == {"T": 2}


def test_n_in_a_umi_is_a_base_like_any_other():
    pairs = {("T", "AAAA"): 9, ("T", "AANA"): 1, ("T", "NNNN"): 2}
    assert directional_clusters(pairs) == umi_tools_clusters(pairs) == {"T": 2}


def random_library(seed: int) -> dict[tuple[str, str], int]:
    """Many small inserts over a tiny UMI space: dense one-mismatch graphs, all count ties."""
    rng = random.Random(seed)
    pairs: dict[tuple[str, str], int] = {}
    for insert in range(60):
        length = rng.choice([4, 5, 6])
        for _ in range(rng.randint(1, 120)):
            umi = "".join(
                rng.choice("ACGTN" if rng.random() < 0.05 else "ACGT") for _ in range(length)
            )
            pairs[f"INS{insert}", umi] = rng.choice([1, 1, 1, 2, 2, 3, 5, 8, 20, 100])
    return pairs


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_clusters_equal_umi_tools_on_dense_random_graphs(seed):
    pairs = random_library(seed)
    assert directional_clusters(pairs) == umi_tools_clusters(pairs)


@pytest.mark.parametrize(
    "molecules,weights", [(2_000, (0.25, 0.25, 0.25, 0.25)), (6_000, (0.3, 0.2, 0.2, 0.3))]
)
def test_clusters_equal_umi_tools_on_simulated_libraries_with_errors(molecules, weights):
    pairs = simulate_umi_reads(molecules, 5, error_rate=0.005, base_weights=weights)
    assert len(pairs) > molecules  # error copies are there to be absorbed
    assert directional_clusters(pairs) == umi_tools_clusters(pairs)


def within(counted: float, truth: int) -> float:
    return abs(counted / truth - 1.0)


# Realistic UMI libraries: skewed synthesis, PCR copies from 1 to dozens, UMI errors.
LIBRARIES = {
    "skewed": {"mean_copies": 3.0, "error_rate": 0.005, "base_weights": (0.3, 0.2, 0.2, 0.3)},
    "uniform, few copies": {"mean_copies": 1.5, "error_rate": 0.003},
    "very skewed, many copies": {
        "mean_copies": 8.0,
        "error_rate": 0.002,
        "base_weights": (0.4, 0.2, 0.2, 0.2),
    },
}


def assert_molecules_within_two_percent(molecules: int, library: str, seed: int) -> None:
    pairs = simulate_umi_reads(molecules, seed, **LIBRARIES[library])
    (clusters,) = directional_clusters(pairs).values()
    (counted,) = count_molecules(pairs).values()
    assert within(counted, molecules) <= 0.02, (library, molecules, counted)
    if molecules >= 50_000:  # directional alone is measurably short here: the correction acts
        assert clusters < 0.98 * molecules


@pytest.mark.parametrize("library", sorted(LIBRARIES))
@pytest.mark.parametrize("molecules", [1_000, 10_000])
def test_molecules_within_two_percent_of_truth(molecules, library):
    assert_molecules_within_two_percent(molecules, library, seed=21)


@pytest.mark.slow
@pytest.mark.parametrize("library", sorted(LIBRARIES))
@pytest.mark.parametrize("molecules", [50_000, 200_000, 500_000])
def test_molecules_within_two_percent_of_truth_deep(molecules, library):
    assert_molecules_within_two_percent(molecules, library, seed=22)


def test_estimate_stays_between_clusters_and_reads():
    pairs = {("T", "AAAA"): 1, ("T", "CCCC"): 1, ("T", "GGGG"): 3}
    (estimate,) = estimate_molecules(pairs).values()
    assert 3 <= estimate <= 5
    # A saturated 3-nt UMI space: the correction may not invent more molecules than reads.
    rng = random.Random(4)
    crowded = {("T", "".join(rng.choice("ACGT") for _ in range(3))): 1 for _ in range(200)}
    reads = sum(crowded.values())
    (estimate,) = estimate_molecules(crowded).values()
    assert directional_clusters(crowded)["T"] <= estimate <= reads


def test_shallow_inserts_are_not_changed_by_the_correction():
    pairs = simulate_umi_reads(300, 8, error_rate=0.003)
    assert count_molecules(pairs) == directional_clusters(pairs)


def test_deep_insert_among_shallow_ones_is_corrected_alone():
    deep = simulate_umi_reads(40_000, 9, insert="DEEP", error_rate=0.003)
    shallow = simulate_umi_reads(500, 10, insert="SHALLOW", error_rate=0.003)
    counted = count_molecules({**deep, **shallow})
    assert within(counted["DEEP"], 40_000) <= 0.02
    assert directional_clusters(deep)["DEEP"] < 0.98 * 40_000
    assert counted["SHALLOW"] == directional_clusters(shallow)["SHALLOW"]


def test_chunks_of_inserts_give_the_same_clusters(monkeypatch):
    pairs = random_library(4)
    whole = directional_clusters(pairs)
    monkeypatch.setattr("exomir.umi._CHUNK_PAIRS", 100)  # ~40 chunks of whole inserts
    assert directional_clusters(pairs) == whole == umi_tools_clusters(pairs)


def test_long_umis_split_inserts_so_keys_fit_in_int64():
    # 5^25 leaves room for 15 insert ids next to a 25-nt UMI: several key chunks.
    rng = random.Random(6)
    pairs = {}
    for insert in range(40):
        parent = "".join(rng.choice("ACGT") for _ in range(25))
        pairs[f"INS{insert}", parent] = 20
        pairs[f"INS{insert}", parent[:-1] + ("A" if parent[-1] != "A" else "C")] = 1
        pairs[f"INS{insert}", "".join(rng.choice("ACGT") for _ in range(25))] = 3
    assert (
        directional_clusters(pairs)
        == umi_tools_clusters(pairs)
        == {f"INS{insert}": 2 for insert in range(40)}
    )
