"""The throughput work changes how, never what: fast and bounded-memory paths agree with plain ones.

Spilling distinct sequences to disk, trimming in partitions, decompressing in a second
thread and locating adapters without cutadapt's Match objects must give exactly what the
straightforward in-memory path gives.
"""

from __future__ import annotations

import gzip
import random
from collections import Counter
from functools import cache
from itertools import product
from pathlib import Path

import pytest
from cutadapt.adapters import BackAdapter

from conftest import DATA
from exomir import trimming
from exomir.align import _sort_by_rank
from exomir.collapsed import write_collapsed
from exomir.errors import ExomirError
from exomir.fastq import collapse_reads, count_sequences
from exomir.kits import load_kits
from exomir.trimming import (
    MAX_ERROR_RATE,
    MIN_ADAPTER_OVERLAP,
    AdapterLocator,
    trim_partitions,
    trim_sequences,
)

READS = DATA / "reads"
TRUSEQ = READS / "human_truseq_1_2k.fastq.gz"
QIASEQ = READS / "qiaseq_umi_1.fastq.gz"


@pytest.fixture(scope="module")
def kits():
    return load_kits()


def write_fastq(path: Path, sequences: list[str]) -> Path:
    text = "".join(f"@r{i}\n{s}\n+\n{'I' * len(s)}\n" for i, s in enumerate(sequences))
    with gzip.open(path, "wt") as handle:
        handle.write(text)
    return path


def merged(partitions) -> tuple[Counter, int]:
    """Union of partitions, and how many sequences were seen in more than one."""
    union: Counter = Counter()
    overlaps = 0
    for partition in partitions:
        overlaps += len(union.keys() & partition.keys())
        union.update(partition)
    return union, overlaps


def test_spilled_partitions_hold_exactly_the_in_memory_counts(tmp_path):
    path = TRUSEQ
    in_memory, n_reads = count_sequences([path])
    with collapse_reads([path], max_distinct_in_memory=100, spill_dir=tmp_path) as reads:
        assert reads.spilled
        union, overlaps = merged(reads.partitions())
        assert reads.reads == n_reads
    assert overlaps == 0
    assert union == in_memory


def test_small_library_stays_in_memory_in_one_partition():
    with collapse_reads([TRUSEQ]) as reads:
        partitions = list(reads.partitions())
        assert not reads.spilled
    assert len(partitions) == 1


def test_case_variants_seen_before_and_after_a_spill_are_one_sequence(tmp_path):
    rng = random.Random(3)
    filler = ["".join(rng.choice("ACGT") for _ in range(30)) for _ in range(400)]
    path = write_fastq(tmp_path / "mixed.fastq.gz", ["acgtacgtac"] + filler + ["ACGTACGTAC"])
    with collapse_reads([path], max_distinct_in_memory=50, spill_dir=tmp_path) as reads:
        union, overlaps = merged(reads.partitions())
    assert union["ACGTACGTAC"] == 2
    assert "acgtacgtac" not in union
    assert overlaps == 0


def test_lanes_merge_across_spills(tmp_path):
    distinct = ["ACGT" * 5 + "".join(tail) for tail in product("AC", repeat=3)]
    lane1 = write_fastq(tmp_path / "l1.fastq.gz", distinct * 3)
    lane2 = write_fastq(tmp_path / "l2.fastq.gz", distinct * 2)
    expected, n_reads = count_sequences([lane1, lane2])
    with collapse_reads([lane1, lane2], max_distinct_in_memory=3, spill_dir=tmp_path) as reads:
        assert reads.spilled
        union, overlaps = merged(reads.partitions())
        assert reads.reads == n_reads == 40
    assert union == expected == dict.fromkeys(distinct, 5)
    assert overlaps == 0


def test_spill_files_are_removed_when_done(tmp_path):
    spill_dir = tmp_path / "spill"
    spill_dir.mkdir()
    with collapse_reads([TRUSEQ], max_distinct_in_memory=100, spill_dir=spill_dir) as reads:
        assert any(spill_dir.iterdir())
        list(reads.partitions())
    assert not any(spill_dir.iterdir())


def test_spill_files_are_removed_when_a_later_file_is_broken(tmp_path):
    spill_dir = tmp_path / "spill"
    spill_dir.mkdir()
    broken = tmp_path / "broken.fastq.gz"
    broken.write_bytes(TRUSEQ.read_bytes()[:2000])
    with pytest.raises(ExomirError, match="broken.fastq.gz"):
        collapse_reads([TRUSEQ, broken], max_distinct_in_memory=100, spill_dir=spill_dir)
    assert not any(spill_dir.iterdir())


def test_decompressing_in_a_second_thread_counts_the_same():
    assert count_sequences([TRUSEQ], threads=2) == count_sequences([TRUSEQ], threads=1)


