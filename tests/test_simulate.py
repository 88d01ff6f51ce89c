"""The read simulator: layouts per kit, isomiR and error models, truth table, determinism."""

from __future__ import annotations

import gzip
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from exomir.errors import ExomirError
from exomir.reference import FastaRecord, MaturePlacement, read_fasta
from tools.simulate import (
    ADDITIONS,
    DEFAULT_SPIKEINS,
    FIVE_PRIME_OFFSETS,
    KITS,
    RANDOM_LENGTHS,
    THREE_PRIME_OFFSETS,
    TRNA_FRAGMENT_LENGTHS,
    read_truth,
    simulate_library,
    tail_model,
    truth_per_mirna,
    unambiguous_matures,
)
from tools.simulate_cli import main

DATA = Path(__file__).parent / "data" / "simulate"
MATURE = DATA / "mature.fa.gz"
HAIRPIN = DATA / "hairpin.fa.gz"
TRNA = DATA / "tRNA.fa"
TRUSEQ = "TGGAATTCTCGGGTGCCAAGG"
QIASEQ = "AACTGTAGGCACCATCAAT"
READ1_3P = "AGATCGGAAGAGCACACGTCT"
# Layout tests read 100 nt so that even a 40-nt insert leaves the whole adapter (and UMI) visible.
LONG_READ = 100


def simulate(directory: Path, kit: str = "illumina", seed: int = 1, n_reads: int = 2000, **kw):
    kw.setdefault("trna_fa", TRNA)
    return simulate_library(
        MATURE,
        HAIRPIN,
        "hsa",
        n_reads,
        kit,
        seed,
        fastq_out=directory / f"{kit}_{seed}.fastq.gz",
        truth_out=directory / f"{kit}_{seed}.tsv",
        **kw,
    )


def fastq_records(path: Path) -> list[tuple[str, str, str]]:
    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()
    return list(zip(lines[0::4], lines[1::4], lines[3::4], strict=True))


def reads_of(path: Path) -> list[str]:
    return [seq for _, seq, _ in fastq_records(path)]


@pytest.fixture(scope="module")
def error_free(tmp_path_factory):
    """One error-free long-read library per kit, simulated once for the module."""
    cache = {}

    def get(kit: str):
        if kit not in cache:
            directory = tmp_path_factory.mktemp(f"error_free_{kit}")
            result = simulate(
                directory,
                kit,
                n_reads=3000,
                read_length=LONG_READ,
                error_rate=None,
                umi_pcr_error_rate=0.0,
            )
            cache[kit] = (result, read_truth(result.truth), reads_of(result.fastq))
        return cache[kit]

    return get


def extract_insert(kit: str, read: str) -> tuple[str, str]:
    """(insert, UMI) of an error-free read, found by exact adapter search."""
    if kit == "illumina":
        return read[: read.index(TRUSEQ)], ""
    if kit == "nextflex":
        return read[4 : read.index(TRUSEQ) - 4], ""
    if kit == "qiaseq":
        at = read.index(QIASEQ)
        assert read[at + 31 :].startswith(READ1_3P[:13])
        return read[:at], read[at + 19 : at + 31]
    if kit == "cats":
        # 31 A's: the 30-nt poly(A) plus the adapter's first base, then GATCGG. The insert's
        # own 3' A's are indistinguishable from the tail, so the truth has them stripped.
        return read[3 : read.index("A" * 31 + "GATCGG")].rstrip("A"), ""
    if kit == "nebnext":
        return read[: read.index(READ1_3P)], ""
    if kit == "illumina_v15":
        return read[: read.index(KITS["illumina_v15"].adapter)], ""
    raise AssertionError(kit)


# --- determinism and sizes -------------------------------------------------------------


def test_same_seed_gives_byte_identical_fastq_and_truth(tmp_path):
    first = simulate(tmp_path / "a", seed=7)
    second = simulate(tmp_path / "b", seed=7)
    assert first.fastq.read_bytes() == second.fastq.read_bytes()
    assert first.truth.read_bytes() == second.truth.read_bytes()


