"""The read structure decided by test mapping, on simulated libraries of every kit.

Libraries are simulated with ligation-biased random bases (not uniform), adapter variants
(a preset missing its first 1-4 bases, v1.0 instead of v1.5), an unknown adapter and ~1 %
miRNA content; each is decided under ``auto`` and under wrong declared kits, against
bowtie indexes of the bundled hsa hairpins, the spike-ins and the bundled tRNA reference.
``-s`` prints the decision-accuracy table per kit (the issue's figure).
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import DATA, REPO
from exomir import fastq, kit_mapping, trimming
from exomir.biotypes import prepare_reference
from exomir.errors import ExomirError
from exomir.kit_mapping import MappingReferences, decide_structure, write_mapping_reference
from exomir.kits import load_kits
from exomir.reference import read_fasta, species_records
from tools.simulate import KITS as SIMULATED_KITS
from tools.simulate import read_truth, simulate_library

MIRBASE = REPO / "resources" / "mirbase"
READS = 20_000
TRUSEQ = "TGGAATTCTCGGGTGCCAAGGAACTCCAGTCAC"
V15 = SIMULATED_KITS["illumina_v15"].adapter
UNKNOWN = "GTCCAGTTACGGATCTAGGCTTAACCGATG"  # no preset's
LOW_MIRNA = {"mirna": 0.01, "spikein": 0.01, "trna": 0.4, "random": 0.5, "dimer": 0.08}

# (case, simulated kit, adapter override, composition, expected structure:
#  (adapter prefix or None for the kit's preset, clip5, clip3_after_adapter, umi_length))
CASES = [
    ("illumina", "illumina", None, None, ("illumina", 0, 0, 0)),
    ("nextflex", "nextflex", None, None, ("nextflex", 4, 4, 0)),
    ("qiaseq", "qiaseq", None, None, ("qiaseq", 0, 0, 12)),
    ("cats", "cats", None, None, ("cats", 3, 0, 0)),
    ("nebnext", "nebnext", None, None, ("nebnext", 0, 0, 0)),
    ("illumina_v15", "illumina_v15", None, None, ("illumina_v15", 0, 0, 0)),
    ("illumina 1% miRNA", "illumina", None, LOW_MIRNA, ("illumina", 0, 0, 0)),
    ("nextflex 1% miRNA", "nextflex", None, LOW_MIRNA, ("nextflex", 4, 4, 0)),
    ("illumina_v10 (v1.5 - 3 nt)", "illumina_v15", V15[3:], None, (V15[3:], 0, 0, 0)),
    ("illumina adapter - 1 nt", "illumina", TRUSEQ[1:], None, (TRUSEQ[1:], 0, 0, 0)),
    ("illumina adapter - 2 nt", "illumina", TRUSEQ[2:], None, (TRUSEQ[2:], 0, 0, 0)),
    ("illumina adapter - 3 nt", "illumina", TRUSEQ[3:], None, (TRUSEQ[3:], 0, 0, 0)),
    ("nextflex adapter - 4 nt", "nextflex", TRUSEQ[4:], None, (TRUSEQ[4:], 4, 4, 0)),
    ("unknown adapter", "illumina", UNKNOWN, None, (UNKNOWN, 0, 0, 0)),
]
DEFAULT_CASES = {"illumina", "nextflex", "illumina_v10 (v1.5 - 3 nt)", "unknown adapter"}
WRONG_DECLARED = {"illumina": "nextflex", "nextflex": "illumina", "qiaseq": "illumina"}


@pytest.fixture(scope="module")
def kits():
    return load_kits()


@pytest.fixture(scope="module")
def separate_references(tmp_path_factory) -> MappingReferences:
    """bowtie indexes, one a reference: hsa hairpins (miRNA), spike-ins and tRNA (other);
    and, as ``combined``, the workflow's one index of all three (write_mapping_reference)."""
    folder = tmp_path_factory.mktemp("kit_mapping_refs")
    hairpins = species_records(read_fasta(MIRBASE / "hairpin.fa.gz"), "hsa")
    matures = {r.name: r.sequence for r in read_fasta(MIRBASE / "mature.fa.gz")}
    spikeins = ["cel-miR-39-3p", "cel-miR-54-3p", "cel-miR-238-3p"]
    (folder / "hairpin.fa").write_text(
        "".join(f">{r.name}\n{r.sequence.replace('U', 'T')}\n" for r in hairpins)
    )
    (folder / "spikein.fa").write_text(
        "".join(f">{n}\n{matures[n].replace('U', 'T')}\n" for n in spikeins)
    )
    prepare_reference("tRNA", REPO / "resources" / "smallrna" / "tRNA.fa.gz", folder / "tRNA.fa")
    write_mapping_reference(
        folder / "hairpin.fa", [folder / "spikein.fa", folder / "tRNA.fa"], folder / "all.fa"
    )
    for name in ("hairpin", "spikein", "tRNA", "all"):
        subprocess.run(
            ["bowtie-build", str(folder / f"{name}.fa"), str(folder / name)],
            check=True,
            capture_output=True,
        )
    return MappingReferences(
        (str(folder / "hairpin"),),
        (str(folder / "spikein"), str(folder / "tRNA")),
        (str(folder / "all"),),
    )


