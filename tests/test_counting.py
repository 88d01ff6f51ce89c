"""Counting rules on tiny hand-made BAMs: tolerances, multi-mappers, fates, isomiRs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pysam
import pytest

from conftest import count_output_args, counting_reference_args
from exomir import cli, counting, tables
from exomir import fates as fate_rows
from exomir.errors import ExomirError
from exomir.reference import FastaRecord, locate_matures

_filler_rng = random.Random(20240601)


def filler(length: int) -> str:
    return "".join(_filler_rng.choice("ACGT") for _ in range(length))


LET7A_5P = "TGAGGTAGTAGGTTGTATAGTT"
MIR21_5P = "TAGCTTATCAGACTGATGTTGA"
MIR21_3P = "CAACACCAGTCGATGGGCTGT"
MIR199A_5P = "CCCAGTGTTCAGACTACCTGTTC"
MIR199B_5P = "CCCAGTGTTTAGACTATCTGTTC"
MIR199_3P = "ACAGTAGTCTGCACATTGGTTA"  # identical for 199a-3p and 199b-3p, as in miRBase
MIR1302 = "TTGGGACATACTTATGCTAAA"
MIR1302_HAIRPIN = filler(5) + MIR1302 + filler(40)

HAIRPINS = {
    "hsa-let-7a-1": filler(5) + LET7A_5P + filler(45),
    "hsa-let-7a-2": filler(4) + LET7A_5P + filler(46),
    "hsa-let-7a-3": filler(3) + LET7A_5P + filler(47),
    "hsa-mir-21": filler(7) + MIR21_5P + filler(16) + MIR21_3P + filler(10),
    "hsa-mir-199a": filler(6) + MIR199A_5P + filler(15) + MIR199_3P + filler(8),
    "hsa-mir-199b": filler(9) + MIR199B_5P + filler(14) + MIR199_3P + filler(8),
    "hsa-mir-1302-2": MIR1302_HAIRPIN,
    "hsa-mir-1302-9": MIR1302_HAIRPIN,
    "hsa-mir-empty": filler(70),
}
MATURES = {
    "hsa-let-7a-5p": LET7A_5P,
    "hsa-miR-21-5p": MIR21_5P,
    "hsa-miR-21-3p": MIR21_3P,
    "hsa-miR-199a-5p": MIR199A_5P,
    "hsa-miR-199b-5p": MIR199B_5P,
    "hsa-miR-199a-3p": MIR199_3P,
    "hsa-miR-199b-3p": MIR199_3P,
    "hsa-miR-1302": MIR1302,
    "hsa-miR-unplaced": "GGGGGGGGGGAAAAAAAAAATT",
}
SPIKEINS = {
    "cel-miR-39-3p": "TCACCGGGTGTAAATCAGCTTG",
    "cel-miR-54-3p": "TACCCGTAATCTTCATAATCCGAG",
    "cel-miR-238-3p": "TTTGTACTCCGATGCCATTCAGA",
}


def write_fasta(path: Path, records: dict[str, str]) -> None:
    path.write_text("".join(f">{name}\n{sequence}\n" for name, sequence in records.items()))


def write_reference(directory: Path, spikeins: dict[str, str] | None = None) -> Path:
    """The files of ``exomir build-reference`` for the toy miRNAs above."""
    directory.mkdir(parents=True, exist_ok=True)
    write_fasta(directory / "hairpin.fa", HAIRPINS)
    write_fasta(directory / "mature.fa", MATURES)
    write_fasta(directory / "spikein.fa", SPIKEINS if spikeins is None else spikeins)
    placements, _ = locate_matures(
        [FastaRecord(n, "", s) for n, s in MATURES.items()],
        [FastaRecord(n, "", s) for n, s in HAIRPINS.items()],
    )
    lines = ["hairpin\tmature\tstart\tend\tsequence"]
    lines += [f"{p.hairpin}\t{p.mature}\t{p.start}\t{p.end}\t{p.sequence}" for p in placements]
    (directory / "mature_positions.tsv").write_text("\n".join(lines) + "\n")
    return directory


def placement(hairpin: str, mature: str) -> tuple[int, int]:
    start = HAIRPINS[hairpin].index(MATURES[mature])
    return start, start + len(MATURES[mature])


def write_bam(
    path: Path,
    references: dict[str, str],
    reads: list[tuple[str, list[tuple[str, int, int]]]],
    *,
    sort_order: str = "unsorted",
    nm: int = 0,
    flag: int = 0,
    terminal_mismatch: bool = False,
) -> Path:
    """A BAM in bowtie order: ``reads`` = [(name, [(reference, start, end), ...]), ...].

    SEQ is the reference at the span, so a read's sequence is what it aligned to. With
    ``nm``, the MD tag puts one mismatch at the read's third base, or with
    ``terminal_mismatch`` at its last.
    """
    header = {
        "HD": {"VN": "1.0", "SO": sort_order},
        "SQ": [{"SN": name, "LN": len(seq)} for name, seq in references.items()],
    }
    tid = {name: i for i, name in enumerate(references)}
    with pysam.AlignmentFile(str(path), "wb", header=header) as bam:
        for name, alignments in reads:
            for reference, start, end in alignments:
                record = pysam.AlignedSegment(bam.header)
                record.query_name = name
                record.flag = flag
                record.reference_id = tid[reference]
                record.reference_start = start
                record.mapping_quality = 255
                sequence = references[reference][max(start, 0) : end]
                record.query_sequence = sequence
                record.cigartuples = [(0, len(sequence))]
                record.set_tag("NM", nm)
                if nm:
                    n = len(sequence)
                    record.set_tag("MD", f"{n - 1}A0" if terminal_mismatch else f"2A{n - 3}")
                bam.write(record)
    return path


@pytest.fixture
def reference_dir(tmp_path: Path) -> Path:
    return write_reference(tmp_path / "reference")


def count(
    tmp_path: Path,
    reference_dir: Path,
    reads: list,
    spikein_reads: list | None = None,
    multimapper: str = "fractional",
    **kwargs,
) -> tuple[counting.SampleCounts, counting.CountingReference]:
    reference = counting.load_counting_reference(reference_dir, multimapper)
    hairpin_bam = write_bam(tmp_path / "hairpin.bam", HAIRPINS, reads)
    spikein_bam = None
    if spikein_reads is not None:
        spikein_bam = write_bam(tmp_path / "spikein.bam", SPIKEINS, spikein_reads)
    counts = counting.count_sample(
        hairpin_bam, spikein_bam, reference, multimapper=multimapper, **kwargs
    )
    return counts, reference


def by_name(names, values) -> dict[str, float]:
    return {n: v for n, v in zip(names, values, strict=True) if v}


def mature_counts(counts: counting.SampleCounts, reference) -> dict[str, float]:
    return by_name(reference.matures.names, counts.mature)


def hairpin_counts(counts: counting.SampleCounts, reference) -> dict[str, float]:
    return by_name(reference.hairpins.names, counts.hairpin)


# ---------------------------------------------------------------- isomiR tolerance


@pytest.mark.parametrize(
    ("start_shift", "counted"), [(-3, False), (-2, True), (0, True), (2, True), (3, False)]
)
def test_five_prime_tolerance_is_two_either_way(tmp_path, reference_dir, start_shift, counted):
    start, end = placement("hsa-mir-21", "hsa-miR-21-5p")
    reads = [("1_x7", [("hsa-mir-21", start + start_shift, end)])]
    counts, reference = count(tmp_path, reference_dir, reads)
    assert mature_counts(counts, reference) == ({"hsa-miR-21-5p": 7} if counted else {})


@pytest.mark.parametrize(
    ("end_shift", "counted"), [(-6, False), (-5, True), (0, True), (5, True), (6, False)]
)
def test_three_prime_tolerance_is_five_either_way(tmp_path, reference_dir, end_shift, counted):
    start, end = placement("hsa-mir-21", "hsa-miR-21-5p")
    reads = [("1_x7", [("hsa-mir-21", start, end + end_shift)])]
    counts, reference = count(tmp_path, reference_dir, reads)
    assert mature_counts(counts, reference) == ({"hsa-miR-21-5p": 7} if counted else {})


def test_tolerances_are_parameters(tmp_path, reference_dir):
    start, end = placement("hsa-mir-21", "hsa-miR-21-5p")
    reads = [("1_x3", [("hsa-mir-21", start + 1, end + 1)])]
    strict, reference = count(
        tmp_path, reference_dir, reads, five_prime_tolerance=0, three_prime_tolerance=0
    )
    assert mature_counts(strict, reference) == {}
    assert strict.hairpin_only_reads == 3


def test_negative_tolerance_is_refused(tmp_path, reference_dir):
    with pytest.raises(ExomirError, match="tolerance"):
        count(tmp_path, reference_dir, [], five_prime_tolerance=-1)


# ---------------------------------------------------------------- multi-mappers


def let7a_read(name: str) -> tuple[str, list]:
    return name, [
        (hairpin, *placement(hairpin, "hsa-let-7a-5p"))
        for hairpin in ("hsa-let-7a-1", "hsa-let-7a-2", "hsa-let-7a-3")
    ]


@pytest.mark.parametrize("multimapper", counting.MULTIMAPPER_POLICIES)
def test_read_on_three_let7a_hairpins_counts_once_for_let7a(tmp_path, reference_dir, multimapper):
    counts, reference = count(
        tmp_path, reference_dir, [let7a_read("1_x9")], multimapper=multimapper
    )
    assert mature_counts(counts, reference) == {"hsa-let-7a-5p": 9}
    assert counts.mature_reads == 9


def test_let7a_read_is_split_over_its_three_hairpins_when_fractional(tmp_path, reference_dir):
    counts, reference = count(tmp_path, reference_dir, [let7a_read("1_x9")])
    assert hairpin_counts(counts, reference) == {
        "hsa-let-7a-1": 3,
        "hsa-let-7a-2": 3,
        "hsa-let-7a-3": 3,
    }


def test_let7a_read_counts_for_no_hairpin_when_unique(tmp_path, reference_dir):
    counts, reference = count(tmp_path, reference_dir, [let7a_read("1_x9")], multimapper="unique")
    assert hairpin_counts(counts, reference) == {}


def two_mature_read(name: str) -> tuple[str, list]:
    """A read sitting on two different mature sequences (as after a 1-mismatch alignment)."""
    return name, [
        ("hsa-mir-21", *placement("hsa-mir-21", "hsa-miR-21-5p")),
        ("hsa-mir-199a", *placement("hsa-mir-199a", "hsa-miR-199a-5p")),
    ]


@pytest.mark.parametrize(
    ("multimapper", "expected"),
    [
        ("unique", {}),
        ("fractional", {"hsa-miR-21-5p": 2, "hsa-miR-199a-5p": 2}),
        ("collapse", {"hsa-miR-21-5p": 2, "hsa-miR-199a-5p": 2}),
    ],
)
def test_two_name_multimapper_under_each_policy(tmp_path, reference_dir, multimapper, expected):
    counts, reference = count(
        tmp_path, reference_dir, [two_mature_read("1_x4")], multimapper=multimapper
    )
    assert mature_counts(counts, reference) == expected


@pytest.mark.parametrize("multimapper", counting.MULTIMAPPER_POLICIES)
def test_ambiguous_read_is_a_mature_fate_under_every_policy(tmp_path, reference_dir, multimapper):
    counts, _ = count(tmp_path, reference_dir, [two_mature_read("1_x4")], multimapper=multimapper)
    assert (counts.mature_reads, counts.hairpin_only_reads) == (4, 0)


def mir199_3p_read(name: str) -> tuple[str, list]:
    """On the 3p arm of mir-199a, whose sequence is shared by 199a-3p and 199b-3p."""
    return name, [("hsa-mir-199a", *placement("hsa-mir-199a", "hsa-miR-199a-3p"))]


def test_collapse_joins_identical_matures_in_sorted_order(tmp_path, reference_dir):
    counts, reference = count(
        tmp_path, reference_dir, [mir199_3p_read("1_x6")], multimapper="collapse"
    )
    assert mature_counts(counts, reference) == {"hsa-miR-199a-3p/hsa-miR-199b-3p": 6}
    assert "hsa-miR-199a-3p" not in reference.matures.names


def test_identical_matures_share_the_read_when_fractional(tmp_path, reference_dir):
    counts, reference = count(tmp_path, reference_dir, [mir199_3p_read("1_x6")])
    assert mature_counts(counts, reference) == {"hsa-miR-199a-3p": 3, "hsa-miR-199b-3p": 3}


def test_identical_matures_get_nothing_when_unique(tmp_path, reference_dir):
    counts, reference = count(
        tmp_path, reference_dir, [mir199_3p_read("1_x6")], multimapper="unique"
    )
    assert mature_counts(counts, reference) == {}
    assert counts.mature_reads == 6


def test_collapse_joins_identical_hairpins(tmp_path, reference_dir):
    span = placement("hsa-mir-1302-2", "hsa-miR-1302")
    reads = [("1_x5", [("hsa-mir-1302-2", *span), ("hsa-mir-1302-9", *span)])]
    counts, reference = count(tmp_path, reference_dir, reads, multimapper="collapse")
    assert hairpin_counts(counts, reference) == {"hsa-mir-1302-2/hsa-mir-1302-9": 5}
    assert mature_counts(counts, reference) == {"hsa-miR-1302": 5}


def test_distinct_sequences_are_never_joined(reference_dir):
    reference = counting.load_counting_reference(reference_dir, "collapse")
    joined = [name for name in reference.matures.names if "/" in name]
    assert joined == ["hsa-miR-199a-3p/hsa-miR-199b-3p"]


# ---------------------------------------------------------------- rows, fates, spike-ins


def test_every_reference_feature_has_a_row_in_sorted_order(tmp_path, reference_dir):
    counts, reference = count(tmp_path, reference_dir, [let7a_read("1_x1")])
    assert list(reference.matures.names) == sorted(MATURES)
    assert list(reference.hairpins.names) == sorted(HAIRPINS)
    assert list(reference.spikeins.names) == sorted(SPIKEINS)
    assert len(counts.mature) == len(MATURES)


def test_read_off_the_mature_arms_is_hairpin_only(tmp_path, reference_dir):
    loop = ("hsa-mir-21", 30, 50)
    empty = ("hsa-mir-empty", 10, 32)
    counts, reference = count(tmp_path, reference_dir, [("1_x8", [loop]), ("2_x2", [empty])])
    assert (counts.mature_reads, counts.hairpin_only_reads) == (0, 10)
    assert hairpin_counts(counts, reference) == {"hsa-mir-21": 8, "hsa-mir-empty": 2}
    assert counts.isomirs == []


def test_spikeins_are_counted_per_name(tmp_path, reference_dir):
    spikes = [
        ("1_x50", [("cel-miR-39-3p", 0, 22)]),
        ("2_x5", [("cel-miR-238-3p", 0, 23)]),
        ("3_x4", [("cel-miR-39-3p", 0, 22), ("cel-miR-54-3p", 0, 24)]),
    ]
    counts, reference = count(tmp_path, reference_dir, [let7a_read("4_x3")], spikes)
    assert by_name(reference.spikeins.names, counts.spikein) == {
        "cel-miR-39-3p": 52,
        "cel-miR-54-3p": 2,
        "cel-miR-238-3p": 5,
    }
    assert counts.spikein_reads == 59
    assert counts.mature_reads == 3


def test_reference_without_spikeins_gives_an_empty_spikein_table(tmp_path):
    reference_dir = write_reference(tmp_path / "ref")
    (reference_dir / "spikein.fa").unlink()
    counts, reference = count(tmp_path, reference_dir, [let7a_read("1_x2")])
    assert reference.spikeins.names == ()
    assert counts.spikein_reads == 0


def trim_stats(sample: str, passed: int, **overrides) -> dict:
    """Trim stats whose input adds up, unless ``input`` is overridden."""
    stats = {"sample": sample, "unit": "reads", "adapter_dimer": 11, "too_short": 7}
    stats.update(too_long=3, umi_duplicate=0, passed=passed, no_adapter=2)
    stats.update({k: v for k, v in overrides.items() if k != "input"})
    losses = ("adapter_dimer", "too_short", "too_long", "umi_duplicate", "passed")
    stats["input"] = overrides.get("input", sum(stats[k] for k in losses))
    return stats


def test_fates_partition_the_input_reads(tmp_path, reference_dir):
    reads = [let7a_read("1_x9"), ("2_x4", [("hsa-mir-21", 30, 50)]), two_mature_read("3_x1")]
    spikes = [("4_x6", [("cel-miR-39-3p", 0, 22)])]
    counts, _ = count(tmp_path, reference_dir, reads, spikes, multimapper="unique")
    stats = trim_stats("S1", passed=40)
    row = fate_rows.sample_fates(
        "S1",
        stats,
        spikein=counts.spikein_reads,
        mature=counts.mature_reads,
        hairpin_only=counts.hairpin_only_reads,
        source="test",
    )
    assert list(row) == list(fate_rows.COLUMNS)
    assert (row["spikein"], row["mature"], row["hairpin_only"], row["unassigned"]) == (6, 10, 4, 20)
    partition = fate_rows.COLUMNS[2:-1]
    assert sum(row[c] for c in partition) == row["input"] == stats["input"]


def test_more_aligned_reads_than_passed_is_an_error():
    with pytest.raises(ExomirError, match="S1.*exceed"):
        fate_rows.sample_fates(
            "S1", trim_stats("S1", passed=5), spikein=1, mature=5, hairpin_only=0, source="x.bam"
        )


def test_umi_kit_counts_molecules_and_fates_still_sum_to_input_reads(tmp_path, reference_dir):
    # 100 reads were sequenced; 60 were UMI duplicates, 30 molecules passed.
    stats = trim_stats("U1", passed=30, adapter_dimer=8, too_short=2, too_long=0, umi_duplicate=60)
    stats["unit"] = "molecules"
    stats_path = tmp_path / "trim_stats.json"
    stats_path.write_text(json.dumps(stats))
    counts, reference = count(
        tmp_path, reference_dir, [let7a_read("1_x20"), mir199_3p_read("2_x4")]
    )
    loaded = tables.load_trim_stats(stats_path, "U1")
    row = fate_rows.sample_fates(
        "U1",
        loaded,
        spikein=counts.spikein_reads,
        mature=counts.mature_reads,
        hairpin_only=counts.hairpin_only_reads,
        source=str(stats_path),
    )
    assert mature_counts(counts, reference)["hsa-let-7a-5p"] == 20
    assert row["input"] == 100
    assert row["unassigned"] == 30 - 24
    assert sum(row[c] for c in fate_rows.COLUMNS[2:-1]) == 100


# ---------------------------------------------------------------- counts never exceed reads


def random_reads(rng: random.Random, n: int) -> list[tuple[str, list]]:
    """Reads with 1-4 alignments anywhere near mature arms (hits, near misses, loops)."""
    arms = [
        (hairpin, start, end)
        for hairpin, sequence in HAIRPINS.items()
        for mature, mature_sequence in MATURES.items()
        if (start := sequence.find(mature_sequence)) >= 0
        for end in [start + len(mature_sequence)]
    ]
    reads = []
    for rank in range(1, n + 1):
        alignments = set()
        for _ in range(rng.randint(1, 4)):
            hairpin, start, end = rng.choice(arms)
            shifted_start = max(0, start + rng.randint(-4, 4))
            alignments.add((hairpin, shifted_start, end + rng.randint(-7, 7)))
        reads.append((f"{rank}_x{rng.randint(1, 50)}", sorted(alignments)))
    return reads


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("multimapper", counting.MULTIMAPPER_POLICIES)
def test_counts_never_exceed_the_reads_that_went_in(tmp_path, reference_dir, seed, multimapper):
    reads = random_reads(random.Random(seed), 60)
    counts, _ = count(tmp_path, reference_dir, reads, multimapper=multimapper)
    total_reads = sum(int(name.split("_x")[1]) for name, _ in reads)
    assert counts.mature_reads + counts.hairpin_only_reads == total_reads
    assert counts.mature.sum() <= counts.mature_reads + 1e-9
    assert counts.hairpin.sum() <= total_reads + 1e-9
    isomir_total = sum(i.count for i in counts.isomirs)
    assert isomir_total == pytest.approx(counts.mature.sum())
    if multimapper != "unique":
        # nothing is lost either: every read with a mature feature is fully distributed
        assert counts.mature.sum() == pytest.approx(counts.mature_reads)


# ---------------------------------------------------------------- isomiRs


def test_isomir_offsets_mismatches_and_sequence(tmp_path, reference_dir):
    start, end = placement("hsa-mir-21", "hsa-miR-21-5p")
    reference = counting.load_counting_reference(reference_dir)
    bam = write_bam(
        tmp_path / "h.bam", HAIRPINS, [("1_x5", [("hsa-mir-21", start + 1, end - 2)])], nm=1
    )
    counts = counting.count_sample(bam, None, reference)
    assert counts.isomirs == [
        counting.IsomirCount(
            "hsa-miR-21-5p", HAIRPINS["hsa-mir-21"][start + 1 : end - 2], 1, -2, 1, 5.0
        )
    ]


def test_a_mismatch_at_the_last_base_is_a_one_nt_tail(tmp_path, reference_dir):
    start, end = placement("hsa-mir-21", "hsa-miR-21-5p")
    reference = counting.load_counting_reference(reference_dir)
    bam = write_bam(
        tmp_path / "h.bam",
        HAIRPINS,
        [("1_x4", [("hsa-mir-21", start, end + 1)])],
        nm=1,
        terminal_mismatch=True,
    )
    counts = counting.count_sample(bam, None, reference)
    sequence = HAIRPINS["hsa-mir-21"][start : end + 1]
    # Templated end at the mature's end, no mismatch left, the last base is the tail.
    assert counts.isomirs == [
        counting.IsomirCount("hsa-miR-21-5p", sequence, 0, 0, 0, 4.0, sequence[-1])
    ]
    assert counts.mature[reference.matures.names.index("hsa-miR-21-5p")] == 4


def test_isomirs_are_sorted_by_mirna_then_count_desc_then_sequence(tmp_path, reference_dir):
    start, end = placement("hsa-mir-21", "hsa-miR-21-5p")
    three_start, three_end = placement("hsa-mir-21", "hsa-miR-21-3p")
    reads = [
        ("1_x9", [("hsa-mir-21", three_start, three_end)]),
        ("2_x3", [("hsa-mir-21", start, end + 1)]),
        ("3_x3", [("hsa-mir-21", start, end - 1)]),
        ("4_x8", [("hsa-mir-21", start, end)]),
    ]
    counts, _ = count(tmp_path, reference_dir, reads)
    order = [(i.mirna, i.count, i.end_offset) for i in counts.isomirs]
    seq = HAIRPINS["hsa-mir-21"]
    later = sorted([(seq[start : end + 1], 1), (seq[start : end - 1], -1)])
    assert order == [
        ("hsa-miR-21-3p", 9, 0),
        ("hsa-miR-21-5p", 8, 0),
        ("hsa-miR-21-5p", 3, later[0][1]),
        ("hsa-miR-21-5p", 3, later[1][1]),
    ]


def test_isomir_shares_follow_the_policy(tmp_path, reference_dir):
    fractional, _ = count(tmp_path, reference_dir, [two_mature_read("1_x4")])
    unique, _ = count(tmp_path, reference_dir, [two_mature_read("1_x4")], multimapper="unique")
    assert sorted((i.mirna, i.count) for i in fractional.isomirs) == [
        ("hsa-miR-199a-5p", 2),
        ("hsa-miR-21-5p", 2),
    ]
    assert unique.isomirs == []


def test_isomir_offsets_come_from_the_first_alignment_that_hit(tmp_path, reference_dir):
    # let-7a-5p starts at 5, 4, 3 on let-7a-1/2/3; the same read is offset differently on each
    reads = [("1_x2", [("hsa-let-7a-2", 5, 26), ("hsa-let-7a-1", 5, 26)])]
    counts, _ = count(tmp_path, reference_dir, reads)
    (isomir,) = counts.isomirs
    assert (isomir.start_offset, isomir.end_offset) == (1, 0)


# ---------------------------------------------------------------- input checks


def test_reverse_strand_alignments_are_ignored(tmp_path, reference_dir):
    reference = counting.load_counting_reference(reference_dir)
    span = placement("hsa-mir-21", "hsa-miR-21-5p")
    bam = write_bam(tmp_path / "r.bam", HAIRPINS, [("1_x5", [("hsa-mir-21", *span)])], flag=16)
    counts = counting.count_sample(bam, None, reference)
    assert (counts.mature_reads, counts.hairpin_only_reads) == (0, 0)


def test_unmapped_records_are_ignored(tmp_path, reference_dir):
    """bowtie without --no-unal writes unaligned reads as flag-4 records."""
    reference = counting.load_counting_reference(reference_dir)
    span = placement("hsa-mir-21", "hsa-miR-21-5p")
    bam = write_bam(tmp_path / "u.bam", HAIRPINS, [("1_x5", [("hsa-mir-21", *span)])], flag=4)
    counts = counting.count_sample(bam, None, reference)
    assert (counts.mature_reads, counts.hairpin_only_reads) == (0, 0)


def test_sorted_bam_is_refused(tmp_path, reference_dir):
    reference = counting.load_counting_reference(reference_dir)
    bam = write_bam(tmp_path / "s.bam", HAIRPINS, [let7a_read("1_x1")], sort_order="coordinate")
    with pytest.raises(ExomirError, match=r"s\.bam: BAM is coordinate-sorted"):
        counting.count_sample(bam, None, reference)


def test_bam_against_another_reference_is_refused(tmp_path, reference_dir):
    reference = counting.load_counting_reference(reference_dir)
    bam = write_bam(tmp_path / "o.bam", {"hsa-mir-other": "ACGT" * 20}, [])
    with pytest.raises(ExomirError, match=r"o\.bam: reference sequence hsa-mir-other"):
        counting.count_sample(bam, None, reference)


def test_uncollapsed_read_name_is_refused_naming_the_bam(tmp_path, reference_dir):
    with pytest.raises(ExomirError, match=r"hairpin\.bam: .*'SRR1\.7'"):
        count(tmp_path, reference_dir, [("SRR1.7", [("hsa-mir-21", 7, 29)])])


def test_read_in_both_spikein_and_hairpin_bam_is_refused(tmp_path, reference_dir):
    with pytest.raises(ExomirError, match="1_x5 is also in the spike-in BAM"):
        count(tmp_path, reference_dir, [let7a_read("1_x5")], [("1_x5", [("cel-miR-39-3p", 0, 22)])])


def test_missing_bam_is_named(tmp_path, reference_dir):
    reference = counting.load_counting_reference(reference_dir)
    with pytest.raises(ExomirError, match=r"nope\.bam: hairpin BAM is missing"):
        counting.count_sample(tmp_path / "nope.bam", None, reference)


def test_positions_naming_an_unknown_mature_are_refused(tmp_path, reference_dir):
    positions = reference_dir / "mature_positions.tsv"
    positions.write_text(positions.read_text() + "hsa-mir-21\thsa-miR-ghost\t1\t20\tACGT\n")
    with pytest.raises(ExomirError, match=r"mature_positions\.tsv: mature hsa-miR-ghost"):
        counting.load_counting_reference(reference_dir)


def test_unknown_policy_is_refused(reference_dir):
    with pytest.raises(ExomirError, match="multimapper policy 'best'"):
        counting.load_counting_reference(reference_dir, "best")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sample": "other"}, "for sample 'other', not S1"),
        ({"passed": -1}, "'passed' must be a count"),
        ({"input": 1000}, "input 1000 !="),
    ],
)
def test_bad_trim_stats_are_refused(tmp_path, change, message):
    path = tmp_path / "trim_stats.json"
    path.write_text(json.dumps({**trim_stats("S1", passed=10), **change}))
    with pytest.raises(ExomirError, match=message):
        tables.load_trim_stats(path, "S1")


# ---------------------------------------------------------------- CLI


def run_count_cli(tmp_path, reference_dir, sample, reads, spikes, passed, multimapper):
    hairpin_bam = write_bam(tmp_path / f"{sample}.hairpin.bam", HAIRPINS, reads)
    spikein_bam = write_bam(tmp_path / f"{sample}.spikein.bam", SPIKEINS, spikes)
    stats = tmp_path / f"{sample}.trim_stats.json"
    stats.write_text(json.dumps(trim_stats(sample, passed=passed)))
    outdir = tmp_path / sample
    status = cli.main(
        [
            "count",
            "--sample",
            sample,
            "--hairpin-bam",
            str(hairpin_bam),
            "--spikein-bam",
            str(spikein_bam),
            *counting_reference_args(reference_dir),
            "--trim-stats",
            str(stats),
            "--multimapper",
            multimapper,
            *count_output_args(outdir),
        ]
    )
    assert status == 0
    return outdir


def test_count_cli_writes_all_tables(tmp_path, reference_dir):
    reads = [let7a_read("1_x9"), mir199_3p_read("2_x3"), ("3_x2", [("hsa-mir-21", 30, 50)])]
    spikes = [("4_x5", [("cel-miR-39-3p", 0, 22)])]
    outdir = run_count_cli(tmp_path, reference_dir, "S1", reads, spikes, 30, "fractional")
    mature = (outdir / "mature.tsv").read_text().splitlines()
    assert mature[0] == "mirna\tS1"
    assert len(mature) == 1 + len(MATURES)
    assert "hsa-miR-199a-3p\t1.5" in mature
    assert "hsa-miR-unplaced\t0" in mature
    hairpin = (outdir / "hairpin.tsv").read_text().splitlines()
    assert "hsa-let-7a-1\t3" in hairpin
    assert (outdir / "spikein.tsv").read_text().splitlines()[1:] == [
        "cel-miR-238-3p\t0",
        "cel-miR-39-3p\t5",
        "cel-miR-54-3p\t0",
    ]
    isomirs = (outdir / "isomirs.tsv").read_text().splitlines()
    assert isomirs[0] == "mirna\tsequence\tstart_offset\tend_offset\ttail\tmismatches\tcount"
    assert isomirs[1] == f"hsa-let-7a-5p\t{LET7A_5P}\t0\t0\t.\t0\t9"
    fates = (outdir / "fates.tsv").read_text().splitlines()
    assert fates == ["\t".join(fate_rows.COLUMNS), "S1\t51\t11\t7\t3\t0\t5\t12\t2\t11\t2"]


def test_every_sample_gets_the_same_rows(tmp_path, reference_dir):
    one = run_count_cli(tmp_path, reference_dir, "A", [let7a_read("1_x1")], [], 5, "collapse")
    other = run_count_cli(tmp_path, reference_dir, "B", [mir199_3p_read("1_x1")], [], 5, "collapse")
    for table in ("mature.tsv", "hairpin.tsv", "spikein.tsv"):
        rows_one = [line.split("\t")[0] for line in (one / table).read_text().splitlines()[1:]]
        rows_other = [line.split("\t")[0] for line in (other / table).read_text().splitlines()[1:]]
        assert rows_one == rows_other
        assert rows_one == sorted(rows_one)


def test_count_cli_reports_inconsistent_inputs_on_one_line(tmp_path, reference_dir, capsys):
    hairpin_bam = write_bam(tmp_path / "h.bam", HAIRPINS, [let7a_read("1_x50")])
    stats = tmp_path / "t.json"
    stats.write_text(json.dumps(trim_stats("S1", passed=10)))
    status = cli.main(
        [
            "count",
            "--sample",
            "S1",
            "--hairpin-bam",
            str(hairpin_bam),
            *counting_reference_args(reference_dir),
            "--trim-stats",
            str(stats),
            *count_output_args(tmp_path / "out"),
        ]
    )
    error = capsys.readouterr().err
    assert status == 1
    assert error.count("\n") == 1
    assert "sample S1: 50 aligned reads exceed the 10" in error
    assert not (tmp_path / "out" / "fates.tsv").exists()
