"""Trimming distinct reads: insert extraction per kit, read fates, UMIs, and the trim CLI."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from conftest import DATA
from exomir import cli
from exomir.collapsed import read_collapsed
from exomir.errors import ExomirError
from exomir.fastq import count_sequences
from exomir.kits import Kit, load_kits
from exomir.trimming import trim_sequences

READS = DATA / "reads"
TRUSEQ_ADAPTER = "TGGAATTCTCGGGTGCCAAGG"
QIASEQ_ADAPTER = "AACTGTAGGCACCATCAAT"
ILLUMINA_TAIL = "AGATCGGAAGAGCACACGTCTGAACTCCAGTCAC"
MIR21 = "TAGCTTATCAGACTGATGTTGA"
LET7A = "TGAGGTAGTAGGTTGTATAGTT"
MIR16 = "TAGCAGCACGTAAATATTGGCG"
FATES = ("adapter_dimer", "too_short", "too_long", "umi_duplicate", "passed")


@pytest.fixture(scope="module")
def kits():
    return load_kits()


def bases(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ACGT") for _ in range(n))


def fate_sum(result) -> int:
    return sum(getattr(result, fate) for fate in FATES)


def qiaseq_read(insert: str, umi: str) -> str:
    return (insert + QIASEQ_ADAPTER + umi + ILLUMINA_TAIL)[:75]


def test_nextflex_reads_are_trimmed_to_the_exact_mirna(kits):
    rng = random.Random(5)
    raw = Counter()
    for mirna in (MIR21, LET7A, MIR16) * 20:
        raw[(bases(rng, 4) + mirna + bases(rng, 4) + TRUSEQ_ADAPTER + "AACTCCAG")[:60]] += 1
    result = trim_sequences(raw, kits["nextflex"])
    assert result.inserts == {MIR21: 20, LET7A: 20, MIR16: 20}
    assert result.passed == result.input == 60


def test_cats_reads_lose_template_switch_bases_and_poly_a(kits):
    raw = Counter({"GGG" + LET7A + "A" * 30: 3, "CGT" + MIR16 + "A" * 25 + "GATCGG": 2})
    result = trim_sequences(raw, kits["cats"])
    assert result.inserts == {LET7A: 3, MIR16: 2}


def test_cats_poly_a_does_not_swallow_the_last_insert_base(kits):
    # hsa-miR-6736-3p ends ...CACAGT: with a mismatch allowed, the tail took its final T
    insert = "TCAGCTCCTCTCTACCCACAGT"
    result = trim_sequences(Counter({"GGG" + insert + "A" * 20 + "GATCGG": 5}), kits["cats"])
    assert result.inserts == {insert: 5}


def test_truseq_partial_adapter_at_read_end_is_removed(kits):
    result = trim_sequences({MIR21 + "TGGAA": 1}, kits["illumina"])
    assert result.inserts == {MIR21: 1}
    assert result.no_adapter == 0


def test_adapter_with_a_sequencing_error_is_still_found(kits):
    mutated = TRUSEQ_ADAPTER[:8] + "A" + TRUSEQ_ADAPTER[9:]
    result = trim_sequences({MIR21 + mutated: 4}, kits["illumina"])
    assert result.inserts == {MIR21: 4}


def test_qiaseq_umi_pcr_duplicates_collapse_to_one_molecule(kits):
    raw = Counter(
        {
            qiaseq_read(MIR21, "ACGTACGTACGT"): 30,
            qiaseq_read(MIR21, "ACGTACGTACGA"): 2,  # one mismatch: PCR/sequencing error
            qiaseq_read(MIR21, "TTTTGGGGCCCC"): 5,  # a second molecule
            qiaseq_read(LET7A, "ACGTACGTACGT"): 7,  # same UMI, other miRNA
        }
    )
    result = trim_sequences(raw, kits["qiaseq"])
    assert result.inserts == {MIR21: 2, LET7A: 1}
    assert (result.umi_reads, result.umi_molecules) == (44, 3)
    assert result.umi_duplicate == 41 and result.passed == 3
    assert result.unit == "molecules"


def test_qiaseq_umi_is_read_right_after_the_adapter(kits):
    raw = {qiaseq_read(MIR21, "AAAAAAAAAAAA"): 1, qiaseq_read(MIR21, "AAAAAACCCAAA"): 1}
    result = trim_sequences(raw, kits["qiaseq"])
    assert result.inserts == {MIR21: 2}  # three mismatches apart: two molecules


@pytest.mark.parametrize(
    ("insert_length", "fate"),
    [(0, "adapter_dimer"), (4, "adapter_dimer"), (5, "too_short"), (15, "too_short")]
    + [(16, "passed"), (30, "passed"), (31, "too_long")],
)
def test_insert_length_decides_the_fate(kits, insert_length, fate):
    insert = (MIR21 * 2)[:insert_length]
    result = trim_sequences({insert + TRUSEQ_ADAPTER + "AACTCCAG": 3}, kits["illumina"])
    assert getattr(result, fate) == 3
    assert fate_sum(result) == 3


def test_read_without_adapter_keeps_its_whole_length_and_is_counted(kits):
    result = trim_sequences({MIR21: 2, MIR16 + TRUSEQ_ADAPTER: 1}, kits["illumina"])
    assert result.no_adapter == 2
    assert result.inserts == {MIR21: 2, MIR16: 1}


def test_length_filter_is_configurable(kits):
    result = trim_sequences({MIR21 + TRUSEQ_ADAPTER: 1}, kits["illumina"], 23, 40)
    assert result.too_short == 1 and result.passed == 0


@pytest.mark.parametrize("bounds", [(0, 30), (20, 19)])
def test_impossible_length_filter_is_an_error(kits, bounds):
    with pytest.raises(ExomirError, match="min_length"):
        trim_sequences({MIR21: 1}, kits["illumina"], *bounds)


@pytest.mark.parametrize(
    ("name", "kit"),
    [
        ("human_truseq_1_2k.fastq.gz", "illumina"),
        ("human_illumina_v15_SRR646457_2k.fastq.gz", "illumina_v15"),
        ("mouse_qiaseq_umi_2k.fastq.gz", "qiaseq"),
        ("qiaseq_umi_1.fastq.gz", "qiaseq"),
        ("human_encode_trimmed_rep1_2k.fastq.gz", "trimmed"),
    ],
)
def test_fates_partition_the_input_on_real_libraries(kits, name, kit):
    raw, n_reads = count_sequences([READS / name])
    result = trim_sequences(raw, kits[kit])
    assert result.input == n_reads == fate_sum(result)
    assert sum(result.insert_lengths.values()) == n_reads
    assert sum(result.inserts.values()) == result.passed > n_reads // 4


def test_adapterless_reads_with_an_adapter_kit_warn_to_use_trimmed(kits):
    raw, _ = count_sequences([READS / "human_encode_trimmed_rep1_2k.fastq.gz"])
    result = trim_sequences(raw, kits["illumina"])
    assert result.no_adapter > result.input / 2
    assert any("protocol: trimmed" in w for w in result.warnings)


def test_trimmed_kit_only_applies_the_length_filter():
    result = trim_sequences({MIR21: 5, "ACGT" * 10: 1}, Kit("trimmed", None))
    assert result.inserts == {MIR21: 5}
    assert (result.too_long, result.no_adapter, result.adapter_dimer) == (1, 6, 0)


def test_stats_document_has_the_agreed_keys(kits):
    stats = trim_sequences({MIR21 + TRUSEQ_ADAPTER: 2, TRUSEQ_ADAPTER: 1}, kits["illumina"]).stats(
        "S1"
    )
    assert list(stats) == [
        "sample",
        "protocol",
        "unit",
        "input",
        "distinct_raw",
        "adapter_dimer",
        "too_short",
        "too_long",
        "umi_duplicate",
        "passed",
        "no_adapter",
        "distinct_inserts",
        "umi",
        "insert_lengths",
        "warnings",
    ]
    assert stats["insert_lengths"] == {"0": 1, "22": 2}
    assert stats["umi"] is None and stats["unit"] == "reads"


def run_pipeline_front(tmp_path, fastq, tag: str, *, separate_detection: bool):
    """exomir detect-kit then trim --protocol-json, or trim deciding the kit itself."""
    protocol = tmp_path / f"protocol_{tag}.json"
    inserts, stats = tmp_path / f"inserts_{tag}.fa", tmp_path / f"stats_{tag}.json"
    trim = ["trim", "--sample", "S1", "--fastq", str(fastq)]
    if separate_detection:
        detect = ["detect-kit", "--sample", "S1", "--fastq", str(fastq), "--protocol", "auto"]
        assert cli.main([*detect, "--out", str(protocol)]) == 0
        trim += ["--protocol-json", str(protocol)]
    else:
        trim += ["--protocol", "auto", "--protocol-out", str(protocol)]
    trim += ["--min-length", "16", "--max-length", "30", "--threads", "1"]
    assert cli.main([*trim, "--inserts", str(inserts), "--stats", str(stats)]) == 0
    return inserts, json.loads(stats.read_text())


def test_trim_cli_end_to_end_on_a_real_umi_library(tmp_path):
    fastq = READS / "qiaseq_umi_1.fastq.gz"
    inserts, stats = run_pipeline_front(tmp_path, fastq, "a", separate_detection=True)
    records = list(read_collapsed(inserts))
    assert stats["protocol"] == "qiaseq" and stats["unit"] == "molecules"
    assert sum(count for _, _, count in records) == stats["passed"] == stats["umi"]["molecules"]
    assert len(records) == stats["distinct_inserts"]
    assert all(16 <= len(seq) <= 30 for _, seq, _ in records)
    assert stats["input"] == sum(stats[fate] for fate in FATES)
    # Deciding the kit inside trim (as the workflow does) changes nothing.
    again, _ = run_pipeline_front(tmp_path, fastq, "b", separate_detection=False)
    assert again.read_bytes() == inserts.read_bytes()
    decision = (tmp_path / "protocol_a.json").read_bytes()
    assert (tmp_path / "protocol_b.json").read_bytes() == decision


@pytest.mark.parametrize(
    ("kit_options", "problem"),
    [
        ([], "give either --protocol-json or --protocol"),
        (["--protocol", "auto", "--protocol-json", "p.json"], "give either"),
        (["--protocol", "auto"], "--protocol needs --protocol-out"),
    ],
)
def test_trim_cli_needs_exactly_one_way_to_the_kit(tmp_path, capsys, kit_options, problem):
    fastq = READS / "human_truseq_1_2k.fastq.gz"
    argv = ["trim", "--sample", "S1", "--fastq", str(fastq), *kit_options]
    argv += ["--inserts", str(tmp_path / "i.fa"), "--stats", str(tmp_path / "s.json")]
    assert cli.main(argv) == 1
    error = capsys.readouterr().err
    assert error.startswith("exomir trim: error: ") and problem in error
    assert list(tmp_path.iterdir()) == []


def test_trim_cli_reports_bad_protocol_json(tmp_path, capsys):
    protocol = tmp_path / "protocol.json"
    protocol.write_text("{}")
    fastq = READS / "human_truseq_1_2k.fastq.gz"
    argv = ["trim", "--sample", "S1", "--fastq", str(fastq), "--protocol-json", str(protocol)]
    argv += ["--inserts", str(tmp_path / "i.fa"), "--stats", str(tmp_path / "s.json")]
    assert cli.main(argv) == 1
    assert "protocol.json: missing key 'protocol'" in capsys.readouterr().err