@pytest.fixture(scope="module")
def references(separate_references) -> MappingReferences:
    """The workflow's way: the one combined index."""
    return MappingReferences(combined=separate_references.combined)


def simulated(tmp: Path, kit: str, adapter, composition, seed: int = 7) -> Path:
    out = tmp / "sim.fastq.gz"
    simulate_library(
        MIRBASE / "mature.fa.gz",
        MIRBASE / "hairpin.fa.gz",
        "hsa",
        READS,
        kit,
        seed,
        fastq_out=out,
        truth_out=tmp / "truth.tsv",
        trna_fa=DATA / "simulate" / "tRNA.fa",
        adapter=adapter,
        composition=composition,
    )
    return out


def right_structure(kit, expected: tuple, kits) -> bool:
    """Same clipping and UMI; the adapter is the preset's, or a >= 12-nt prefix of the
    simulated adapter (an inferred adapter is as long as the reads show it)."""
    adapter, clip5, clip3, umi = expected
    adapter = kits[adapter].adapter if adapter in kits else adapter
    if (kit.clip5, kit.clip3_after_adapter, kit.umi_length) != (clip5, clip3, umi):
        return False
    if kit.adapter == adapter:
        return True
    return len(kit.adapter) >= 12 and adapter.startswith(kit.adapter)


def adapter_clipped_fraction(path: Path, kit, simulated_kit: str) -> float:
    """Reads whose adapter the decided kit finds, of the reads with >= 3 nt of adapter.

    Which reads have room for the adapter follows from the truth: the insert plus the
    kit's random bases (and CATS' poly(A)) leave at least 3 nt of the 50 nt read.
    """
    layout = SIMULATED_KITS[simulated_kit]
    truth = read_truth(path.with_name("truth.tsv"))
    around = layout.five_prime_random + layout.three_prime_random  # poly(A): CATS' adapter
    room = truth["insert"].str.len() + around + 3 <= layout.default_read_length
    with_room = int(truth.loc[room, "reads"].sum())
    reads = Counter(fastq.first_sequences([path], READS))
    result = trimming.trim_sequences(reads, kit)
    return (result.input - result.no_adapter) / with_room


_TABLE: list[str] = []


@pytest.mark.parametrize(
    "case, kit, adapter, composition, expected",
    [
        pytest.param(*case, marks=() if case[0] in DEFAULT_CASES else pytest.mark.slow, id=case[0])
        for case in CASES
    ],
)
def test_auto_decides_the_simulated_structure(
    tmp_path, kits, references, case, kit, adapter, composition, expected
):
    path = simulated(tmp_path, kit, adapter, composition)
    sequences = fastq.first_sequences([path], 100_000)
    started = time.perf_counter()
    detection = decide_structure(sequences, "auto", None, kits, references, source=case)
    seconds = time.perf_counter() - started
    mapping = detection.evidence["mapping"]
    chosen = next(c for c in mapping["candidates"] if c["protocol"] == detection.kit.name)
    clipped = adapter_clipped_fraction(path, detection.kit, kit)
    _TABLE.append(
        f"| {case} | {detection.kit.name} | {right_structure(detection.kit, expected, kits)} "
        f"| {chosen['mirna_fraction']:.1%} | {len(mapping['candidates'])} | {clipped:.1%} "
        f"| {detection.timings['mapping_seconds']:.2f} / {seconds:.2f} |"
    )
    print("\n" + _TABLE[-1])
    assert right_structure(detection.kit, expected, kits), (detection.kit, detection.evidence)
    assert clipped >= 0.95


@pytest.mark.parametrize("kit, declared", sorted(WRONG_DECLARED.items()))
def test_wrong_declared_kit_is_kept_and_warned_naming_the_better_one(
    tmp_path, kits, references, kit, declared
):
    path = simulated(tmp_path, kit, None, None)
    detection = decide_structure(
        fastq.first_sequences([path], 100_000), declared, None, kits, references
    )
    assert detection.kit.name == declared
    assert detection.evidence["mapping"]["better_than_declared"] == kit
    assert any(f"with {kit} " in w and "check protocol:" in w for w in detection.warnings)


