"""IsomiRs as mirGFF3: mirtop's own validator, annotator and stats judge the file.

The reference is the handful of real human hairpins in tests/data/counting. Each isomiR
below is annotated twice: by exomir's writer from its table row, and by mirtop's own
annotation code (``filter.tune`` + ``annotate._coord``, what ``mirtop gff`` runs on a BAM)
from the read and its position on the hairpin; the Variant strings must agree.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DATA
from exomir import cli, mirgff
from exomir.errors import ExomirError
from exomir.reference import locate_matures, read_fasta

SOURCE = DATA / "counting"
HAIRPINS = {r.name: r.sequence for r in read_fasta(SOURCE / "hairpin.fa")}
MATURES = {r.name: r.sequence for r in read_fasta(SOURCE / "mature.fa")}
LET7A = MATURES["hsa-let-7a-5p"]
MIR21 = MATURES["hsa-miR-21-5p"]
MIR21_START = HAIRPINS["hsa-mir-21"].find(MIR21)
AFTER_MIR21 = HAIRPINS["hsa-mir-21"][MIR21_START + len(MIR21) :]


def substituted(sequence: str, position: int) -> str:
    """``sequence`` with another base at 1-based ``position``."""
    i = position - 1
    other = "A" if sequence[i] != "A" else "C"
    return sequence[:i] + other + sequence[i + 1 :]


SAMPLES = ["S1", "S2"]
# mirtop's annotator (annotate._coord) measures iso_3p from the read's end *with* the added
# bases whenever the templated end moved, so a 2-nt templated extension plus a 1-nt tail
# is iso_3p:+3 there; the mirGFF3 definition (and mirtop's own lift_to_genome, which adds
# iso_3p and iso_add3p) make it iso_3p:+2. exomir writes the latter.
EXTENDED_AND_TAILED = MIR21 + AFTER_MIR21[:2] + ("A" if AFTER_MIR21[2] != "A" else "C")
MIRTOP_ANNOTATES = {EXTENDED_AND_TAILED: "iso_3p:+3,iso_add3p:1"}

# (mirna, read, start_offset, end_offset, tail, counts S1, S2, expected Variant)
ISOMIRS = [
    ("hsa-let-7a-5p", LET7A, 0, 0, ".", "10", "4", "NA"),
    ("hsa-let-7a-5p", LET7A + "CAA", 0, 0, "CAA", "6", "0", "iso_add3p:3"),
    ("hsa-miR-21-5p", MIR21, 0, 0, ".", "7.5", "2.4", "NA"),
    ("hsa-miR-21-5p", MIR21[:-1], 0, -1, ".", "3", "0", "iso_3p:-1"),
    (
        "hsa-miR-21-5p",
        HAIRPINS["hsa-mir-21"][MIR21_START - 1] + MIR21,
        -1,
        0,
        ".",
        "2",
        "1",
        "iso_5p:-1",
    ),
    ("hsa-miR-21-5p", MIR21[1:], 1, 0, ".", "1", "0", "iso_5p:+1"),
    (
        "hsa-miR-21-5p",
        EXTENDED_AND_TAILED,
        0,
        2,
        "A" if AFTER_MIR21[2] != "A" else "C",
        "5",
        "5",
        "iso_3p:+2,iso_add3p:1",
    ),
    ("hsa-miR-21-5p", substituted(MIR21, 5), 0, 0, ".", "2", "0", "iso_snv_seed"),
    ("hsa-miR-21-5p", substituted(MIR21, 11), 0, 0, ".", "0", "3", "iso_snv_central"),
    ("hsa-miR-21-5p", substituted(MIR21, 15), 0, 0, ".", "0", "1", "iso_snv_central_supp"),
    # Below 0.5 in every sample: left out of the file.
    ("hsa-miR-21-5p", MIR21 + AFTER_MIR21[:1], 0, 1, ".", "0.4", "0.3", None),
]


def write_reference(directory: Path) -> Path:
    directory.mkdir(exist_ok=True)
    placements, _ = locate_matures(
        read_fasta(SOURCE / "mature.fa"), read_fasta(SOURCE / "hairpin.fa")
    )
    rows = [f"{p.hairpin}\t{p.mature}\t{p.start}\t{p.end}\t{p.sequence}\n" for p in placements]
    (directory / "mature_positions.tsv").write_text(
        "hairpin\tmature\tstart\tend\tsequence\n" + "".join(rows)
    )
    (directory / "hairpin.fa").write_text((SOURCE / "hairpin.fa").read_text())
    (directory / "reference.json").write_text(json.dumps({"release": "22.1"}))
    return directory


def write_isomir_table(path: Path, isomirs=ISOMIRS) -> Path:
    lines = ["mirna\tsequence\tstart_offset\tend_offset\ttail\tsample\tcount\n"]
    for mirna, read, start, end, tail, s1, s2, _ in sorted(isomirs):
        for sample, count in zip(SAMPLES, (s1, s2), strict=True):
            if count != "0":
                lines.append(f"{mirna}\t{read}\t{start}\t{end}\t{tail}\t{sample}\t{count}\n")
    path.write_text("".join(lines))
    return path


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("mirgff")
    reference = write_reference(work / "reference")
    isomirs = write_isomir_table(work / "isomir_counts.tsv")
    counts = work / "mature_counts.tsv"
    counts.write_text("mirna\tS1\tS2\nhsa-let-7a-5p\t20\t4\n")
    out = work / "isomirs"
    argv = ["isomirs-gff", "--isomirs", str(isomirs), "--counts", str(counts)]
    argv += ["--hairpin", str(reference / "hairpin.fa")]
    argv += ["--mature-positions", str(reference / "mature_positions.tsv")]
    argv += ["--reference-json", str(reference / "reference.json")]
    argv += ["--out", str(out / "isomirs.gff")]
    argv += ["--stats-log", str(out / "isomirs_mirtop_stats.log")]
    argv += ["--stats-table", str(out / "isomirs_mirtop_stats.txt")]
    assert cli.main(argv) == 0
    return {"work": work, "gff": out / "isomirs.gff", "out": out, "reference": reference}


def body(gff: Path) -> list:
    from mirtop.gff.classgff import feature

    return [feature(line) for line in gff.read_text().splitlines() if not line.startswith("#")]


def mirtop_errors(path: Path, caplog) -> int:
    from mirtop.gff import validator

    with caplog.at_level(logging.WARNING):
        return validator._check_file(str(path))


def test_mirtop_validates_the_file(written, caplog):
    assert mirtop_errors(written["gff"], caplog) == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_mirtop_rejects_a_broken_file(written, tmp_path, caplog):
    # The validator can fail: without COLDATA the expression values no longer match.
    lines = written["gff"].read_text().splitlines(keepends=True)
    broken = tmp_path / "broken.gff"
    broken.write_text("".join(line for line in lines if "COLDATA" not in line))
    assert mirtop_errors(broken, caplog) > 0


def test_header_names_version_source_tool_and_samples(written):
    header = [line for line in written["gff"].read_text().splitlines() if line.startswith("##")]
    assert header == [
        "## mirGFF3. VERSION 1.2",
        "## source-ontology: miRBasev22.1 doi:10.25504/fairsharing.hmgte8",
        "## TOOLS: exomir",
        "## COLDATA: S1,S2",
    ]


def test_one_line_per_isomir_with_rounded_expression(written):
    from mirtop.mirna.realign import read_id

    lines = {f.attributes["Read"]: f for f in body(written["gff"])}
    expected = {read: (s1, s2) for _, read, *_, s1, s2, variant in ISOMIRS if variant}
    assert set(lines) == set(expected)
    for read, (s1, s2) in expected.items():
        attributes = lines[read].attributes
        rounded = [int(float(c) + 0.5) for c in (s1, s2)]
        assert attributes["Expression"] == ",".join(map(str, rounded))
        assert read_id(attributes["UID"]) == read  # mirtop decodes its license plate
        assert attributes["Filter"] == "Pass"


def test_variants_agree_with_mirtops_own_annotation(written):
    from mirtop.bam import filter as mirtop_filter
    from mirtop.mirna import annotate
    from mirtop.mirna.realign import isomir

    lines = {f.attributes["Read"]: f for f in body(written["gff"])}
    for mirna, read, *_, variant in ISOMIRS:
        if variant is None:
            continue
        line = lines[read]
        assert line.attributes["Variant"] == variant, read
        assert line.columns["type"] == ("ref_miRNA" if variant == "NA" else "isomiR")
        hairpin = HAIRPINS[line.attributes["Parent"]]
        start = int(line.columns["start"]) - 1
        assert int(line.columns["end"]) == start + len(read)
        mature_start = hairpin.find(MATURES[mirna])
        iso = isomir()
        iso.set_pos(start, len(read))
        iso.subs, iso.add, iso.cigar = mirtop_filter.tune(read, hairpin, start, None)
        span = [mature_start, mature_start + len(MATURES[mirna]) - 1]
        assert annotate._coord(read, start, span, hairpin, iso)
        assert iso.formatGFF() == MIRTOP_ANNOTATES.get(read, variant), read
        assert line.attributes["Cigar"] == iso.cigar, read


def test_a_read_on_three_loci_is_one_line_with_three_hits(written):
    lines = {f.attributes["Read"]: f for f in body(written["gff"])}
    canonical = lines[LET7A]
    assert canonical.columns["chrom"] == canonical.attributes["Parent"] == "hsa-let-7a-1"
    assert canonical.attributes["Hits"] == "3"
    assert lines[MIR21].attributes["Hits"] == "1"


def test_mirtop_stats_log_is_what_multiqc_reads(written):
    log = json.loads((written["out"] / "isomirs_mirtop_stats.log").read_text())
    assert log["meta"]["tool"] == "mirtop"
    metrics = log["metrics"]
    assert sorted(metrics) == SAMPLES
    # S1: ref_miRNA 10 + 8 (7.5 rounded); iso_add3p 6 + 5; S2: ref 4 + 2.
    assert metrics["S1"]["ref_miRNA_sum"] == 18
    assert metrics["S2"]["ref_miRNA_sum"] == 6
    assert metrics["S1"]["iso_add3p_sum"] == 11
    # mirtop itself would write 0 here (see mirgff.mirtop_stats).
    assert metrics["S1"]["isomiR_sum"] == 6 + 3 + 2 + 1 + 5 + 2
    table = (written["out"] / "isomirs_mirtop_stats.txt").read_text().splitlines()
    assert table[1] == ",category,sample,counts"
    assert "isomiR_sum,S1,19.0" in "\n".join(table)
    assert sorted(p.name for p in written["out"].iterdir()) == [
        "isomirs.gff",
        "isomirs_mirtop_stats.log",
        "isomirs_mirtop_stats.txt",
    ]


def test_stats_are_mirtops_own_figures(written):
    from mirtop.gff.stats import _calc_stats

    figures = _calc_stats(str(written["gff"]))
    theirs: dict[str, dict[str, float]] = {}
    for category, sample, value in figures[["category", "sample", "counts"]].itertuples(
        index=False
    ):
        # mirtop's padding rows (zeros) overwrite the first sample's isomiR_sum; keep the max.
        theirs.setdefault(sample, {})
        theirs[sample][category] = max(float(value), theirs[sample].get(category, 0.0))
    assert mirgff.isomir_stats(written["gff"]) == theirs
    log = json.loads((written["out"] / "isomirs_mirtop_stats.log").read_text())
    assert log["metrics"] == theirs


def test_multiqc_shows_the_mirtop_section(written, tmp_path):
    report = tmp_path / "report"
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "multiqc"),
            "--force",
            "--outdir",
            str(report),
            str(written["out"] / "isomirs_mirtop_stats.log"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = (report / "multiqc_data" / "multiqc_mirtop.txt").read_text().splitlines()
    assert sorted(line.split("\t")[0] for line in data[1:]) == SAMPLES
    assert 'id="mirtop"' in (report / "multiqc_report.html").read_text()


def test_database_name_from_the_reference_release(tmp_path):
    summary = tmp_path / "reference.json"
    summary.write_text(json.dumps({"release": "22.1"}))
    assert mirgff.database_name(summary) == "miRBasev22.1"
    summary.write_text(json.dumps({"release": None}))
    assert mirgff.database_name(summary) == "miRBase"


def test_variant_and_cigar_notation():
    assert mirgff.variant(0, 0, "", []) == "NA"
    assert mirgff.variant(-1, 2, "TT", [5]) == "iso_3p:+2,iso_5p:-1,iso_add3p:2,iso_snv_seed"
    assert [mirgff.snv_variant(p) for p in (1, 2, 7, 8, 9, 12, 13, 17, 18)] == [
        "iso_snv",
        "iso_snv_seed",
        "iso_snv_seed",
        "iso_snv_central_offset",
        "iso_snv_central",
        "iso_snv_central",
        "iso_snv_central_supp",
        "iso_snv_central_supp",
        "iso_snv",
    ]
    # The examples of mirtop's own test data.
    assert mirgff.mirtop_cigar("TGAGGTAGTAGGTTGTATAGTTAA", LET7A) == "22MAA"
    assert mirgff.mirtop_cigar("TGAGGTAGTACGTTGTATAGTT", LET7A) == "10MC11M"


def test_isomir_table_of_another_reference_is_one_line_error(written, tmp_path):
    bad = write_isomir_table(
        tmp_path / "bad.tsv", [("hsa-miR-21-5p", "ACGT" * 6, 40, 0, ".", "1", "0", "NA")]
    )
    reference = written["reference"]
    with pytest.raises(ExomirError, match="does not fit on its hairpins"):
        mirgff.write_mirgff(
            bad,
            reference / "hairpin.fa",
            reference / "mature_positions.tsv",
            SAMPLES,
            tmp_path / "out.gff",
            database="miRBase",
        )
    assert not (tmp_path / "out.gff").exists()


def test_isomir_table_without_tail_column_is_refused(written, tmp_path):
    old = tmp_path / "old.tsv"
    old.write_text("mirna\tsequence\tstart_offset\tend_offset\tsample\tcount\n")
    reference = written["reference"]
    with pytest.raises(ExomirError, match="header must be"):
        mirgff.write_mirgff(
            old,
            reference / "hairpin.fa",
            reference / "mature_positions.tsv",
            SAMPLES,
            tmp_path / "out.gff",
            database="miRBase",
        )


def test_a_collapsed_row_sits_on_the_loci_of_its_matures(written, tmp_path):
    # multimapper: collapse names identical matures "a/b"; here two names, one sequence.
    table = write_isomir_table(
        tmp_path / "collapsed.tsv",
        [("hsa-miR-21-5p/hsa-miR-unknown", MIR21, 0, 0, ".", "3", "1", "NA")],
    )
    reference = written["reference"]
    mirgff.write_mirgff(
        table,
        reference / "hairpin.fa",
        reference / "mature_positions.tsv",
        SAMPLES,
        tmp_path / "out.gff",
        database="miRBase",
    )
    (line,) = body(tmp_path / "out.gff")
    assert line.attributes["Name"] == "hsa-miR-21-5p/hsa-miR-unknown"
    assert line.attributes["Parent"] == "hsa-mir-21"
    assert line.attributes["Expression"] == "3,1"
