"""Reads that are not miRNAs land in their small-RNA biotype, and every read stays counted.

Simulated fragments (random positions, 16-35 nt) of the bundled human references go
through ``exomir biotypes classify`` with real bowtie; slow tests run the workflow on a
simulated TruSeq library (biotypes on and off) and on real bovine serum and plasma reads.
"""

from __future__ import annotations

import csv
import gzip
import random
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import DATA, REPO, snakemake
from exomir import cli, tables
from exomir import fates as fate_rows
from exomir.align import align
from exomir.biotypes import (
    classify_sample,
    collapsed_total,
    count_alignments,
    feature_name,
    load_features,
    merge_biotype_counts,
    parse_mismatches,
    prepare_reference,
    resolve_references,
    trna_region,
    write_sorted_collapsed,
)
from exomir.collapsed import write_collapsed
from exomir.errors import ExomirError
from exomir.fates import read_fate_row, split_unassigned
from exomir.reference import read_fasta

needs_bowtie = pytest.mark.skipif(
    shutil.which("bowtie") is None or shutil.which("samtools") is None,
    reason="bowtie and samtools are needed",
)

BUNDLED = REPO / "resources" / "smallrna"
BUNDLED_BIOTYPES = ("rRNA", "tRNA", "snoRNA", "piRNA")
MISMATCHES = "rRNA=1,tRNA=2,snoRNA=1,piRNA=1"
TRUSEQ_ADAPTER = "TGGAATTCTCGGGTGCCAAGG"
DEFAULTS = {"order": ["rRNA", "tRNA", "Y_RNA", "snoRNA", "piRNA"], "references": {}}


# ---------------------------------------------------------------- feature names


@pytest.mark.parametrize(
    ("description", "feature"),
    [
        ("Homo sapiens (human) tRNA-Thr (anticodon TGT) 2-1 (TRT-TGT2-1)", "tRNA-Thr-TGT"),
        ("Homo sapiens tRNA-Cys (GCA) (tRX-Cys-NNN-1-1)", "tRNA-Cys-GCA"),
        ("Homo_sapiens_tRNA-Gly-GCC-2-1 (tRNAscan-SE ID: chr1.trna1)", "tRNA-Gly-GCC"),
        ("Homo sapiens (human) trRNA-Thr (anticodon AGT) 3-1 (TRT-AGT3-1)", "tRNA-Thr-AGT"),
        ("Homo sapiens (human) RNA, 18S ribosomal N2 (RNA18SN2-4)", "rRNA-18S"),
        ("Homo sapiens eukaryotic LSU rRNA", "rRNA-28S"),
        ("Homo sapiens SSU rRNA", "rRNA-18S"),
        ("Homo sapiens mitochondrial SSU rRNA", "rRNA-12S"),
        ("Homo sapiens 5.8S ribosomal RNA", "rRNA-5.8S"),
        ("Homo sapiens 45S pre-ribosomal RNA", "rRNA-45S"),
        ("Homo sapiens (human) piR-50304", "piR-50304"),
        ("Homo sapiens (human) Homo_sapiens piRNA piR-hsa-1169534", "piR-hsa-1169534"),
        ("Homo sapiens (human) RNA, Ro60-associated Y4 (RNY4)", "RNY4"),
        ("ncrna chromosome:GRCh38 gene_symbol:SNORD3A description:x", "SNORD3A"),
        (
            "Homo sapiens (human) small nucleolar RNA, H/ACA box 59A (SNORA59A, SNORA59B)",
            "SNORA59A",
        ),
        ("Homo sapiens (human) small nucleolar RNA, C/D box 3C", "SNORD3C"),
        ("Homo sapiens Small nucleolar RNA U13", "U13"),
        ("Homo sapiens (human) Small Cajal body specific RNA 2", "SCARNA2"),
    ],
)
def test_feature_is_read_from_the_header(description, feature):
    assert feature_name("URS0000000001_9606", description) == feature


def test_feature_falls_back_to_the_record_name():
    assert feature_name("my_rna", "") == "my_rna"
    assert feature_name("my_rna", "something from Homo sapiens (human)") == "my_rna"


def test_every_bundled_rrna_and_trna_record_gets_a_class_or_family():
    for record in read_fasta(BUNDLED / "rRNA.fa.gz"):
        assert feature_name(record.name, record.description) in {"rRNA-18S", "rRNA-28S"}
    families = {feature_name(r.name, r.description) for r in read_fasta(BUNDLED / "tRNA.fa.gz")}
    # one suppressor tRNA (TRSUP-TTA1-1) has no amino acid: it keeps its gene symbol
    assert {f for f in families if not f.startswith("tRNA-")} == {"TRSUP-TTA1-1"}
    assert 40 <= len(families) <= 70  # amino acid x anticodon families, not 354 genes