@pytest.mark.parametrize("kit, declared", [("nextflex", "illumina"), ("illumina", "nextflex")])
def test_wrong_declared_kit_is_warned_on_a_one_percent_mirna_library(
    tmp_path, kits, references, kit, declared
):
    path = simulated(tmp_path, kit, None, LOW_MIRNA)
    detection = decide_structure(
        fastq.first_sequences([path], 100_000), declared, None, kits, references
    )
    assert detection.evidence["mapping"]["better_than_declared"] == kit


def test_right_declared_kit_has_no_mapping_warning(tmp_path, kits, references):
    path = simulated(tmp_path, "nextflex", None, None)
    detection = decide_structure(
        fastq.first_sequences([path], 100_000), "nextflex", None, kits, references
    )
    assert "better_than_declared" not in detection.evidence["mapping"]
    assert not any("test mapping" in w for w in detection.warnings)


def test_biased_nextflex_fools_composition_but_not_mapping(tmp_path, kits, references):
    """The first real failure: auto chose TruSeq for a NEXTflex library with skewed 4N."""
    from exomir.kits import detect_kit

    path = simulated(tmp_path, "nextflex", None, None)
    sequences = fastq.first_sequences([path], 100_000)
    assert detect_kit(sequences, kits).kit.name == "illumina"  # composition alone: wrong
    detection = decide_structure(sequences, "auto", None, kits, references)
    assert detection.kit.name == "nextflex"
    scores = {c["protocol"]: c for c in detection.evidence["mapping"]["candidates"]}
    assert scores["nextflex"]["mirna_fraction"] > 5 * scores["illumina"]["mirna_fraction"]
    assert any("read composition suggested illumina" in w for w in detection.warnings)


def test_shifted_v15_adapter_is_inferred(tmp_path, kits, references):
    """The second real failure: reads carry TCGTATGCCGTCTTCTGCTTG after the insert."""
    path = simulated(tmp_path, "illumina_v15", V15[3:], None)
    detection = decide_structure(
        fastq.first_sequences([path], 100_000), "auto", None, kits, references
    )
    inferred = detection.evidence["inferred_adapter"]
    assert inferred["adapter"].startswith("TCGTATGCCGTCTTCTGCTTG"[:15])
    assert inferred["fraction"] > 0.8
    assert detection.kit.adapter == inferred["adapter"]


def test_declared_v15_on_shifted_v15_reads_warns_naming_the_adapter(tmp_path, kits, references):
    path = simulated(tmp_path, "illumina_v15", V15[3:], None)
    detection = decide_structure(
        fastq.first_sequences([path], 100_000), "illumina_v15", None, kits, references
    )
    assert detection.kit.name == "illumina_v15"
    assert any("adapter: TCGTATGCCGTCTTCTGCTTG" in w for w in detection.warnings)


def test_decision_table_is_printed():
    """Runs last in this module: the per-case table of the runs above (with -s)."""
    header = (
        "| case | decided | right | miRNA (decided) | candidates | adapter-bearing reads clipped"
        " | mapping s / decision s |\n|---|---|---|---:|---:|---:|---:|"
    )
    print("\n" + header + "\n" + "\n".join(_TABLE))


REAL = [
    ("human_truseq_1_2k.fastq.gz", "illumina"),
    ("human_illumina_v15_SRR646457_2k.fastq.gz", "illumina_v15"),
    ("mouse_qiaseq_umi_2k.fastq.gz", "qiaseq"),
    ("qiaseq_umi_1.fastq.gz", "qiaseq"),
    ("human_encode_trimmed_rep1_2k.fastq.gz", "trimmed"),
]


@pytest.mark.parametrize("name, kit", REAL)
def test_real_libraries_keep_their_decisions(kits, references, name, kit):
    detection = decide_structure(
        fastq.first_sequences([DATA / "reads" / name], 100_000), "auto", None, kits, references
    )
    scores = {
        c["protocol"]: c["mirna_fraction"] for c in detection.evidence["mapping"]["candidates"]
    }
    print(f"\n{name}: {detection.kit.name}; miRNA by candidate {scores}")
    assert detection.kit.name == kit


