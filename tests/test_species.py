"""Any species, MirGeneDB-style names, references without spike-ins or without matures.

The end-to-end runs use a MirGeneDB-style guinea pig (``Cpo``) reference
(tests/data/mirgenedb/: real MirGeneDB matures, miRBase hairpins renamed ``_pre``) and a
library simulated from its matures, once with the mature file and the default spike-ins
(which MirGeneDB lacks: a warning), once hairpin-only with ``spikeins: []``.
"""

from __future__ import annotations

import json

import pandas as pd
import pysam
import pytest
import yaml

from conftest import DATA, snakemake
from exomir import arms
from exomir.config import validate_config
from exomir.counting import _mature_hits, load_counting_reference
from exomir.errors import ExomirError
from exomir.names import arm_name, is_species, parse_name
from exomir.reference import (
    DEFAULT_SPIKEINS,
    build_reference,
    locate_matures,
    read_fasta,
    species_records,
    spikeins_expected,
)
from tools.accuracy import evaluate_files
from tools.simulate import simulate_library

MIRGENEDB = DATA / "mirgenedb"
CPO_MATURE = MIRGENEDB / "Cpo-mat.fa"
CPO_PRE = MIRGENEDB / "Cpo-pre.fa"
HSA_HAIRPIN = DATA / "simulate" / "hairpin.fa.gz"
HSA_MATURE = DATA / "simulate" / "mature.fa.gz"


# --- names and species -------------------------------------------------------------------


def test_species_code_matches_in_any_case():
    records = list(read_fasta(CPO_MATURE))
    selected = [species_records(records, code) for code in ("Cpo", "cpo", "CPO")]
    assert len(selected[0]) == len(records) == 41
    assert selected[0] == selected[1] == selected[2]
    assert not species_records(records, "cp")
    assert is_species("hsa-miR-21-5p", "Hsa") and not is_species("hsa-miR-21-5p", "mmu")


@pytest.mark.parametrize(
    ("name", "locus", "arm", "precursor", "star", "style"),
    [
        ("Cgi-Mir-1_pre", "Cgi-Mir-1", None, True, False, "mirgenedb"),
        ("Cgi-Let-7_5p", "Cgi-Let-7", "5p", False, False, "mirgenedb"),
        ("Cin-Let-7-P2o1-v1_5p", "Cin-Let-7-P2o1-v1", "5p", False, False, "mirgenedb"),
        ("Hsa-Mir-21_3p*", "Hsa-Mir-21", "3p", False, True, "mirgenedb"),
        ("hsa-miR-21-5p", "hsa-miR-21", "5p", False, False, "mirbase"),
        ("hsa-mir-21", "hsa-mir-21", None, True, False, "mirbase"),
        ("hsa-miR-941", "hsa-miR-941", None, False, False, "mirbase"),
    ],
)
def test_mirgenedb_and_mirbase_names_are_parsed(name, locus, arm, precursor, star, style):
    parsed = parse_name(name)
    assert (parsed.locus, parsed.arm, parsed.precursor, parsed.star, parsed.style) == (
        locus,
        arm,
        precursor,
        star,
        style,
    )
    assert parsed.species == name.split("-")[0]


def test_arm_names_follow_the_database_style():
    assert arm_name("Cpo-Mir-21_pre", "5p") == "Cpo-Mir-21_5p"
    assert arm_name("Cpo-Let-7-P1b-v2_pre", "3p") == "Cpo-Let-7-P1b-v2_3p"
    assert arm_name("hsa-mir-21", "3p") == "hsa-mir-21-3p"
    with pytest.raises(ValueError):
        arm_name("hsa-mir-21", "loop")


@pytest.mark.parametrize("code", ["Cgi", "cgi", "hsa", "CPO"])
def test_config_accepts_species_codes_in_any_case(code):
    assert validate_config({"samples": "s", "species": code})["species"] == code


def test_config_rejects_a_species_code_that_is_no_code():
    with pytest.raises(ExomirError, match="key 'species'"):
        validate_config({"samples": "s", "species": "Cg1"})


def test_config_local_reference_without_mature_is_hairpin_only():
    config = validate_config(
        {"samples": "s", "reference": {"source": "local", "hairpin": "pre.fa", "mature": None}}
    )
    assert config["reference"]["mature"] is None
    with pytest.raises(ExomirError, match="reference.use_gff3' needs 'reference.mature'"):
        validate_config(
            {
                "samples": "s",
                "reference": {"source": "local", "hairpin": "h", "use_gff3": True, "gff3": "g"},
            }
        )