def test_different_seeds_give_different_reads(tmp_path):
    assert reads_of(simulate(tmp_path, seed=1).fastq) != reads_of(simulate(tmp_path, seed=2).fastq)


@pytest.mark.parametrize("kit", sorted(KITS))
def test_reads_have_requested_count_and_kit_read_length(tmp_path, kit):
    result = simulate(tmp_path, kit, n_reads=1234)
    records = fastq_records(result.fastq)
    assert len(records) == result.reads == 1234
    assert {len(seq) for _, seq, _ in records} == {KITS[kit].default_read_length}
    assert all(len(qual) == len(seq) for _, seq, qual in records)
    assert len({name for name, _, _ in records}) == 1234


def test_qiaseq_reads_default_to_75_nt_so_the_umi_fits():
    assert KITS["qiaseq"].default_read_length == 75
    assert KITS["illumina"].default_read_length == 50


@pytest.mark.parametrize("kit", ["illumina", "qiaseq"])
def test_truth_reads_sum_to_library_size(tmp_path, kit):
    result = simulate(tmp_path, kit, n_reads=3000)
    truth = read_truth(result.truth)
    assert truth["reads"].sum() == 3000
    assert truth["molecules"].sum() <= 3000


def test_truth_rows_are_distinct_and_sorted(tmp_path):
    truth = read_truth(simulate(tmp_path, n_reads=3000).truth)
    keys = list(zip(truth["origin"], truth["label"], truth["insert"], strict=True))
    assert len(set(keys)) == len(keys)
    assert keys == sorted(keys)


def test_composition_sets_share_of_each_origin(tmp_path):
    composition = {"mirna": 0.5, "trna": 0.2, "random": 0.2, "dimer": 0.1}
    truth = read_truth(simulate(tmp_path, n_reads=5000, composition=composition).truth)
    shares = truth.groupby("origin")["reads"].sum() / 5000
    assert "spikein" not in shares.index
    for origin, share in composition.items():
        assert abs(shares[origin] - share) < 0.03, origin


def test_without_umis_every_read_is_its_own_molecule(tmp_path):
    truth = read_truth(simulate(tmp_path, "nextflex").truth)
    assert (truth["reads"] == truth["molecules"]).all()


# --- kit layouts -----------------------------------------------------------------------


@pytest.mark.parametrize("kit", sorted(KITS))
def test_error_free_reads_hold_exactly_the_truth_inserts(error_free, kit):
    _, truth, reads = error_free(kit)
    found = Counter(extract_insert(kit, read)[0] for read in reads)
    expected = truth.groupby("insert")["reads"].sum()
    assert found == Counter(expected.to_dict())


def test_cats_truth_strips_the_insert_3prime_as_a_perfect_trimmer_must(error_free):
    _, truth, reads = error_free("cats")
    mirna = truth[truth["origin"] == "mirna"]
    assert not mirna["insert"].str.endswith("A").any()
    with_own_a = [read for read in reads if read[3:].split("A" * 31 + "GATCGG")[0].endswith("A")]
    assert len(with_own_a) > 0.05 * len(reads)


def test_nextflex_random_bases_differ_between_reads_of_one_insert(error_free):
    _, _, reads = error_free("nextflex")
    dimers = [read for read in reads if read[8:].startswith(TRUSEQ)]
    assert len(dimers) > 50
    assert len({read[:8] for read in dimers}) > 0.9 * len(dimers)


def test_qiaseq_distinct_umis_per_insert_are_the_truth_molecules(error_free):
    result, truth, reads = error_free("qiaseq")
    umis: dict[str, set[str]] = {}
    for read in reads:
        insert, umi = extract_insert("qiaseq", read)
        assert len(umi) == 12
        umis.setdefault(insert, set()).add(umi)
    molecules = truth.groupby("insert")["molecules"].sum()
    assert {insert: len(found) for insert, found in umis.items()} == molecules.to_dict()
    assert result.molecules < result.reads