def test_real_barcoded_encode_library_gets_its_adapter_inferred_and_barcode_clipped(
    kits, references
):
    """auto stopped with "no known 3' adapter" here; the adapter is ENCODE's
    ACGGGCTAATATTTATCGGTGGAGCATCACGATCTCGTAT and each read starts with a 6-nt barcode."""
    reads = fastq.first_sequences(
        [DATA / "reads" / "human_encode_hepg2_barcoded_2k.fastq.gz"], 100_000
    )
    detection = decide_structure(reads, "auto", None, kits, references)
    inferred = detection.evidence["inferred_adapter"]
    print(f"\nHepG2: {detection.kit}; inferred {inferred}; {detection.evidence['mapping']}")
    assert "ACGGGCTAATATTTATCGGTGGAGCATCACGATCTCGTAT".startswith(detection.kit.adapter)
    assert len(detection.kit.adapter) >= 12
    assert inferred["fraction"] >= 0.85
    assert detection.kit.clip5 == 6
    scores = {
        c["protocol"]: c["mirna_fraction"] for c in detection.evidence["mapping"]["candidates"]
    }
    assert scores[detection.kit.name] > 5 * scores["inferred"]


def test_one_combined_index_scores_as_the_separate_indexes_in_one_bowtie_call(
    tmp_path, kits, separate_references, monkeypatch
):
    """Every candidate's miRNA and total assignment rates, from one bowtie call a sample."""
    path = simulated(tmp_path, "nextflex", None, LOW_MIRNA)
    reads = list(fastq.first_sequences([path], 100_000))
    calls = []
    bowtie = kit_mapping._bowtie
    monkeypatch.setattr(
        kit_mapping, "_bowtie", lambda *a, **k: calls.append(a[1]) or bowtie(*a, **k)
    )
    combined = MappingReferences(combined=separate_references.combined)
    one = decide_structure(reads, "auto", None, kits, combined).evidence["mapping"]
    assert calls == list(separate_references.combined)
    separate = MappingReferences(separate_references.mirna, separate_references.other)
    several = decide_structure(reads, "auto", None, kits, separate).evidence["mapping"]
    assert one == several
    candidates = one["candidates"]
    assert all(c["assigned_fraction"] >= c["mirna_fraction"] for c in candidates)
    nextflex = next(c for c in candidates if c["protocol"] == "nextflex")
    # 1 % miRNA, 1 % spike-ins, 40 % tRNA fragments (most longer than the read's insert
    # room, so without adapter): most assigned reads are not miRNA
    assert nextflex["assigned_fraction"] > 0.05 > 0.02 > nextflex["mirna_fraction"]


def test_an_insert_on_a_hairpin_and_another_reference_counts_as_mirna(tmp_path, kits):
    mature = "TAGCTTATCAGACTGATGTTGA"
    other = "GCATTGGTGGTTCAGTGGTAGAATT"  # a tRNA-like insert, on no hairpin
    (tmp_path / "hairpin.fa").write_text(f">h1\nTGTCGGGTA{mature}CTGTTGAATCTCATGG\n")
    (tmp_path / "tRNA.fa").write_text(f">t1\nAAAA{mature}GGGG{other}CCA\n")
    counts = write_mapping_reference(
        tmp_path / "hairpin.fa", [tmp_path / "tRNA.fa"], tmp_path / "all.fa"
    )
    assert counts == {"hairpin": 1, "tRNA": 1}
    assert (tmp_path / "all.fa").read_text().startswith(">hairpin|h1\n")
    subprocess.run(
        ["bowtie-build", str(tmp_path / "all.fa"), str(tmp_path / "all")],
        check=True,
        capture_output=True,
    )
    adapter = kits["illumina"].adapter
    reads = Counter({mature + adapter[:28]: 30, other + adapter[:25]: 10})
    (score,) = kit_mapping.score_candidates(
        reads, [kits["illumina"]], MappingReferences(combined=(str(tmp_path / "all"),))
    )
    assert (score.mirna, score.assigned) == (30, 40)


def test_mapping_reference_names_clash_and_an_empty_hairpin_file_are_one_line(tmp_path):
    (tmp_path / "hairpin.fa").write_text(">h1\nACGTACGTACGTACGTACGTAC\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "tRNA.fa").write_text(">t1\nACGTACGTACGTACGT\n")
    (tmp_path / "tRNA.fa").write_text(">t2\nACGTACGTACGTACGT\n")
    out = tmp_path / "all.fa"
    with pytest.raises(ExomirError, match="a second reference named 'tRNA'"):
        write_mapping_reference(
            tmp_path / "hairpin.fa", [tmp_path / "tRNA.fa", tmp_path / "other" / "tRNA.fa"], out
        )
    (tmp_path / "empty.fa").write_text("")
    with pytest.raises(ExomirError, match="empty.fa: no hairpin sequences"):
        write_mapping_reference(tmp_path / "empty.fa", [tmp_path / "tRNA.fa"], out)
    (tmp_path / "headless.fa").write_text("ACGTACGT\n>t3\nACGT\n")
    with pytest.raises(ExomirError, match="headless.fa: not FASTA"):
        write_mapping_reference(tmp_path / "hairpin.fa", [tmp_path / "headless.fa"], out)
    assert not out.exists()