@pytest.mark.parametrize(
    ("path", "kit_name"), [(TRUSEQ, "illumina"), (QIASEQ, "qiaseq")], ids=["truseq", "qiaseq-umi"]
)
def test_trimming_in_partitions_equals_trimming_at_once(tmp_path, kits, path, kit_name):
    kit = kits[kit_name]
    raw, _ = count_sequences([path])
    whole = trim_sequences(raw, kit)
    with collapse_reads([path], max_distinct_in_memory=200, spill_dir=tmp_path) as reads:
        parts = trim_partitions(reads.partitions(), kit)
    assert parts.stats("S") == whole.stats("S")
    assert parts.inserts == whole.inserts
    write_collapsed(whole.inserts, tmp_path / "whole.fa")
    write_collapsed(parts.inserts, tmp_path / "parts.fa")
    assert (tmp_path / "whole.fa").read_bytes() == (tmp_path / "parts.fa").read_bytes()


@cache
def adapter_test_reads() -> tuple[str, ...]:
    """Real reads of four kits plus random reads with Ns and partial adapters."""
    reads = []
    for path in sorted(READS.glob("*.fastq.gz")):
        reads.extend(count_sequences([path])[0])
    rng = random.Random(11)
    adapters = sorted({kit.adapter for kit in load_kits().values() if kit.adapter})
    for _ in range(3000):
        insert = "".join(rng.choice("ACGTN") for _ in range(rng.randint(0, 40)))
        adapter = rng.choice(adapters)
        cut = adapter[: rng.randint(0, len(adapter))]
        if cut and rng.random() < 0.5:
            i = rng.randrange(len(cut))
            cut = cut[:i] + rng.choice("ACGT") + cut[i + 1 :]
        reads.append(insert + cut + "".join(rng.choice("ACGT") for _ in range(rng.randint(0, 9))))
    return tuple(reads)


# Homopolymer adapters (CATS poly(A)) are matched without errors on purpose (trimming.py).
MIXED_ADAPTERS = sorted(
    {kit.adapter for kit in load_kits().values() if kit.adapter and len(set(kit.adapter)) > 1}
)


@pytest.mark.parametrize("adapter", MIXED_ADAPTERS)
def test_adapter_locator_finds_what_cutadapt_match_to_finds(adapter):
    matcher = BackAdapter(adapter, max_errors=MAX_ERROR_RATE, min_overlap=MIN_ADAPTER_OVERLAP)
    locator = AdapterLocator(adapter)
    reads = adapter_test_reads()
    found = 0
    for read in reads:
        match = matcher.match_to(read)
        expected = None if match is None else (match.rstart, match.rstop)
        assert locator.span(read) == expected, read
        found += expected is not None
    assert found > 100  # the comparison covered reads with the adapter, not only without


def test_unaligned_reads_are_put_back_in_rank_order(tmp_path):
    rng = random.Random(7)
    counts = {
        "".join(rng.choice("ACGT") for _ in range(rng.randint(16, 30))): rng.randint(1, 9)
        for _ in range(3000)
    }
    ordered = tmp_path / "ordered.fa"
    write_collapsed(counts, ordered)
    records = ordered.read_text().splitlines(keepends=True)
    pairs = [records[i] + records[i + 1] for i in range(0, len(records), 2)]
    rng.shuffle(pairs)
    shuffled = tmp_path / "shuffled.fa"
    shuffled.write_text("".join(pairs))
    _sort_by_rank(shuffled)
    assert shuffled.read_bytes() == ordered.read_bytes()


def test_unaligned_reads_with_a_foreign_name_are_refused(tmp_path):
    path = tmp_path / "un.fa"
    path.write_text(">2_x5\nACGT\n>read7\nACGA\n")
    with pytest.raises(ExomirError, match=r"un\.fa: .*'>read7'"):
        _sort_by_rank(path)


@pytest.mark.parametrize(
    ("path", "kit_name"), [(TRUSEQ, "illumina"), (QIASEQ, "qiaseq")], ids=["truseq", "qiaseq-umi"]
)
def test_trimming_with_a_worker_process_equals_trimming_alone(
    tmp_path, kits, monkeypatch, path, kit_name
):
    monkeypatch.setattr(trimming, "PARALLEL_MIN_DISTINCT", 10)
    monkeypatch.setattr(trimming, "WORKER_TASK_SEQUENCES", 37)
    kit = kits[kit_name]
    raw, _ = count_sequences([path])
    alone = trim_sequences(raw, kit)
    with collapse_reads([path], max_distinct_in_memory=300, spill_dir=tmp_path) as reads:
        shared = trim_partitions(reads.partitions(), kit, processes=2)
    assert shared.stats("S") == alone.stats("S")
    assert shared.inserts == alone.inserts