# --- spike-ins -----------------------------------------------------------------------------


def test_default_spikeins_missing_from_the_reference_are_warnings(tmp_path):
    summary = build_reference(CPO_MATURE, CPO_PRE, "Cpo", None, tmp_path)
    assert summary["spikeins"] == []
    assert [w.split(" is not")[0] for w in summary["warnings"]] == [
        f"default spike-in {name}" for name in DEFAULT_SPIKEINS
    ]
    assert list(read_fasta(tmp_path / "spikein.fa")) == []
    assert summary["placements"] == 41 and summary["unplaced_matures"] == []


def test_a_listed_spikein_missing_from_the_reference_is_an_error(tmp_path):
    with pytest.raises(ExomirError, match=r"Cpo-mat\.fa: spike-in 'cel-miR-39-3p' is not a"):
        build_reference(CPO_MATURE, CPO_PRE, "Cpo", ["cel-miR-39-3p"], tmp_path)
    with pytest.raises(ExomirError, match="no mature file to take it from"):
        build_reference(None, CPO_PRE, "Cpo", ["cel-miR-39-3p"], tmp_path)
    assert not (tmp_path / "reference.json").exists()


def test_a_listed_spikein_may_come_from_the_spikein_fasta(tmp_path):
    spikes = tmp_path / "spikes.fa"
    spikes.write_text(">cel-miR-39-3p\nUCACCGGGUGUAAAUCAGCUUG\n")
    summary = build_reference(
        None, CPO_PRE, "Cpo", ["cel-miR-39-3p"], tmp_path / "out", spikein_fasta=spikes
    )
    assert summary["spikeins"] == ["cel-miR-39-3p"]


def test_spikeins_expected_is_known_before_the_reference_is_built(tmp_path):
    assert not spikeins_expected([], HSA_MATURE)
    assert spikeins_expected(["x"], None)
    assert not spikeins_expected(None, None)  # hairpin-only, defaults
    assert not spikeins_expected(None, CPO_MATURE)  # MirGeneDB has no cel-miR-39-3p
    assert spikeins_expected(None, HSA_MATURE)  # test subset of miRBase: has them
    assert spikeins_expected(None, tmp_path / "not-downloaded-yet.fa")
    assert spikeins_expected([], None, spikein_fasta=tmp_path / "spikes.fa")


# --- arms placed from hairpins ---------------------------------------------------------------


def test_terminal_stem_is_the_loop_with_the_longest_stem():
    #            0         1         2         3
    structure = "..((((((.....))))))...((...))..."
    stem = arms.terminal_stem(structure)
    assert (stem.loop_open, stem.loop_close, stem.pairs) == (7, 13, 6)
    assert arms.terminal_stem("........") is None
    # a bulge and an internal loop do not end the stem
    stem = arms.terminal_stem("((.((..((....))..))))")
    assert stem.pairs == 6


def test_arms_land_near_mirbase_matures_on_human_hairpins():
    """The constants were fitted on mouse; these 54 human hairpins were not used."""
    hairpins = list(read_fasta(HSA_HAIRPIN))
    matures = species_records(read_fasta(HSA_MATURE), "hsa")
    placements, _ = locate_matures(matures, hairpins)
    placed, armless = arms.place_arms(hairpins)
    assert not armless
    predicted = {(a.hairpin, a.arm): a for a in placed}
    close = compared = 0
    for p in placements:
        arm = parse_name(p.mature).arm
        if arm is None:
            continue
        compared += 1
        a = predicted.get((p.hairpin, arm))
        close += a is not None and abs(a.start - p.start) <= 2
        # whatever the 5' end, the real mature lies on the predicted arm's side of the loop
        if a is not None:
            assert a.region_start <= p.start and p.end <= a.region_end + 3, p
    assert compared > 100
    assert close / compared >= 0.6  # 76 of 110 (69 %) when written