# ---------------------------------------------------------------- tRNA positions


@pytest.mark.parametrize(
    ("start", "end", "region"),
    [(0, 30, "5p"), (2, 30, "5p"), (3, 30, "internal"), (50, 76, "3p"), (40, 73, "3p")],
)
def test_trna_fragment_position(start, end, region):
    # a 73-nt tRNA + CCA = 76 nt: ending at 73 is a 3' fragment without its CCA
    assert trna_region(start, end, 76) == region


def test_fragment_ending_four_short_of_the_end_is_internal():
    assert trna_region(40, 72, 76) == "internal"


# ---------------------------------------------------------------- references


def test_prepared_trna_gets_cca_and_its_family_as_description(tmp_path):
    source = tmp_path / "t.fa"
    source.write_text(">t1 Homo sapiens tRNA-Gly (anticodon GCC) 1-1\nGCAUUGGUGG\nUUCAGUGG\n")
    assert prepare_reference("tRNA", source, tmp_path / "out.fa") == 1
    assert (tmp_path / "out.fa").read_text() == ">t1 tRNA-Gly-GCC\nGCATTGGTGGTTCAGTGGCCA\n"


def test_prepared_reference_turns_other_letters_into_n_and_adds_no_tail(tmp_path):
    source = tmp_path / "r.fa"
    source.write_text(">r1 Homo sapiens 18S ribosomal RNA\nACGTRYACGT\n")
    prepare_reference("rRNA", source, tmp_path / "out.fa")
    assert (tmp_path / "out.fa").read_text() == ">r1 rRNA-18S\nACGTNNACGT\n"
    assert load_features(tmp_path / "out.fa") == {"r1": ("rRNA-18S", 10)}


def test_duplicate_record_names_are_refused_naming_file_and_record(tmp_path):
    source = tmp_path / "dup.fa"
    source.write_text(">a x\nACGT\n>a y\nACGA\n")
    with pytest.raises(ExomirError, match=r"dup\.fa: record a appears twice"):
        prepare_reference("snoRNA", source, tmp_path / "out.fa")
    assert not (tmp_path / "out.fa").exists()


def test_empty_reference_is_refused(tmp_path):
    (tmp_path / "empty.fa").write_text("")
    with pytest.raises(ExomirError, match="no sequences in the piRNA reference"):
        prepare_reference("piRNA", tmp_path / "empty.fa", tmp_path / "out.fa")


# ---------------------------------------------------------------- configuration


def resolve(settings, species="hsa", base=REPO):
    return resolve_references(
        settings, species, bundled_dir=BUNDLED, base_dir=base, source="config c.yaml"
    )


def test_human_gets_the_bundled_references_in_order_without_y_rna():
    resolved = resolve(DEFAULTS)
    assert list(resolved) == ["rRNA", "tRNA", "snoRNA", "piRNA"]
    assert all(path.parent == BUNDLED for path in resolved.values())


def test_other_species_get_biotypes_only_from_given_files(tmp_path):
    assert resolve(DEFAULTS, species="bta") == {}
    (tmp_path / "y.fa").write_text(">RNY1\nACGT\n")
    settings = dict(DEFAULTS, references={"Y_RNA": "y.fa"})
    assert resolve(settings, species="bta", base=tmp_path) == {"Y_RNA": tmp_path / "y.fa"}


def test_a_given_reference_replaces_the_bundled_one(tmp_path):
    (tmp_path / "trna.fa").write_text(">t\nACGT\n")
    resolved = resolve(dict(DEFAULTS, references={"tRNA": "trna.fa"}), base=tmp_path)
    assert resolved["tRNA"] == tmp_path / "trna.fa"
    assert resolved["rRNA"].parent == BUNDLED


def test_empty_order_turns_biotypes_off():
    assert resolve({"order": [], "references": {}}) == {}


def test_missing_reference_file_is_named_with_its_key(tmp_path):
    settings = dict(DEFAULTS, references={"snoRNA": "nope.fa"})
    with pytest.raises(ExomirError, match=r"c\.yaml: key 'biotypes\.references\.snoRNA': .*nope"):
        resolve(settings, base=tmp_path)


