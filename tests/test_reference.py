"""Species references from miRBase: parsing, mature placement, GFF3 coordinates, spike-ins."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from conftest import reference_output_args
from exomir.cli import main
from exomir.errors import ExomirError
from exomir.reference import (
    DEFAULT_SPIKEINS,
    FastaRecord,
    build_reference,
    locate_matures,
    read_fasta,
    read_mirbase_gff3,
    species_records,
)

BUNDLED = Path(__file__).resolve().parents[1] / "resources" / "mirbase"
MATURE = BUNDLED / "mature.fa.gz"
HAIRPIN = BUNDLED / "hairpin.fa.gz"
GFF3 = BUNDLED / "hsa.gff3.gz"
OUTPUTS = ("hairpin.fa", "mature.fa", "spikein.fa", "mature_positions.tsv", "reference.json")

# hsa-mir-21 and its two arms as miRBase writes them (RNA); the GFF3 puts the primary at
# chr17:59841266-59841337 (+), miR-21-5p at 59841273-59841294, miR-21-3p at 59841311-59841331.
MIR21 = "UGUCGGGUAGCUUAUCAGACUGAUGUUGACUGUUGAAUCUCAUGGCAACACCAGUCGAUGGGCUGUCUGACA"
MIR21_5P = "UAGCUUAUCAGACUGAUGUUGA"
MIR21_3P = "CAACACCAGUCGAUGGGCUGU"
CEL_39 = "UCACCGGGUGUAAAUCAGCUUG"


def wrap(sequence: str, width: int) -> str:
    return "\n".join(sequence[i : i + width] for i in range(0, len(sequence), width))


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def tiny_short_headers(tmp_path: Path) -> tuple[Path, Path]:
    """miR-21 in the short-header, one-line style of the bundled hairpin file."""
    hairpin = write(tmp_path / "hairpin_short.fa", f">hsa-mir-21 MI0000077\n{MIR21}\n")
    mature = write(
        tmp_path / "mature_short.fa",
        f">hsa-miR-21-5p MIMAT0000076\n{MIR21_5P}\n>hsa-miR-21-3p MIMAT0004494\n{MIR21_3P}\n"
        f">cel-miR-39-3p MIMAT0000010\n{CEL_39}\n",
    )
    return mature, hairpin


@pytest.fixture
def tiny_long_headers(tmp_path: Path) -> tuple[Path, Path]:
    """The same records in miRBase's own style: species in the header, wrapped sequences."""
    hairpin = write(
        tmp_path / "hairpin_long.fa",
        f">hsa-mir-21 MI0000077 Homo sapiens miR-21 stem-loop\n{wrap(MIR21, 60)}\n",
    )
    mature = write(
        tmp_path / "mature_long.fa",
        f">hsa-miR-21-5p MIMAT0000076 Homo sapiens miR-21-5p\n{wrap(MIR21_5P, 10)}\n"
        f">hsa-miR-21-3p MIMAT0004494 Homo sapiens miR-21-3p\n{wrap(MIR21_3P, 10)}\n\n"
        f">cel-miR-39-3p MIMAT0000010 Caenorhabditis elegans miR-39-3p\n{wrap(CEL_39, 7)}\n",
    )
    return mature, hairpin


@pytest.fixture(scope="module")
def hsa() -> tuple[list[FastaRecord], list[FastaRecord]]:
    matures = species_records(read_fasta(MATURE), "hsa")
    hairpins = species_records(read_fasta(HAIRPIN), "hsa")
    return matures, hairpins


@pytest.fixture(scope="module")
def hsa_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("hsa") / "reference"
    build_reference(MATURE, HAIRPIN, "hsa", None, outdir, gff3=GFF3, release="22.1")
    return outdir