def test_hairpin_only_reference_names_and_places_arms(tmp_path):
    summary = build_reference(None, CPO_PRE, "cpo", [], tmp_path)
    assert summary["positions_from"] == "predicted_arms"
    assert summary["arm_prediction"]["viennarna"]
    names = [r.name for r in read_fasta(tmp_path / "mature.fa")]
    assert len(names) == 80
    assert names[:2] == ["Cpo-Let-7-P1b_5p", "Cpo-Let-7-P1b_3p"]
    hairpins = {r.name: r.sequence for r in read_fasta(tmp_path / "hairpin.fa")}
    rows = pd.read_csv(tmp_path / "mature_positions.tsv", sep="\t")
    assert list(rows.columns[-2:]) == ["region_start", "region_end"]
    for row in rows.itertuples():
        assert hairpins[row.hairpin][row.start : row.end] == row.sequence
        assert row.region_start <= row.start < row.end <= row.region_end
    # every real MirGeneDB mature of this reference is on its predicted arm's side
    real = {r.name: r.sequence for r in read_fasta(CPO_MATURE)}
    by_name = rows.set_index("mature")
    for name, sequence in real.items():
        row = by_name.loc[name]
        start = hairpins[row.hairpin].find(sequence.replace("U", "T"))
        assert row.region_start <= start and start + len(sequence) <= row.region_end, name


def test_counting_gives_a_predicted_arm_every_read_on_its_side(tmp_path):
    build_reference(None, CPO_PRE, "Cpo", [], tmp_path)
    reference = load_counting_reference(tmp_path)
    spans = reference.placements["Cpo-Let-7-P1b_pre"]
    (five_start, five_end, five_row, five_region), (_, _, three_row, three_region) = spans
    assert reference.matures.names[five_row] == "Cpo-Let-7-P1b_5p"
    # 5 nt off the predicted 5' end, inside the 5p side: counted, with its offset
    assert _mature_hits(spans, five_start + 5, five_end + 3, 2, 5) == ((five_row, 5, 3),)
    # across the loop's centre: no arm
    assert _mature_hits(spans, five_region[1] - 10, five_region[1] + 10, 2, 5) == ()
    assert _mature_hits(spans, three_region[0], three_region[0] + 22, 2, 5)[0][0] == three_row


# --- end to end through the main Snakefile -------------------------------------------------

SAMPLE = "guinea_pig"
READS = 20_000