def test_reference_for_a_biotype_outside_the_order_is_refused():
    settings = {"order": ["tRNA"], "references": {"snRNA": "x.fa"}}
    with pytest.raises(ExomirError, match="'biotypes.references.snRNA': snRNA is not in"):
        resolve(settings)


def test_biotype_named_like_a_fate_column_is_refused():
    with pytest.raises(ExomirError, match="'mature' is a read-fate column"):
        resolve({"order": ["mature"], "references": {}})


def test_mismatches_per_biotype_are_parsed_and_all_required():
    assert parse_mismatches("rRNA=1,tRNA=2", ["rRNA", "tRNA"]) == {"rRNA": 1, "tRNA": 2}
    with pytest.raises(ExomirError, match="no value for tRNA"):
        parse_mismatches("rRNA=1", ["rRNA", "tRNA"])
    with pytest.raises(ExomirError, match="not biotype=<number>"):
        parse_mismatches("rRNA=one", ["rRNA"])


# ---------------------------------------------------------------- read fates


def fate_row(unassigned: int, mature: int = 50) -> dict:
    row = dict.fromkeys(fate_rows.COLUMNS[1:], 0)
    row.update(mature=mature, unassigned=unassigned, no_adapter=3)
    row["input"] = mature + unassigned
    return row


def test_unassigned_is_split_into_biotypes_in_order_and_still_sums():
    columns = split_unassigned(fate_row(20), [("rRNA", 5), ("tRNA", 7)], "f.tsv", "S1")
    names = [name for name, _ in columns]
    assert names == [*fate_rows.COLUMNS[1:-2], "rRNA", "tRNA", "unassigned", "no_adapter"]
    values = dict(columns)
    assert (values["rRNA"], values["tRNA"], values["unassigned"]) == (5, 7, 8)
    assert sum(v for name, v in columns[1:-1]) == values["input"]


def test_more_biotype_reads_than_unassigned_is_an_error():
    with pytest.raises(ExomirError, match="sample S1: 30 biotype reads exceed the 20"):
        split_unassigned(fate_row(20), [("rRNA", 30)], "f.tsv", "S1")


def test_fate_file_of_another_sample_is_refused(tmp_path):
    fate_rows.write_fates(tmp_path / "fates.tsv", {"sample": "S2", **fate_row(4)})
    assert read_fate_row(tmp_path / "fates.tsv", "S2")["unassigned"] == 4
    with pytest.raises(ExomirError, match="must be sample S1"):
        read_fate_row(tmp_path / "fates.tsv", "S1")


# ---------------------------------------------------------------- cohort table


