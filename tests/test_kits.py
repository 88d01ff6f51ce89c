"""Kit presets and auto-detection, on real libraries and on simulated NEXTflex reads."""

from __future__ import annotations

import json
import random

import pytest

from conftest import DATA
from exomir import cli
from exomir.errors import ExomirError
from exomir.fastq import first_sequences
from exomir.kits import (
    Detection,
    Kit,
    choose_kit,
    detect_kit,
    load_kits,
    load_protocol,
    resolve_kit,
)

READS = DATA / "reads"
TRUSEQ_ADAPTER = "TGGAATTCTCGGGTGCCAAGG"
MIRNAS = [
    "TAGCTTATCAGACTGATGTTGA",  # miR-21-5p
    "TGAGGTAGTAGGTTGTATAGTT",  # let-7a-5p
    "TAGCAGCACGTAAATATTGGCG",  # miR-16-5p
    "CAACGGAATCCCAAAAGCAGCTG",  # miR-191-5p
    "TCCCTGAGACCCTTTAACCTGTGA",  # miR-125a-5p
]


@pytest.fixture(scope="module")
def kits():
    return load_kits()


def real(name: str) -> list[str]:
    return first_sequences([READS / name], 100_000)


def random_bases(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ACGT") for _ in range(n))


def nextflex_reads(n: int, seed: int = 1, length: int = 60) -> list[str]:
    rng = random.Random(seed)
    reads = []
    for i in range(n):
        insert = random_bases(rng, 4) + MIRNAS[i % len(MIRNAS)] + random_bases(rng, 4)
        reads.append((insert + TRUSEQ_ADAPTER + "AACTCCAGTCACATCACGATCTCG")[:length])
    return reads


def test_presets_carry_the_kit_layouts(kits):
    assert {"illumina", "nextflex", "qiaseq", "cats", "nebnext", "illumina_v15", "trimmed"} <= set(
        kits
    )
    assert kits["nextflex"].adapter == kits["illumina"].adapter == TRUSEQ_ADAPTER
    assert (kits["nextflex"].clip5, kits["nextflex"].clip3_after_adapter) == (4, 4)
    assert (kits["qiaseq"].adapter, kits["qiaseq"].umi_length) == ("AACTGTAGGCACCATCAAT", 12)
    assert kits["cats"].clip5 == 3 and set(kits["cats"].adapter) == {"A"}
    assert kits["trimmed"].adapter is None


def test_auto_picks_illumina_on_truseq_and_warns_about_nextflex(kits):
    detection = detect_kit(real("human_truseq_1_2k.fastq.gz"), kits)
    assert detection.kit.name == "illumina"
    assert any("nextflex" in w and "protocol:" in w for w in detection.warnings)
    assert detection.evidence["adapters"]["illumina"]["fraction"] > 0.9


@pytest.mark.parametrize("name", ["mouse_qiaseq_umi_2k.fastq.gz", "qiaseq_umi_1.fastq.gz"])
def test_auto_picks_qiaseq_although_illumina_adapter_follows_the_umi(kits, name):
    detection = detect_kit(real(name), kits)
    assert detection.kit.name == "qiaseq"
    adapters = detection.evidence["adapters"]
    assert adapters["qiaseq"]["fraction"] > 5 * adapters["nebnext"]["fraction"]


def test_auto_picks_illumina_v15_on_v15_reads(kits):
    detection = detect_kit(real("human_illumina_v15_SRR646457_2k.fastq.gz"), kits)
    assert detection.kit.name == "illumina_v15"
    assert detection.warnings == []


def test_auto_calls_short_adapterless_reads_trimmed(kits):
    detection = detect_kit(real("human_encode_trimmed_rep1_2k.fastq.gz"), kits)
    assert detection.kit.name == "trimmed"
    assert any("already adapter-trimmed" in w for w in detection.warnings)
    assert detection.evidence["read_length"]["median"] <= 40


def test_auto_picks_nextflex_on_simulated_random_end_reads(kits):
    detection = detect_kit(nextflex_reads(400), kits)
    assert detection.kit.name == "nextflex"
    assert any("illumina" in w and "protocol:" in w for w in detection.warnings)
    assert detection.evidence["adapters"]["nextflex"]["insert_length_mode"] >= 28


def test_long_reads_without_adapter_ask_for_an_adapter(kits):
    rng = random.Random(3)
    reads = [random_bases(rng, 60) for _ in range(200)]
    with pytest.raises(ExomirError, match=r"sample X.*set adapter:"):
        detect_kit(reads, kits, source="sample X")


def test_five_prime_most_adapter_wins_per_read(kits):
    read = MIRNAS[0] + "AACTGTAGGCACCATCAAT" + "ACGTACGTACGT" + "AGATCGGAAGAGCACACGTCT"
    detection = detect_kit([read] * 50, kits)
    assert detection.kit.name == "qiaseq"
    assert detection.evidence["adapters"]["nebnext"]["reads"] == 0


def test_detection_looks_at_max_reads_only(kits):
    reads = real("human_truseq_1_2k.fastq.gz")
    assert detect_kit(reads, kits, max_reads=300).evidence["reads_examined"] == 300


def test_declared_protocol_is_kept_but_warned_when_reads_disagree(kits):
    detection = choose_kit("nebnext", None, real("human_truseq_1_2k.fastq.gz"), kits)
    assert detection.kit.name == "nebnext"
    assert any("illumina" in w and "nebnext" in w for w in detection.warnings)


def test_declaring_trimmed_on_raw_reads_is_warned(kits):
    detection = choose_kit("trimmed", None, real("human_truseq_1_2k.fastq.gz"), kits)
    assert detection.kit.name == "trimmed"
    assert any("'trimmed' declared" in w and TRUSEQ_ADAPTER in w for w in detection.warnings)


def test_declared_protocol_matching_the_reads_has_no_warning(kits):
    detection = choose_kit("qiaseq", None, real("qiaseq_umi_1.fastq.gz"), kits)
    assert detection.kit.name == "qiaseq" and detection.warnings == []


def test_custom_adapter_is_measured_in_the_evidence(kits):
    detection = choose_kit("custom", "tggaattctcgg", real("human_truseq_1_2k.fastq.gz"), kits)
    assert detection.kit == Kit("custom", "TGGAATTCTCGG", description="custom 3' adapter")
    assert detection.evidence["adapters"]["custom"]["fraction"] > 0.9
    assert detection.warnings == []


def test_resolve_kit_overrides_a_preset_adapter_in_rna(kits):
    kit = resolve_kit("nextflex", "UGGAAUUCUC", kits)
    assert (kit.name, kit.adapter, kit.clip5) == ("nextflex", "TGGAATTCTC", 4)


def test_resolve_kit_custom_needs_an_adapter(kits):
    with pytest.raises(ExomirError, match="adapter:"):
        resolve_kit("custom", None, kits)


def test_resolve_kit_rejects_unknown_protocol(kits):
    with pytest.raises(ExomirError, match="unknown protocol 'truseq'.*illumina"):
        resolve_kit("truseq", None, kits)


def test_adapter_with_non_bases_is_rejected(kits):
    with pytest.raises(ExomirError, match="adapter"):
        resolve_kit("custom", "TGGAAT-TC", kits)


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        ("illumina:\n  adapter: ACGTACGT\n  clip_5: 1\n", "unknown key"),
        ("illumina:\n  adapter: ACGTACGT\n  clip5: -1\n", "clip5"),
        ("auto:\n  adapter: ACGTACGT\n", "reserved"),
        ("illumina:\n  clip5: 1\n", "missing key 'adapter'"),
        ("trimmed:\n  adapter: null\n  umi_length: 12\n", "need an adapter"),
        ("- just a list\n", "mapping"),
    ],
)
def test_bad_kit_files_name_file_and_problem(tmp_path, yaml_text, problem):
    path = tmp_path / "kits.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ExomirError, match=rf"kits\.yaml.*{problem}"):
        load_kits(path)