def umi_families(umis: set[str]) -> int:
    """Groups of UMIs linked by chains of single mismatches (union-find)."""
    parent = {umi: umi for umi in umis}

    def root(umi: str) -> str:
        while parent[umi] != umi:
            umi = parent[umi]
        return umi

    for umi in umis:
        for i in range(len(umi)):
            for base in "ACGT":
                neighbour = umi[:i] + base + umi[i + 1 :]
                if neighbour in parent:
                    parent[root(neighbour)] = root(umi)
    return len({root(umi) for umi in umis})


def test_qiaseq_duplicates_sometimes_carry_one_umi_substitution(tmp_path):
    result = simulate(
        tmp_path, "qiaseq", n_reads=2000, read_length=LONG_READ, error_rate=None,
        umi_pcr_error_rate=0.3, composition={"mirna": 1.0},
    )  # fmt: skip
    truth = read_truth(result.truth)
    umis: dict[str, set[str]] = {}
    for read in reads_of(result.fastq):
        insert, umi = extract_insert("qiaseq", read)
        umis.setdefault(insert, set()).add(umi)
    molecules = truth.groupby("insert")["molecules"].sum().to_dict()
    assert sum(map(len, umis.values())) > 1.05 * sum(molecules.values())
    assert {insert: umi_families(found) for insert, found in umis.items()} == molecules


def test_read_shorter_than_insert_is_all_insert(tmp_path):
    result = simulate(
        tmp_path, n_reads=500, read_length=20, error_rate=None, composition={"random": 1.0}
    )
    inserts = set(read_truth(result.truth)["insert"])
    assert max(map(len, inserts)) == 20
    expected = {(insert + TRUSEQ)[:20] for insert in inserts}
    assert set(reads_of(result.fastq)) == expected


# --- what the molecules are ------------------------------------------------------------


def test_mirna_inserts_are_templated_isomirs_of_their_mature(error_free):
    result, truth, _ = error_free("illumina")
    hairpins = {r.name: r.sequence for r in read_fasta(HAIRPIN)}
    matures = {r.name: r.sequence for r in read_fasta(MATURE)}
    mirna = truth[truth["origin"] == "mirna"]
    canonical = 0
    for label, insert, reads in zip(mirna["label"], mirna["insert"], mirna["reads"], strict=True):
        mature = matures[label]
        variants = set()
        for hairpin in hairpins.values():
            start = hairpin.find(mature)
            if start < 0:
                continue
            end = start + len(mature)
            for five in FIVE_PRIME_OFFSETS:
                for three in THREE_PRIME_OFFSETS:
                    templated = hairpin[max(0, start + five) : min(len(hairpin), end + three)]
                    variants.update(templated + added for added in ADDITIONS)
        assert insert in variants, (label, insert)
        canonical += reads * (insert == mature)
    assert label in result.mirna_pool
    # 5' offset 0 (90 %) x 3' offset 0 (45 %) x no addition (90 %) ~ 36 % of reads.
    assert 0.25 < canonical / mirna["reads"].sum() < 0.5


def test_some_mirna_reads_carry_non_templated_additions(error_free):
    _, truth, _ = error_free("illumina")
    hairpins = [r.sequence for r in read_fasta(HAIRPIN)]
    mirna = truth[truth["origin"] == "mirna"]
    untemplated = sum(
        reads
        for insert, reads in zip(mirna["insert"], mirna["reads"], strict=True)
        if not any(insert in hairpin for hairpin in hairpins)
    )
    # ~10 % have an addition; about a quarter of these happen to match the hairpin.
    assert 0.03 < untemplated / mirna["reads"].sum() < 0.15


def test_tail_model_is_1_to_3_nt_mostly_a_and_u_any_base_possible():
    tails, p = tail_model(0.3)
    assert tails[0] == "" and p[0] == pytest.approx(0.7)
    assert p.sum() == pytest.approx(1.0)
    assert {len(t) for t in tails} == {0, 1, 2, 3}
    assert set("".join(tails)) == set("ACGT")
    share = dict(zip(tails, p, strict=True))
    au = sum(q for t, q in share.items() if t and set(t) <= set("AT"))
    assert au / 0.3 > 0.75  # A/U-only tails dominate
    assert share["A"] > share["AA"] > share["AAA"] > share["CCC"] > 0