def write_sample_table(path: Path, sample: str, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text(f"biotype\tfeature\t{sample}\n" + "".join("\t".join(r) + "\n" for r in rows))
    return path


def test_merged_table_orders_rows_by_priority_then_name_and_fills_zeros(tmp_path):
    a = write_sample_table(
        tmp_path / "a.tsv", "A", [("tRNA", "tRNA-Gly-GCC_5p", "3"), ("rRNA", "rRNA-28S", "1.5")]
    )
    b = write_sample_table(
        tmp_path / "b.tsv", "B", [("piRNA", "piR-1", "2"), ("rRNA", "rRNA-18S", "4")]
    )
    rows = merge_biotype_counts(["B", "A"], [b, a], ["rRNA", "tRNA", "piRNA"], tmp_path / "m.tsv")
    assert rows == 4
    assert (tmp_path / "m.tsv").read_text().splitlines() == [
        "biotype\tfeature\tB\tA",
        "rRNA\trRNA-18S\t4\t0",
        "rRNA\trRNA-28S\t0\t1.5",
        "tRNA\ttRNA-Gly-GCC_5p\t0\t3",
        "piRNA\tpiR-1\t2\t0",
    ]


def test_merge_refuses_a_biotype_outside_the_order(tmp_path):
    a = write_sample_table(tmp_path / "a.tsv", "A", [("snRNA", "U1", "3")])
    with pytest.raises(ExomirError, match=r"a\.tsv: line 2: biotype snRNA is not in the order"):
        merge_biotype_counts(["A"], [a], ["rRNA"], tmp_path / "m.tsv")


def test_merge_refuses_a_file_of_another_sample(tmp_path):
    a = write_sample_table(tmp_path / "a.tsv", "A", [])
    with pytest.raises(ExomirError, match=r"a\.tsv: header must be"):
        merge_biotype_counts(["B"], [a], ["rRNA"], tmp_path / "m.tsv")


# ---------------------------------------------------------------- alignment and counting


def bowtie_build(fasta: Path, prefix: Path) -> None:
    prefix.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["bowtie-build", "-q", "--threads", "2", str(fasta), str(prefix)],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def bundled_indexes(tmp_path_factory):
    """The bundled references, prepared and indexed as the workflow does."""
    root = tmp_path_factory.mktemp("biotype_references")
    for biotype in BUNDLED_BIOTYPES:
        prepare_reference(biotype, BUNDLED / f"{biotype}.fa.gz", root / f"{biotype}.fa")
        bowtie_build(root / f"{biotype}.fa", root / "bowtie" / biotype)
    return root


def simulate_fragments(reference: Path, reads: int, seed: int) -> dict[str, int]:
    """sequence -> reads: fragments of random records at random positions, 16-35 nt."""
    rng = random.Random(seed)
    records = [r.sequence for r in read_fasta(reference)]
    fragments: dict[str, int] = {}
    drawn = 0
    while drawn < reads:
        sequence = rng.choice(records)
        length = rng.randint(16, min(35, len(sequence)))
        start = rng.randint(0, len(sequence) - length)
        copies = rng.randint(1, 4)
        fragment = sequence[start : start + length]
        fragments[fragment] = fragments.get(fragment, 0) + copies
        drawn += copies
    return fragments


def classify(tmp_path: Path, references: Path, fragments: dict[str, int], sample="S1"):
    """Run ``exomir biotypes classify`` on collapsed reads; return (fates, counts rows)."""
    write_collapsed(fragments, tmp_path / "unassigned.fa")
    unassigned = sum(fragments.values())
    fate_rows.write_fates(tmp_path / "fates.tsv", {"sample": sample, **fate_row(unassigned)})
    status = cli.main(
        [
            "biotypes",
            "classify",
            "--sample",
            sample,
            "--reads",
            str(tmp_path / "unassigned.fa"),
            "--fates",
            str(tmp_path / "fates.tsv"),
            "--order",
            ",".join(BUNDLED_BIOTYPES),
            "--references",
            *(str(references / f"{name}.fa") for name in BUNDLED_BIOTYPES),
            "--indexes",
            *(str(references / "bowtie" / name) for name in BUNDLED_BIOTYPES),
            "--mismatches",
            MISMATCHES,
            "--threads",
            "2",
            "--fates-out",
            str(tmp_path / "fates_biotypes.tsv"),
            "--counts-out",
            str(tmp_path / "biotypes.tsv"),
            "--unannotated-out",
            str(tmp_path / "unannotated.fa"),
            "--log",
            str(tmp_path / "biotypes.log"),
        ]
    )
    assert status == 0
    with open(tmp_path / "fates_biotypes.tsv") as handle:
        fates = next(csv.DictReader(handle, delimiter="\t"))
    with open(tmp_path / "biotypes.tsv") as handle:
        counts = list(csv.DictReader(handle, delimiter="\t"))
    return fates, counts


@pytest.fixture(scope="module")
def mixed_sample(tmp_path_factory, bundled_indexes):
    """One sample: fragments of every bundled biotype plus random inserts, classified once.

    Returns (fate row, counts rows, simulated reads per origin, output directory).
    """
    workdir = tmp_path_factory.mktemp("mixed_sample")
    fragments: dict[str, int] = {}
    truth: dict[str, int] = {}
    for seed, biotype in enumerate(BUNDLED_BIOTYPES):
        drawn = simulate_fragments(bundled_indexes / f"{biotype}.fa", 1000, seed=seed)
        truth[biotype] = sum(drawn.values())
        for sequence, reads in drawn.items():
            fragments[sequence] = fragments.get(sequence, 0) + reads
    rng = random.Random(5)
    random_inserts = {"".join(rng.choice("ACGT") for _ in range(24)): 2 for _ in range(300)}
    truth["random"] = sum(random_inserts.values())
    fragments.update(random_inserts)
    fates, counts = classify(workdir, bundled_indexes, fragments)
    return fates, counts, truth, workdir


@needs_bowtie
@pytest.mark.parametrize("biotype", BUNDLED_BIOTYPES)
def test_simulated_fragments_land_in_their_biotype(mixed_sample, biotype):
    fates, _, truth, _ = mixed_sample
    assert int(fates[biotype]) >= 0.95 * truth[biotype], (biotype, fates)


@needs_bowtie
def test_fates_with_biotypes_still_partition_the_input(mixed_sample):
    fates, _, truth, _ = mixed_sample
    partition = [c for c in fates if c not in ("sample", "input", "no_adapter")]
    assert partition[-5:] == [*BUNDLED_BIOTYPES, "unassigned"]
    assert sum(int(fates[c]) for c in partition) == int(fates["input"])


@needs_bowtie
@pytest.mark.parametrize("biotype", BUNDLED_BIOTYPES)
def test_feature_counts_add_up_to_the_biotype_column(mixed_sample, biotype):
    fates, counts, _, _ = mixed_sample
    in_counts = sum(float(row["S1"]) for row in counts if row["biotype"] == biotype)
    # per-feature shares are written to 4 decimals
    assert in_counts == pytest.approx(int(fates[biotype]), abs=1e-4 * len(counts))


@needs_bowtie
def test_reads_from_no_biotype_stay_unassigned_and_are_kept(mixed_sample):
    fates, _, truth, workdir = mixed_sample
    unassigned = int(fates["unassigned"])
    assert 0.95 * truth["random"] <= unassigned <= truth["random"] + 0.05 * sum(truth.values())
    lines = (workdir / "unannotated.fa").read_text().splitlines()
    kept = sum(int(line.rsplit("_x", 1)[1]) for line in lines if line.startswith(">"))
    assert kept == int(fates["unassigned"])


@needs_bowtie
def test_trna_fragments_are_counted_by_family_and_position(tmp_path, bundled_indexes):
    trnas = list(read_fasta(bundled_indexes / "tRNA.fa"))
    gly = next(r for r in trnas if r.description == "tRNA-Gly-GCC")
    five_prime, three_prime = gly.sequence[:30], gly.sequence[-22:]  # the latter ends in CCA
    _, counts = classify(tmp_path, bundled_indexes, {five_prime: 10, three_prime: 6})
    by_feature = {row["feature"]: float(row["S1"]) for row in counts}
    assert sum(v for f, v in by_feature.items() if f.endswith("_5p")) == 10
    assert sum(v for f, v in by_feature.items() if f.endswith("_3p")) == 6
    assert by_feature.get("tRNA-Gly-GCC_5p", 0) > 0
    assert not any(f.endswith("_internal") for f in by_feature)


@needs_bowtie
def test_scratch_of_a_killed_attempt_is_removed_and_none_is_left(tmp_path, bundled_indexes):
    stale = tmp_path / ".biotypes.killed"  # what SIGKILL leaves: cleanup never ran
    stale.mkdir()
    (stale / "after_rRNA.fa").write_text(">1_x5\nACGTACGTACGTACGTACGT\n")
    trna = next(iter(read_fasta(bundled_indexes / "tRNA.fa")))
    classify(tmp_path, bundled_indexes, {trna.sequence[:30]: 4})
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@needs_bowtie
def test_read_on_two_features_is_split_equally(tmp_path):
    shared = "GATTACAGATTACAGGCCTTAAGGCC"
    reference = tmp_path / "sno.fa"
    reference.write_text(f">a SNORD1\nTTTT{shared}TTTT\n>b SNORD2\nCCCC{shared}CCCC\n")
    prepare_reference("snoRNA", reference, tmp_path / "ref" / "snoRNA.fa")
    bowtie_build(tmp_path / "ref" / "snoRNA.fa", tmp_path / "ref" / "bowtie" / "snoRNA")
    write_collapsed({shared: 3}, tmp_path / "reads.fa")
    align(
        tmp_path / "reads.fa",
        str(tmp_path / "ref" / "bowtie" / "snoRNA"),
        tmp_path / "ref" / "snoRNA.fa",
        tmp_path / "sno.bam",
        tmp_path / "left.fa",
        tmp_path / "log",
    )
    counts = count_alignments(
        tmp_path / "sno.bam", "snoRNA", load_features(tmp_path / "ref" / "snoRNA.fa")
    )
    assert counts.reads == 3
    assert counts.features == {"SNORD1": 1.5, "SNORD2": 1.5}


@needs_bowtie
def test_reads_that_do_not_match_the_fate_table_are_refused(tmp_path, bundled_indexes):
    write_collapsed({"ACGTACGTACGTACGTAC": 12}, tmp_path / "unassigned.fa")
    fate_rows.write_fates(tmp_path / "fates.tsv", {"sample": "S1", **fate_row(10)})
    with pytest.raises(ExomirError, match=r"unassigned\.fa: sample S1: holds 12 reads but"):
        classify_sample(
            "S1",
            tmp_path / "unassigned.fa",
            tmp_path / "fates.tsv",
            [],
            fates_out=tmp_path / "f.tsv",
            counts_out=tmp_path / "c.tsv",
            unannotated_out=tmp_path / "u.fa",
            log=tmp_path / "log",
        )
    assert not (tmp_path / "f.tsv").exists()


# ---------------------------------------------------------------- the workflow (slow)


def simulated_library(path: Path, seed: int = 11) -> dict[str, int]:
    """TruSeq reads: fragments of each bundled biotype, real miRNAs, random inserts."""
    rng = random.Random(seed)
    inserts: list[str] = []
    truth: dict[str, int] = {}
    for biotype in BUNDLED_BIOTYPES:
        records = [r.sequence for r in read_fasta(BUNDLED / f"{biotype}.fa.gz")]
        for _ in range(300):
            sequence = rng.choice(records)
            length = rng.randint(16, min(35, len(sequence)))
            start = rng.randint(0, len(sequence) - length)
            inserts.append(sequence[start : start + length])
        truth[biotype] = 300
    matures = [
        r.sequence
        for r in read_fasta(REPO / "resources/mirbase/mature.fa.gz")
        if r.name.startswith("hsa-")
    ][:80]
    inserts += [rng.choice(matures) for _ in range(400)]
    inserts += ["".join(rng.choice("ACGT") for _ in range(rng.randint(18, 30))) for _ in range(200)]
    truth["mature"], truth["random"] = 400, 200
    with gzip.open(path, "wt") as handle:
        for i, insert in enumerate(inserts):
            read = insert + TRUSEQ_ADAPTER + "ATCTCGTATG"
            handle.write(f"@r{i}\n{read}\n+\n{'I' * len(read)}\n")
    return truth


def run_workflow(workdir: Path, extra_config: str) -> Path:
    (workdir / "samples.tsv").write_text("sample\tfastq\nsim\tsim.fastq.gz\n")
    (workdir / "config.yaml").write_text(
        "samples: samples.tsv\nprotocol: illumina\nspecies: hsa\nmax_length: 35\n" + extra_config
    )
    targets = ["results/counts/mature_counts.tsv", "results/qc/read_fates.tsv"]
    snakemake(workdir, "--configfile", str(workdir / "config.yaml"), "--cores", "2", *targets)
    return workdir


@pytest.fixture(scope="module")
def simulated_runs(tmp_path_factory):
    """The same simulated library with biotypes (defaults) and without (order: [])."""
    runs = {}
    for name, extra in (("on", ""), ("off", "biotypes: {order: []}\n")):
        workdir = tmp_path_factory.mktemp(f"biotypes_{name}")
        truth = simulated_library(workdir / "sim.fastq.gz")
        runs[name] = run_workflow(workdir, extra)
    return runs, truth


def read_fates(run: Path) -> tuple[list[str], dict[str, str]]:
    with open(run / "results/qc/read_fates.tsv") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return list(rows[0]), rows[0]


@pytest.mark.slow
@pytest.mark.e2e
def test_workflow_read_fates_have_one_column_per_biotype_in_order(simulated_runs):
    runs, truth = simulated_runs
    header, row = read_fates(runs["on"])
    assert header[header.index("hairpin_only") + 1 :] == [
        *BUNDLED_BIOTYPES,
        "unassigned",
        "no_adapter",
    ]
    assert sum(int(row[c]) for c in header[2:-1]) == int(row["input"])
    for biotype in BUNDLED_BIOTYPES:
        assert int(row[biotype]) >= 0.95 * truth[biotype], (biotype, row)
    off_header, _ = read_fates(runs["off"])
    assert not set(BUNDLED_BIOTYPES) & set(off_header)


@pytest.mark.slow
@pytest.mark.e2e
def test_mirna_counts_do_not_change_when_biotypes_run(simulated_runs):
    runs, _ = simulated_runs
    on = (runs["on"] / "results/counts/mature_counts.tsv").read_bytes()
    off = (runs["off"] / "results/counts/mature_counts.tsv").read_bytes()
    assert on == off
    _, row_on = read_fates(runs["on"])
    _, row_off = read_fates(runs["off"])
    assert row_on["mature"] == row_off["mature"] and int(row_on["mature"]) >= 390


@pytest.mark.slow
@pytest.mark.e2e
def test_bovine_serum_and_plasma_compositions_are_plausible(tmp_path):
    # No bovine biotype references exist here: the human ones stand in (conserved rRNA/tRNA).
    for name in ("serum", "plasma"):
        shutil.copy(DATA / "biotypes" / f"bovine_{name}_2k.fastq.gz", tmp_path)
    (tmp_path / "samples.tsv").write_text(
        "sample\tfastq\nserum\tbovine_serum_2k.fastq.gz\nplasma\tbovine_plasma_2k.fastq.gz\n"
    )
    config = {
        "samples": "samples.tsv",
        "protocol": "trimmed",
        "species": "bta",
        "max_length": 45,  # keep the 30-35 nt tRNA halves that fill serum libraries
        "biotypes": {"references": {b: str(BUNDLED / f"{b}.fa.gz") for b in BUNDLED_BIOTYPES}},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    targets = ["results/qc/read_fates.tsv", "results/counts/biotype_counts.tsv"]
    snakemake(tmp_path, "--configfile", str(tmp_path / "config.yaml"), "--cores", "2", *targets)
    with open(tmp_path / "results/qc/read_fates.tsv") as handle:
        fates = {row["sample"]: row for row in csv.DictReader(handle, delimiter="\t")}
    serum, plasma = fates["serum"], fates["plasma"]
    # Serum: 5' tRNA halves dominate; plasma: miRNAs, then rRNA fragments.
    assert int(serum["tRNA"]) > 0.5 * int(serum["input"])
    assert int(plasma["mature"]) > 0.5 * int(plasma["input"])
    assert int(plasma["rRNA"]) > int(plasma["tRNA"])
    for row in (serum, plasma):
        assert int(row["unassigned"]) < 0.3 * int(row["input"])
    with open(tmp_path / "results/counts/biotype_counts.tsv") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    top = max(rows, key=lambda r: float(r["serum"]))
    assert top["biotype"] == "tRNA" and top["feature"].endswith("_5p")


# --- long fragments (> max_length) through the biotype step --------------------------


@pytest.fixture(scope="module")
def trna_halves(tmp_path_factory, bundled_indexes):
    """A 75-nt TruSeq library of tRNA halves (31-40 nt) and miRNAs, trimmed with the default
    16-30 nt window and classified with its long inserts; (fates, truth, lengths, folder)."""
    from exomir.align import _empty_bam
    from tools.simulate import read_truth, simulate_library

    work = tmp_path_factory.mktemp("trna_halves")
    mirbase = REPO / "resources" / "mirbase"
    simulated = simulate_library(
        mirbase / "mature.fa.gz",
        mirbase / "hairpin.fa.gz",
        "hsa",
        6000,
        "illumina",
        11,
        fastq_out=work / "halves.fastq.gz",
        truth_out=work / "truth.tsv",
        read_length=75,
        trna_fa=DATA / "simulate" / "tRNA.fa",
        trna_lengths=(31, 40),
        composition={"mirna": 0.3, "trna": 0.6, "dimer": 0.1},
    )
    trim = [
        "trim", "--sample", "S1", "--fastq", str(simulated.fastq), "--protocol", "illumina",
        "--protocol-out", str(work / "protocol.json"), "--inserts", str(work / "inserts.fa"),
        "--stats", str(work / "trim_stats.json"), "--long-inserts", str(work / "long.fa"),
    ]  # fmt: skip
    assert cli.main(trim) == 0
    stats = tables.load_trim_stats(work / "trim_stats.json", "S1")
    # No hairpin step here: every passing insert is "unassigned" for the biotype step.
    row = fate_rows.sample_fates("S1", stats, spikein=0, mature=0, hairpin_only=0, source="test")
    fate_rows.write_fates(work / "fates.tsv", row)
    (work / "spikein.fa").write_text(">spike\nACGTACGTACGTACGTACGTAC\n")
    _empty_bam(work / "spikein.fa", work / "spikein.bam")
    classify = [
        "biotypes", "classify", "--sample", "S1", "--reads", str(work / "inserts.fa"),
        "--fates", str(work / "fates.tsv"), "--order", ",".join(BUNDLED_BIOTYPES),
        "--references", *(str(bundled_indexes / f"{name}.fa") for name in BUNDLED_BIOTYPES),
        "--indexes", *(str(bundled_indexes / "bowtie" / name) for name in BUNDLED_BIOTYPES),
        "--mismatches", MISMATCHES, "--fates-out", str(work / "fates_biotypes.tsv"),
        "--counts-out", str(work / "biotypes.tsv"), "--unannotated-out", str(work / "un.fa"),
        "--log", str(work / "biotypes.log"), "--long-reads", str(work / "long.fa"),
        "--inserts", str(work / "inserts.fa"), "--spikein-bam", str(work / "spikein.bam"),
        "--lengths-out", str(work / "lengths.tsv"),
    ]  # fmt: skip
    assert cli.main(classify) == 0
    with open(work / "fates_biotypes.tsv") as handle:
        fates = next(csv.DictReader(handle, delimiter="\t"))
    with open(work / "lengths.tsv") as handle:
        lengths = list(csv.DictReader(handle, delimiter="\t"))
    return fates, read_truth(simulated.truth), lengths, work, stats


@needs_bowtie
def test_trna_halves_longer_than_max_length_land_in_the_trna_fate(trna_halves):
    fates, truth, _, _, stats = trna_halves
    trna_reads = int(truth.loc[truth["origin"] == "trna", "reads"].sum())
    assert stats["too_long"] >= 0.95 * trna_reads  # all of them are 31-40 nt
    print(f"\ntRNA halves 31-40 nt: {trna_reads} reads, tRNA fate {fates['tRNA']}, "
          f"too_long left {fates['too_long']}")  # fmt: skip
    assert int(fates["tRNA"]) >= 0.95 * trna_reads
    assert int(fates["too_long"]) <= 0.05 * trna_reads


@needs_bowtie
def test_fates_with_long_fragments_still_partition_the_input(trna_halves):
    fates, truth, _, _, _ = trna_halves
    partition = [c for c in fates if c not in ("sample", "input", "no_adapter")]
    assert sum(int(fates[c]) for c in partition) == int(fates["input"]) == int(truth["reads"].sum())


@needs_bowtie
def test_insert_lengths_by_fate_sum_to_each_fate(trna_halves):
    fates, _, lengths, work, _ = trna_halves
    by_fate: dict[str, int] = {}
    for row in lengths:
        by_fate[row["fate"]] = by_fate.get(row["fate"], 0) + int(row["reads"])
    assert by_fate["tRNA"] == int(fates["tRNA"])
    assert by_fate.get("too_long", 0) == int(fates["too_long"])
    assert by_fate.get("unassigned", 0) == int(fates["unassigned"])
    trna_lengths = {int(r["length"]) for r in lengths if r["fate"] == "tRNA"}
    assert min(trna_lengths) >= 29 and max(trna_lengths) <= 41  # 31-40 nt, +-1 for errors
    (work / "lengths.list.tsv").write_text(f"S1\t{work / 'lengths.tsv'}\n")
    assert cli.main(
        [
            "biotypes", "merge-lengths", "--list", str(work / "lengths.list.tsv"),
            "--out", str(work / "merged.tsv"), "--multiqc", str(work / "lengths_mqc.json"),
        ]
    ) == 0  # fmt: skip
    import json

    section = json.loads((work / "lengths_mqc.json").read_text())
    assert section["plot_type"] == "linegraph"
    assert sum(section["data"]["tRNA"].values()) == int(fates["tRNA"])


@pytest.mark.parametrize(
    ("text", "total"),
    [
        (">1_x3\nACGT\n>2_x20\nAC\n", 23),  # plain: the fast path
        (">1_x3\r\nACGT\r\n>2_x20\r\nAC\r\n", 23),  # CR line ends: the line-by-line path
        (">1_x3 \nACGT\n>2_x20\nAC\n", 23),  # trailing blank after the count
        ("", 0),
    ],
)
def test_collapsed_total_sums_the_header_counts(tmp_path, text, total):
    path = tmp_path / "reads.fa"
    path.write_bytes(text.encode())
    assert collapsed_total(path) == total


def test_collapsed_total_names_a_header_without_count(tmp_path):
    path = tmp_path / "reads.fa"
    path.write_bytes(b">1_x3\nACGT\n>plain\nAC\n")
    with pytest.raises(ExomirError, match=r"reads.fa: line 3: .*no '_x<count>' suffix"):
        collapsed_total(path)


def test_leftover_reads_are_written_in_canonical_order_whatever_order_they_came_in(tmp_path):
    # In rank order (what align leaves): copied as it is; shuffled (bowtie -p): sorted.
    records = [("1_x9", "ACGTACGTACGTACGTAA"), ("2_x4", "ACGTACGTACGTACGTCC"),
               ("3_x4", "ACGTACGTACGTACGTGG"), ("4_x1", "TTTTACGTACGTACGTAC")]  # fmt: skip
    in_order = "".join(f">{name}\n{sequence}\n" for name, sequence in records)
    shuffled = "".join(f">{name}\n{sequence}\n" for name, sequence in records[::-1])
    for text in (in_order, shuffled):
        source, out = tmp_path / "in.fa", tmp_path / "out.fa"
        source.write_text(text)
        assert write_sorted_collapsed(source, out) == 18
        assert out.read_text() == in_order