def positions(outdir: Path) -> list[dict[str, str]]:
    lines = (outdir / "mature_positions.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]


def hairpins_of(placements, mature: str) -> set[str]:
    return {p.hairpin for p in placements if p.mature == mature}


# --- parsing ---------------------------------------------------------------------------


def test_both_header_styles_and_wrapping_parse_to_the_same_records(
    tiny_short_headers, tiny_long_headers
):
    for short_file, long_file in zip(tiny_short_headers, tiny_long_headers, strict=True):
        short = [(r.name, r.sequence) for r in read_fasta(short_file)]
        long = [(r.name, r.sequence) for r in read_fasta(long_file)]
        assert short == long
        assert all("U" not in sequence for _, sequence in long)


def test_text_before_the_first_header_is_not_fasta(tmp_path):
    path = write(tmp_path / "bad.fa", "ACGT\n>x\nACGT\n")
    with pytest.raises(ExomirError, match="bad.fa: not FASTA"):
        list(read_fasta(path))


# --- placing matures on hairpins ---------------------------------------------------------


def test_let_7a_5p_is_placed_on_all_three_let_7a_hairpins(hsa):
    placements, _ = locate_matures(*hsa)
    assert {"hsa-let-7a-1", "hsa-let-7a-2", "hsa-let-7a-3"} <= hairpins_of(
        placements, "hsa-let-7a-5p"
    )


def test_mir_1_3p_is_placed_on_both_mir_1_hairpins(hsa):
    placements, _ = locate_matures(*hsa)
    assert {"hsa-mir-1-1", "hsa-mir-1-2"} <= hairpins_of(placements, "hsa-miR-1-3p")


def test_both_arms_of_mir_21_sit_where_mirbase_puts_them(hsa):
    placements, _ = locate_matures(*hsa)
    spans = {(p.mature, p.start, p.end) for p in placements if p.hairpin == "hsa-mir-21"}
    assert spans == {("hsa-miR-21-5p", 7, 29), ("hsa-miR-21-3p", 45, 66)}


def test_every_placement_is_an_exact_substring_of_its_hairpin(hsa):
    matures, hairpins = hsa
    placements, _ = locate_matures(matures, hairpins)
    sequence = {h.name: h.sequence for h in hairpins}
    assert placements
    assert all(sequence[p.hairpin][p.start : p.end] == p.sequence for p in placements)


@pytest.mark.parametrize("species", ["rno", "cel"])
def test_seed_index_finds_what_a_brute_force_search_finds(species):
    matures = species_records(read_fasta(MATURE), species)
    hairpins = species_records(read_fasta(HAIRPIN), species)
    expected = set()
    for hairpin in hairpins:
        for mature in matures:
            start = hairpin.sequence.find(mature.sequence)
            if start >= 0:
                expected.add((hairpin.name, mature.name, start))
    placements, _ = locate_matures(matures, hairpins)
    assert {(p.hairpin, p.mature, p.start) for p in placements} == expected


def test_placements_follow_hairpin_order_then_start(hsa):
    matures, hairpins = hsa
    placements, _ = locate_matures(matures, hairpins)
    order = {h.name: i for i, h in enumerate(hairpins)}
    keys = [(order[p.hairpin], p.start) for p in placements]
    assert keys == sorted(keys)


def test_a_mature_on_no_hairpin_is_reported_unplaced():
    hairpins = [FastaRecord("x-mir-1", "", "AAAACCCCGGGGTTTT")]
    matures = [
        FastaRecord("x-miR-1-5p", "", "CCCCGGGG"),
        FastaRecord("x-miR-9", "", "GGGGGGGGG"),
        FastaRecord("x-miR-0", "", ""),
    ]
    placements, unplaced = locate_matures(matures, hairpins)
    assert [(p.mature, p.start, p.end) for p in placements] == [("x-miR-1-5p", 4, 12)]
    assert unplaced == ["x-miR-9", "x-miR-0"]


# --- build_reference outputs -------------------------------------------------------------


def test_outputs_are_uppercase_dna_one_line_with_name_only_headers(hsa_reference):
    for name in ("hairpin.fa", "mature.fa", "spikein.fa"):
        lines = (hsa_reference / name).read_text().splitlines()
        headers, sequences = lines[0::2], lines[1::2]
        assert all(h.startswith(">") and " " not in h for h in headers)
        assert all(s and set(s) <= set("ACGTN") for s in sequences)


def test_species_files_keep_input_order_and_only_the_species(hsa_reference, hsa):
    matures, hairpins = hsa
    for name, records in (("hairpin.fa", hairpins), ("mature.fa", matures)):
        written = list(read_fasta(hsa_reference / name))
        assert [r.name for r in written] == [r.name for r in records]
        assert [r.sequence for r in written] == [r.sequence for r in records]


def test_positions_table_matches_the_written_hairpins(hsa_reference):
    rows = positions(hsa_reference)
    hairpin = {r.name: r.sequence for r in read_fasta(hsa_reference / "hairpin.fa")}
    assert rows
    for row in rows:
        assert hairpin[row["hairpin"]][int(row["start"]) : int(row["end"])] == row["sequence"]


def test_reference_json_records_inputs_and_counts(hsa_reference):
    summary = json.loads((hsa_reference / "reference.json").read_text())
    assert summary["species"] == "hsa"
    assert summary["release"] == "22.1"
    assert summary["positions_from"] == "gff3"
    mature_input = summary["inputs"]["mature"]
    assert mature_input["sha256"] == hashlib.sha256(MATURE.read_bytes()).hexdigest()
    assert mature_input["md5"] == hashlib.md5(MATURE.read_bytes()).hexdigest()
    assert mature_input["records"] == sum(1 for _ in read_fasta(MATURE))
    assert set(summary["inputs"]) == {"mature", "hairpin", "gff3"}
    assert summary["hairpins"] == len(list(read_fasta(hsa_reference / "hairpin.fa")))
    assert summary["matures"] == len(list(read_fasta(hsa_reference / "mature.fa")))
    assert summary["placements"] == len(positions(hsa_reference))
    assert summary["spikeins"] == list(DEFAULT_SPIKEINS)


def test_two_builds_are_byte_identical(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    for outdir in (first, second):
        build_reference(MATURE, HAIRPIN, "mmu", None, outdir, release="22.1")
    for name in OUTPUTS:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_both_header_styles_build_identical_references(
    tmp_path, tiny_short_headers, tiny_long_headers
):
    build_reference(*tiny_short_headers, "hsa", ["cel-miR-39-3p"], tmp_path / "short")
    build_reference(*tiny_long_headers, "hsa", ["cel-miR-39-3p"], tmp_path / "long")
    for name in ("hairpin.fa", "mature.fa", "spikein.fa", "mature_positions.tsv"):
        assert (tmp_path / "short" / name).read_bytes() == (tmp_path / "long" / name).read_bytes()
    rows = positions(tmp_path / "long")
    assert [(r["mature"], r["start"], r["end"]) for r in rows] == [
        ("hsa-miR-21-5p", "7", "29"),
        ("hsa-miR-21-3p", "45", "66"),
    ]


def test_unknown_species_error_names_the_file_and_close_species(tmp_path):
    with pytest.raises(ExomirError, match=r"hairpin\.fa\.gz: no records of species 'hsx'.*hsa"):
        build_reference(MATURE, HAIRPIN, "hsx", None, tmp_path / "out")
    assert not (tmp_path / "out" / "reference.json").exists()


def test_missing_input_file_is_reported(tmp_path):
    with pytest.raises(ExomirError, match="absent.fa: no such file"):
        build_reference(tmp_path / "absent.fa", HAIRPIN, "hsa", None, tmp_path / "out")


def test_duplicate_record_names_are_refused(tmp_path):
    hairpin = write(tmp_path / "hairpin.fa", f">hsa-mir-21\n{MIR21}\n>hsa-mir-21\n{MIR21}\n")
    with pytest.raises(ExomirError, match="hairpin.fa: record hsa-mir-21 occurs more than once"):
        build_reference(MATURE, hairpin, "hsa", [], tmp_path / "out")


# --- spike-ins ---------------------------------------------------------------------------


def test_default_spikeins_come_from_the_full_mature_file(hsa_reference):
    cel = {r.name: r.sequence for r in species_records(read_fasta(MATURE), "cel")}
    written = [(r.name, r.sequence) for r in read_fasta(hsa_reference / "spikein.fa")]
    assert written == [(name, cel[name]) for name in DEFAULT_SPIKEINS]


def test_unknown_spikein_names_itself_and_the_file(tmp_path):
    with pytest.raises(ExomirError, match=r"mature\.fa\.gz: spike-in 'cel-miR-39' is not a"):
        build_reference(MATURE, HAIRPIN, "hsa", ["cel-miR-39"], tmp_path / "out")


def test_spikein_of_the_species_itself_is_kept_as_spikein_only(tmp_path):
    summary = build_reference(MATURE, HAIRPIN, "cel", None, tmp_path / "cel")
    assert summary["matures_taken_as_spikeins"] == list(DEFAULT_SPIKEINS)
    mature_names = {r.name for r in read_fasta(tmp_path / "cel" / "mature.fa")}
    assert not mature_names & set(DEFAULT_SPIKEINS)
    assert not {row["mature"] for row in positions(tmp_path / "cel")} & set(DEFAULT_SPIKEINS)
    assert [r.name for r in read_fasta(tmp_path / "cel" / "spikein.fa")] == list(DEFAULT_SPIKEINS)


def test_spikein_fasta_records_are_added_after_named_spikeins(tmp_path):
    extra = write(tmp_path / "spikes.fa", ">synthetic-1 my spike\nacguacguacguacguacgu\n")
    summary = build_reference(
        MATURE, HAIRPIN, "hsa", ["cel-miR-39-3p"], tmp_path / "out", spikein_fasta=extra
    )
    written = [(r.name, r.sequence) for r in read_fasta(tmp_path / "out" / "spikein.fa")]
    assert written[1] == ("synthetic-1", "ACGTACGTACGTACGTACGT")
    assert summary["spikeins"] == ["cel-miR-39-3p", "synthetic-1"]
    assert summary["inputs"]["spikein_fasta"]["records"] == 1


def test_spikein_fasta_contradicting_a_named_spikein_is_refused(tmp_path):
    extra = write(tmp_path / "spikes.fa", ">cel-miR-39-3p\nACGTACGTACGTACGTACGT\n")
    with pytest.raises(ExomirError, match="spikes.fa: spike-in cel-miR-39-3p differs"):
        build_reference(MATURE, HAIRPIN, "hsa", None, tmp_path / "out", spikein_fasta=extra)


def test_spikein_identical_to_an_endogenous_mature_is_a_warning(tmp_path):
    extra = write(tmp_path / "spikes.fa", f">fake-spike\n{MIR21_5P}\n")
    summary = build_reference(MATURE, HAIRPIN, "hsa", [], tmp_path / "out", spikein_fasta=extra)
    assert summary["warnings"] == ["spike-in fake-spike has the same sequence as hsa-miR-21-5p"]


def test_no_spikeins_gives_an_empty_spikein_file(tmp_path):
    summary = build_reference(MATURE, HAIRPIN, "hsa", [], tmp_path / "out")
    assert summary["spikeins"] == []
    assert (tmp_path / "out" / "spikein.fa").read_text() == ""


# --- GFF3 coordinates --------------------------------------------------------------------


def test_gff3_positions_agree_with_sequence_positions_on_hsa(hsa_reference):
    check = json.loads((hsa_reference / "reference.json").read_text())["gff3_check"]
    assert check["disagree"] == 0
    assert check["not_in_fasta"] == 0
    assert check["agree"] + check["relocated"] == check["loci"] > 2800


def test_gff3_relocates_only_matures_that_occur_twice_on_their_hairpin(hsa_reference, hsa):
    matures, hairpins = hsa
    by_sequence, _ = locate_matures(matures, hairpins)
    sequence_start = {(p.hairpin, p.mature): p.start for p in by_sequence}
    hairpin = {h.name: h.sequence for h in hairpins}
    moved = [
        row
        for row in positions(hsa_reference)
        if sequence_start[(row["hairpin"], row["mature"])] != int(row["start"])
    ]
    assert moved  # hsa-mir-3142 and hsa-mir-4487 hold their mature twice
    for row in moved:
        assert hairpin[row["hairpin"]].count(row["sequence"]) >= 2


def test_gff3_on_the_minus_strand_counts_from_the_primary_end(tmp_path):
    gff3 = write(
        tmp_path / "minus.gff3",
        "##gff-version 3\n"
        "chrX\t.\tmiRNA_primary_transcript\t1000\t1071\t.\t-\t.\tID=MI0000077;Name=hsa-mir-21\n"
        "chrX\t.\tmiRNA\t1043\t1064\t.\t-\t.\tID=M1;Name=hsa-miR-21-5p;Derives_from=MI0000077\n"
        "chrX\t.\tmiRNA\t1006\t1026\t.\t-\t.\tID=M2;Name=hsa-miR-21-3p;Derives_from=MI0000077\n",
    )
    loci = read_mirbase_gff3(gff3)
    assert [(x.hairpin, x.mature, x.start, x.end) for x in loci] == [
        ("hsa-mir-21", "hsa-miR-21-5p", 7, 29),
        ("hsa-mir-21", "hsa-miR-21-3p", 45, 66),
    ]


def test_derives_from_an_accession_finds_the_primary_that_contains_the_mature(tmp_path):
    gff3 = write(
        tmp_path / "alias.gff3",
        "chr9\t.\tmiRNA_primary_transcript\t100\t180\t.\t+\t.\tID=MI1;Alias=MI1;Name=x-mir-1\n"
        "chr9\t.\tmiRNA_primary_transcript\t900\t980\t.\t+\t.\tID=MI1_2;Alias=MI1;Name=x-mir-1\n"
        "chr9\t.\tmiRNA\t910\t931\t.\t+\t.\tID=M1_1;Name=x-miR-1;Derives_from=MI1\n",
    )
    (locus,) = read_mirbase_gff3(gff3)
    assert (locus.hairpin, locus.start, locus.end) == ("x-mir-1", 10, 32)


def test_gff3_contradicting_the_sequence_is_a_warning_and_the_sequence_wins(
    tmp_path, tiny_short_headers
):
    gff3 = write(
        tmp_path / "shifted.gff3",
        "chr17\t.\tmiRNA_primary_transcript\t100\t171\t.\t+\t.\tID=MI0000077;Name=hsa-mir-21\n"
        "chr17\t.\tmiRNA\t110\t131\t.\t+\t.\tID=M1;Name=hsa-miR-21-5p;Derives_from=MI0000077\n",
    )
    summary = build_reference(*tiny_short_headers, "hsa", [], tmp_path / "out", gff3=gff3)
    assert summary["gff3_check"]["disagree"] == 1
    assert len(summary["warnings"]) == 1
    assert "gff3 line 2: hsa-miR-21-5p at 10-32 of hsa-mir-21" in summary["warnings"][0]
    starts = {row["mature"]: row["start"] for row in positions(tmp_path / "out")}
    assert starts == {"hsa-miR-21-5p": "7", "hsa-miR-21-3p": "45"}


def test_gff3_of_another_species_is_refused(tmp_path):
    with pytest.raises(ExomirError, match="hsa.gff3.gz: no hairpin of species mmu"):
        build_reference(MATURE, HAIRPIN, "mmu", None, tmp_path / "out", gff3=GFF3)


def test_malformed_gff3_line_is_reported_with_its_number(tmp_path):
    gff3 = write(tmp_path / "bad.gff3", "##gff-version 3\nchr1\tmiRNA\t1\t2\n")
    with pytest.raises(ExomirError, match="bad.gff3: line 2: expected 9 tab-separated"):
        read_mirbase_gff3(gff3)


# --- command line ------------------------------------------------------------------------


def test_cli_builds_the_bundled_reference_end_to_end(tmp_path, capsys):
    outdir = tmp_path / "ref"
    status = main(
        ["build-reference", "--mature", str(MATURE), "--hairpin", str(HAIRPIN)]
        + ["--gff3", str(GFF3), "--species", "hsa", "--release", "22.1"]
        + ["--spikein", "cel-miR-39-3p", "--spikein", "cel-miR-54-3p"]
        + reference_output_args(outdir)
    )
    assert status == 0
    assert all((outdir / name).is_file() for name in OUTPUTS)
    summary = json.loads((outdir / "reference.json").read_text())
    assert summary["spikeins"] == ["cel-miR-39-3p", "cel-miR-54-3p"]
    assert summary["positions_from"] == "gff3"
    assert "hsa: " in capsys.readouterr().err


def test_cli_no_spikeins_and_one_line_errors(tmp_path, capsys):
    common = ["build-reference", "--mature", str(MATURE), "--hairpin", str(HAIRPIN)]
    assert (
        main(common + ["--species", "bta", "--no-spikeins", *reference_output_args(tmp_path)]) == 0
    )
    assert json.loads((tmp_path / "reference.json").read_text())["spikeins"] == []
    capsys.readouterr()
    assert main(common + ["--species", "xyz", *reference_output_args(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("exomir build-reference: error: ")
    assert err.count("\n") == 1