def test_tail_rate_sets_the_share_of_tailed_mirna_molecules(tmp_path):
    result = simulate(tmp_path, n_reads=6000, error_rate=None, tail_rate=0.5)
    truth = read_truth(result.truth)
    hairpins = [r.sequence for r in read_fasta(HAIRPIN)]
    mirna = truth[truth["origin"] == "mirna"]
    untemplated = sum(
        reads
        for insert, reads in zip(mirna["insert"], mirna["reads"], strict=True)
        if not any(insert in hairpin for hairpin in hairpins)
    )
    # Half carry a tail; a tail that happens to continue the hairpin is invisible.
    assert 0.3 < untemplated / mirna["reads"].sum() < 0.5


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_tail_rate_outside_0_1_is_a_user_error(tmp_path, rate):
    with pytest.raises(ExomirError, match="tail rate"):
        simulate(tmp_path, tail_rate=rate)


def test_only_unambiguous_matures_are_drawn(error_free):
    result, _, _ = error_free("illumina")
    shared_or_overlapping = {
        "hsa-miR-199a-3p",
        "hsa-miR-199b-3p",
        "hsa-miR-365a-3p",
        "hsa-miR-365b-3p",
        "hsa-miR-151a-5p",
        "hsa-miR-151b",
    }
    assert len(result.mirna_pool) > 50
    assert not shared_or_overlapping & set(result.mirna_pool)
    assert "hsa-let-7a-5p" in result.mirna_pool  # on three hairpins, but one sequence


def test_unambiguous_matures_drops_identical_overlapping_and_unplaced():
    records = [
        FastaRecord("m-a", "", "ACGTACGTACGTACGTACGT"),
        FastaRecord("m-b", "", "ACGTACGTACGTACGTACGT"),
        FastaRecord("m-c", "", "TTTTACGTACGTACGTACGA"),
        FastaRecord("m-d", "", "GGGGACGTACGTACGTACGA"),
        FastaRecord("m-e", "", "CCCCACGTACGTACGTACGA"),
        FastaRecord("m-f", "", "CCCCACGTACGTACGTACGATTTTTTTTTTTT"),
    ]
    placements = [
        MaturePlacement("h1", "m-a", 0, 20, records[0].sequence),
        MaturePlacement("h1", "m-b", 0, 20, records[1].sequence),
        MaturePlacement("h2", "m-c", 0, 20, records[2].sequence),
        MaturePlacement("h2", "m-d", 15, 35, records[3].sequence),
        MaturePlacement("h3", "m-e", 40, 60, records[4].sequence),
        MaturePlacement("h4", "m-f", 0, 32, records[5].sequence),
    ]
    assert unambiguous_matures(records + [FastaRecord("m-g", "", "A" * 20)], placements) == ["m-e"]


def test_mirna_abundance_is_skewed_with_a_long_tail(error_free):
    _, truth, _ = error_free("illumina")
    per_mirna = truth_per_mirna(truth)["reads"].sort_values(ascending=False)
    assert per_mirna.iloc[:5].sum() > 0.4 * per_mirna.sum()
    assert (per_mirna <= 5).sum() > 10


def test_spikein_reads_are_the_exact_oligos(error_free):
    _, truth, _ = error_free("illumina")
    matures = {r.name: r.sequence for r in read_fasta(MATURE)}
    spikes = truth[truth["origin"] == "spikein"]
    assert set(spikes["label"]) == set(DEFAULT_SPIKEINS)
    assert all(
        matures[label] == ins for label, ins in zip(spikes["label"], spikes["insert"], strict=True)
    )


def test_trna_fragments_are_pieces_of_the_trna_fasta(error_free):
    _, truth, _ = error_free("illumina")
    sources = [r.sequence + "CCA" for r in read_fasta(TRNA)]
    fragments = truth.loc[truth["origin"] == "trna", "insert"]
    low, high = TRNA_FRAGMENT_LENGTHS
    assert len(fragments) > 10
    assert all(low <= len(f) <= high and any(f in s for s in sources) for f in fragments)