@pytest.fixture(scope="module")
def cpo_library(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cpo_library")
    result = simulate_library(
        CPO_MATURE,
        CPO_PRE,
        "Cpo",
        READS,
        "illumina",
        seed=1414,
        fastq_out=folder / f"{SAMPLE}.fastq.gz",
        truth_out=folder / f"{SAMPLE}.truth.tsv",
        spikeins=(),
        composition={"mirna": 0.8, "random": 0.1, "dimer": 0.1},
        n_mirnas=41,
    )
    return result


def run_cpo(tmp_path_factory, library, name: str, reference: str, extra: str = ""):
    run = tmp_path_factory.mktemp(name)
    (run / "samples.tsv").write_text(f"sample\tfastq\n{SAMPLE}\t{library.fastq}\n")
    (run / "config.yaml").write_text(
        "samples: samples.tsv\nprotocol: illumina\n" + reference + extra
    )
    snakemake(run, "--configfile", str(run / "config.yaml"), "--cores", "2")
    return run


@pytest.fixture(scope="module")
def with_mature(tmp_path_factory, cpo_library):
    """MirGeneDB matures and precursors, lower-case species, default spike-ins (none found)."""
    reference = (
        f"species: cpo\nreference:\n  source: local\n  mature: {CPO_MATURE}\n  hairpin: {CPO_PRE}\n"
    )
    return run_cpo(tmp_path_factory, cpo_library, "cpo_with_mature", reference)


@pytest.fixture(scope="module")
def hairpin_only(tmp_path_factory, cpo_library):
    """Precursors only, spikeins: []."""
    reference = f"species: Cpo\nreference:\n  source: local\n  hairpin: {CPO_PRE}\n"
    return run_cpo(tmp_path_factory, cpo_library, "cpo_hairpin_only", reference, "spikeins: []\n")


def accuracy(run, library):
    per_sample = run / "results" / "counts" / "per_sample" / SAMPLE
    return evaluate_files(
        library.truth, per_sample / "isomirs.tsv", per_sample / "mature.tsv", "reads"
    )


def assert_counted_right(found):
    """These precursors, like MirGeneDB's, end where their arms end: reads running past
    them (5'-extended 5p, 3'-extended 3p isomiRs) cannot align end to end, ~6 % of the
    simulated miRNA reads (0.93 counted right when written). Wrong miRNAs stay rare."""
    assert found.right_fraction >= 0.92
    assert (found.mirna_counted_total - found.mirna_counted_right) / found.mirna_true < 0.01
    assert found.non_mirna_fraction < 0.01
    assert found.spearman >= 0.95


def assert_no_spikein_stage(run):
    assert not list((run / "results" / "reference").glob("bowtie/spikein*"))
    spikein_bam = run / "results" / "align" / SAMPLE / "spikein.bam"
    with pysam.AlignmentFile(str(spikein_bam), check_sq=False) as bam:
        assert bam.references == () and next(iter(bam), None) is None
    spikein_counts = (run / "results" / "counts" / "spikein_counts.tsv").read_text()
    assert spikein_counts.splitlines() == [f"mirna\t{SAMPLE}"]
    fates = pd.read_csv(run / "results" / "qc" / "read_fates.tsv", sep="\t")
    assert fates["spikein"].tolist() == [0]
    assert fates["mature"].iloc[0] > 0.7 * READS
    assert (run / "results" / "multiqc" / "multiqc_report.html").exists()


@pytest.mark.e2e
def test_mirgenedb_reference_with_matures_runs_and_counts_the_right_mirnas(
    with_mature, cpo_library
):
    summary = json.loads((with_mature / "results/reference/reference.json").read_text())
    assert summary["spikeins"] == [] and len(summary["warnings"]) == 3
    log = (with_mature / "logs/reference/build_reference.log").read_text()
    assert "warning: default spike-in cel-miR-39-3p is not in" in log
    assert_no_spikein_stage(with_mature)
    counts = pd.read_csv(with_mature / "results/counts/mature_counts.tsv", sep="\t")
    assert counts["mirna"].tolist() == sorted(r.name for r in read_fasta(CPO_MATURE))
    found = accuracy(with_mature, cpo_library)
    print(f"\n[Cpo, MirGeneDB matures]\n{found.summary()}")
    assert_counted_right(found)


@pytest.mark.e2e
def test_hairpin_only_reference_with_no_spikeins_runs_and_counts_arms(hairpin_only, cpo_library):
    summary = json.loads((hairpin_only / "results/reference/reference.json").read_text())
    assert summary["positions_from"] == "predicted_arms" and summary["warnings"] == []
    provenance = yaml.safe_load((hairpin_only / "results/provenance.yaml").read_text())
    assert "side of its terminal loop" in provenance["definitions"]["mature_counts"]
    assert provenance["tools"]["ViennaRNA"] == summary["arm_prediction"]["viennarna"]
    assert_no_spikein_stage(hairpin_only)
    counts = pd.read_csv(hairpin_only / "results/counts/mature_counts.tsv", sep="\t")
    precursors = [r.name for r in read_fasta(CPO_PRE)]
    expected = sorted(arm_name(p, arm) for p in precursors for arm in ("5p", "3p"))
    assert counts["mirna"].tolist() == expected
    # arm names of MirGeneDB precursors are MirGeneDB's mature names: the truth applies
    found = accuracy(hairpin_only, cpo_library)
    print(f"\n[Cpo, hairpin-only]\n{found.summary()}")
    assert_counted_right(found)


# hairpins and the kit decision's combined test-mapping reference, plus spike-ins if any
@pytest.mark.parametrize(("spikeins", "indexes"), [("spikeins: []\n", 2), ("", 3)])
def test_no_spikeins_means_no_spikein_index_job(tmp_path, spikeins, indexes):
    reads = DATA / "reads" / "human_truseq_1_2k.fastq.gz"
    (tmp_path / "samples.tsv").write_text(f"sample\tfastq\ns1\t{reads}\n")
    (tmp_path / "config.yaml").write_text("samples: samples.tsv\nspecies: hsa\n" + spikeins)
    result = snakemake(tmp_path, "--configfile", str(tmp_path / "config.yaml"), "-n")
    jobs = dict(
        line.split()[:2] for line in result.stdout.splitlines() if line.startswith("bowtie_index ")
    )
    assert jobs == {"bowtie_index": str(indexes)}