def test_protocol_json_round_trips_the_kit(tmp_path, kits):
    detection = Detection("auto", kits["qiaseq"], {"reads_examined": 1}, [])
    path = tmp_path / "protocol.json"
    path.write_text(json.dumps(detection.to_json("S1")))
    assert load_protocol(path) == Kit(
        "qiaseq", "AACTGTAGGCACCATCAAT", umi_length=12, description=""
    )


def test_detect_kit_cli_writes_protocol_json(tmp_path):
    out = tmp_path / "protocol.json"
    fastq = READS / "mouse_qiaseq_umi_2k.fastq.gz"
    argv = ["detect-kit", "--sample", "M1", "--fastq", str(fastq), "--protocol", "auto"]
    assert cli.main([*argv, "--max-reads", "500", "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    assert list(document) == [
        "sample",
        "requested",
        "protocol",
        "adapter",
        "clip5",
        "clip3_after_adapter",
        "umi_length",
        "evidence",
        "warnings",
    ]
    assert (document["sample"], document["requested"], document["protocol"]) == (
        "M1",
        "auto",
        "qiaseq",
    )
    assert document["umi_length"] == 12
    assert document["evidence"]["reads_examined"] == 500


def test_detect_kit_cli_reports_user_errors_in_one_line(tmp_path, capsys):
    empty = tmp_path / "empty.fastq"
    empty.write_text("")
    argv = ["detect-kit", "--sample", "S", "--fastq", str(empty), "--protocol", "auto"]
    assert cli.main([*argv, "--out", str(tmp_path / "p.json")]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "empty.fastq: contains no reads" in error
    assert not (tmp_path / "p.json").exists()