def test_without_trna_fasta_fragments_still_have_trna_lengths(tmp_path):
    result = simulate(tmp_path, trna_fa=None, composition={"trna": 1.0}, read_length=60)
    lengths = read_truth(result.truth)["insert"].str.len()
    assert lengths.between(*TRNA_FRAGMENT_LENGTHS).all()


def test_random_fragments_and_dimers_have_their_lengths(error_free):
    _, truth, _ = error_free("illumina")
    random_lengths = truth.loc[truth["origin"] == "random", "insert"].str.len()
    assert random_lengths.min() == RANDOM_LENGTHS[0]
    assert random_lengths.max() == RANDOM_LENGTHS[1]
    assert set(truth.loc[truth["origin"] == "dimer", "insert"]) == {""}


# --- sequencing errors and qualities ---------------------------------------------------


@pytest.fixture(scope="module")
def dimer_library(tmp_path_factory):
    """Adapter dimers only: every base of every read has a known true value."""
    result = simulate(tmp_path_factory.mktemp("dimers"), n_reads=20000, composition={"dimer": 1})
    records = fastq_records(result.fastq)
    expected = np.frombuffer((TRUSEQ + "AACTCCAGTCACATCACGATCTCGTATGCCGTC").encode(), np.uint8)
    seqs = np.frombuffer("".join(s for _, s, _ in records).encode(), np.uint8).reshape(-1, 50)
    quals = np.frombuffer("".join(q for _, _, q in records).encode(), np.uint8).reshape(-1, 50)
    return result, seqs != expected[:50], quals.astype(int) - 33


def test_error_rate_rises_from_about_0_1_to_about_1_percent(dimer_library):
    _, errors, _ = dimer_library
    per_position = errors.mean(axis=0)
    first, last = per_position[:10].mean(), per_position[-10:].mean()
    assert first < 0.003
    assert 0.005 < last < 0.02
    assert last > 3 * first


def test_qualities_are_phred33_and_calibrated(dimer_library):
    _, errors, quals = dimer_library
    assert quals.min() >= 2 and quals.max() <= 41
    assert quals[:, :5].mean() > quals[:, -5:].mean() + 5
    high, low = errors[quals >= 30].mean(), errors[quals <= 21].mean()
    assert high < 0.002
    assert 0.005 < low < 0.03


def test_truth_inserts_include_sequencing_errors(tmp_path):
    truth = read_truth(simulate(tmp_path, n_reads=5000, composition={"spikein": 1.0}).truth)
    matures = {r.name: r.sequence for r in read_fasta(MATURE)}
    exact = truth["insert"] == truth["label"].map(matures)
    assert 0.9 < truth.loc[exact, "reads"].sum() / 5000 < 1.0
    mismatches = [
        sum(a != b for a, b in zip(insert, matures[label], strict=True))
        for label, insert in zip(truth["label"][~exact], truth["insert"][~exact], strict=True)
    ]
    assert mismatches and min(mismatches) == 1


def test_simulation_of_200k_reads_is_fast(tmp_path):
    started = time.perf_counter()
    simulate(tmp_path, "qiaseq", n_reads=200_000)
    seconds = time.perf_counter() - started
    print(f"simulated 200,000 qiaseq reads in {seconds:.2f} s")
    assert seconds < 15


# --- errors and CLI --------------------------------------------------------------------


def test_unknown_kit_is_a_user_error(tmp_path):
    with pytest.raises(ExomirError, match="unknown kit 'truseq'"):
        simulate(tmp_path, "truseq")


def test_unknown_spikein_names_the_mature_file(tmp_path):
    with pytest.raises(ExomirError, match=r"mature\.fa\.gz: spike-in\(s\) cel-miR-999 not found"):
        simulate(tmp_path, spikeins=["cel-miR-39-3p", "cel-miR-999"])


def test_species_without_matures_is_a_user_error(tmp_path):
    with pytest.raises(ExomirError, match="no mature miRNAs of species 'xyz'"):
        simulate_library(
            MATURE,
            HAIRPIN,
            "xyz",
            10,
            "illumina",
            1,
            fastq_out=tmp_path / "f",
            truth_out=tmp_path / "t",
        )


@pytest.mark.parametrize(
    ("composition", "message"),
    [({"mirna": 1, "snorna": 1}, "unknown read origin"), ({"mirna": -1}, "non-negative")],
)
def test_bad_composition_is_a_user_error(tmp_path, composition, message):
    with pytest.raises(ExomirError, match=message):
        simulate(tmp_path, composition=composition)


def test_zero_reads_is_a_user_error(tmp_path):
    with pytest.raises(ExomirError, match="must be positive"):
        simulate(tmp_path, n_reads=0)


def test_truth_without_molecules_column_is_a_user_error(tmp_path):
    path = tmp_path / "truth.tsv"
    path.write_text("origin\tlabel\tinsert\treads\nmirna\tm\tACGT\t3\n")
    with pytest.raises(ExomirError, match="truth.tsv: truth table lacks column"):
        read_truth(path)


def test_cli_writes_fastq_and_truth(tmp_path, capsys):
    argv = ["--mature", str(MATURE), "--hairpin", str(HAIRPIN), "--species", "hsa"]
    argv += ["--reads", "500", "--kit", "cats", "--seed", "3", "--composition", "mirna=1"]
    argv += ["--fastq", str(tmp_path / "s.fastq.gz"), "--truth", str(tmp_path / "s.tsv")]
    assert main(argv) == 0
    assert "500 reads" in capsys.readouterr().out
    truth = read_truth(tmp_path / "s.tsv")
    assert set(truth["origin"]) == {"mirna"} and truth["reads"].sum() == 500


def test_cli_rejects_malformed_composition(tmp_path, capsys):
    argv = ["--mature", str(MATURE), "--hairpin", str(HAIRPIN), "--species", "hsa"]
    argv += ["--reads", "5", "--kit", "illumina", "--seed", "3", "--composition", "mirna"]
    argv += ["--fastq", str(tmp_path / "s.fastq.gz"), "--truth", str(tmp_path / "s.tsv")]
    assert main(argv) == 1
    assert "expected origin=share, got 'mirna'" in capsys.readouterr().err


def test_random_bases_are_ligation_biased_by_default_and_uniform_on_request(tmp_path):
    """NEXTflex 4N bases: skewed (G-rich first base) unless random_bases='uniform'."""
    shares = {}
    for model in ("biased", "uniform"):
        result = simulate(
            tmp_path,
            "nextflex",
            seed=1 if model == "biased" else 2,
            n_reads=4000,
            error_rate=None,
            random_bases=model,
            composition={"mirna": 1.0},
        )
        first = Counter(read[0] for read in reads_of(result.fastq))
        shares[model] = first["G"] / sum(first.values())
    assert shares["biased"] > 0.42
    assert 0.2 < shares["uniform"] < 0.3


def test_adapter_override_follows_the_insert(tmp_path):
    adapter = "GTCCAGTTACGGATCTAGGCTTAACCGATG"
    result = simulate(tmp_path, "illumina", n_reads=500, error_rate=None, adapter=adapter)
    truth = read_truth(result.truth)
    reads = reads_of(result.fastq)
    with_room = [r for r in reads if adapter[:10] in r]
    assert len(with_room) > 0.8 * len(reads)
    dimers = int(truth.loc[truth["origin"] == "dimer", "reads"].sum())
    assert sum(r.startswith(adapter) for r in reads) == dimers


def test_trna_lengths_bound_the_trna_fragments(tmp_path):
    result = simulate(
        tmp_path, "illumina", n_reads=2000, error_rate=None, trna_lengths=(31, 40),
        composition={"trna": 1.0}, read_length=75,
    )  # fmt: skip
    lengths = read_truth(result.truth)["insert"].str.len()
    assert lengths.between(31, 40).all()
