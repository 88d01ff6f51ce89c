"""Counting real bowtie output: collapsed reads -> spike-ins -> hairpins -> exomir count.

The reference is a handful of real human hairpins (tests/data/counting, see its README);
bowtie runs with the workflow's parameters, so the BAM layout counting relies on
(all alignments of a read consecutive, SEQ = read, NM tag) is checked, not assumed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pysam
import pytest

from conftest import DATA, count_output_args, counting_reference_args
from exomir import cli
from exomir.collapsed import write_collapsed
from exomir.reference import locate_matures, read_fasta

pytestmark = pytest.mark.skipif(
    shutil.which("bowtie") is None or shutil.which("samtools") is None,
    reason="bowtie and samtools are needed",
)

SOURCE = DATA / "counting"
HAIRPINS = {r.name: r.sequence for r in read_fasta(SOURCE / "hairpin.fa")}
BOWTIE_HAIRPIN_OPTIONS = ["-v", "1", "--norc", "-a", "--best", "--strata", "-S", "--no-unal"]

LET7A_5P = "TGAGGTAGTAGGTTGTATAGTT"
READS = {
    LET7A_5P: 100,  # on let-7a-1, -2 and -3
    LET7A_5P + "A": 20,  # non-templated 3' A: one mismatch on all three
    "TAGCTTATCAGACTGATGTTG": 50,  # miR-21-5p one nt short
    "ACAGTAGTCTGCACATTGGTTA": 30,  # miR-199a-3p = miR-199b-3p, on three hairpins
    "TGGAATGTAAAGAAGTATGTAT": 10,  # miR-1-3p on mir-1-1 and mir-1-2
    HAIRPINS["hsa-mir-21"][30:52]: 7,  # the loop of mir-21: hairpin only
    "TAGCAGCACGTCAATATTGGCG": 3,  # miR-16-5p with one mismatch
    "TCACCGGGTGTAAATCAGCTTG": 40,  # spike-in cel-miR-39-3p
    "TTTGTACTCCGATGCCATTCAGA": 2,  # spike-in cel-miR-238-3p
    "GATCGATCGGCCGGATATCCGA": 5,  # aligns nowhere
}


def bowtie(index: Path, reads: Path, bam: Path, unaligned: Path) -> None:
    command = ["bowtie", *BOWTIE_HAIRPIN_OPTIONS, "--reorder", "-f", "--un", str(unaligned)]
    aligner = subprocess.Popen(
        [*command, "-x", str(index), str(reads)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    subprocess.run(
        ["samtools", "view", "-b", "-o", str(bam), "-"], stdin=aligner.stdout, check=True
    )
    aligner.stdout.close()
    assert aligner.wait() == 0


def build_index(fasta: Path, prefix: Path) -> Path:
    subprocess.run(["bowtie-build", "-q", str(fasta), str(prefix)], check=True)
    return prefix


def reference_dir(directory: Path) -> Path:
    directory.mkdir()
    for name in ("hairpin.fa", "mature.fa", "spikein.fa"):
        shutil.copy(SOURCE / name, directory / name)
    placements, _ = locate_matures(
        read_fasta(directory / "mature.fa"), read_fasta(directory / "hairpin.fa")
    )
    rows = [f"{p.hairpin}\t{p.mature}\t{p.start}\t{p.end}\t{p.sequence}\n" for p in placements]
    (directory / "mature_positions.tsv").write_text(
        "hairpin\tmature\tstart\tend\tsequence\n" + "".join(rows)
    )
    return directory


@pytest.fixture(scope="module")
def aligned(tmp_path_factory) -> dict[str, Path]:
    """Collapsed reads aligned to spike-ins, the rest to hairpins, as the workflow does."""
    work = tmp_path_factory.mktemp("bowtie")
    reference = reference_dir(work / "reference")
    reads = work / "inserts.fa"
    write_collapsed(READS, reads)
    spikein_index = build_index(reference / "spikein.fa", work / "spikein")
    hairpin_index = build_index(reference / "hairpin.fa", work / "hairpin")
    bowtie(spikein_index, reads, work / "spikein.bam", work / "not_spikein.fa")
    bowtie(hairpin_index, work / "not_spikein.fa", work / "hairpin.bam", work / "unaligned.fa")
    passed = sum(READS.values())
    stats = {"sample": "S1", "unit": "reads", "input": passed + 9, "adapter_dimer": 9}
    stats.update(too_short=0, too_long=0, umi_duplicate=0, passed=passed, no_adapter=1)
    (work / "trim_stats.json").write_text(json.dumps(stats))
    return {"work": work, "reference": reference}


def run_count(aligned: dict[str, Path], multimapper: str) -> Path:
    work = aligned["work"]
    outdir = work / multimapper
    status = cli.main(
        ["count", "--sample", "S1", "--multimapper", multimapper]
        + ["--hairpin-bam", str(work / "hairpin.bam"), "--spikein-bam", str(work / "spikein.bam")]
        + counting_reference_args(aligned["reference"])
        + ["--trim-stats", str(work / "trim_stats.json")]
        + count_output_args(outdir)
    )
    assert status == 0
    return outdir


def nonzero(path: Path) -> dict[str, str]:
    rows = [line.split("\t") for line in path.read_text().splitlines()[1:]]
    return {name: value for name, value in rows if value != "0"}


def test_bowtie_output_keeps_the_alignments_of_a_read_together(aligned):
    with pysam.AlignmentFile(str(aligned["work"] / "hairpin.bam"), "rb", check_sq=False) as bam:
        names = [record.query_name for record in bam]
    blocks = [name for i, name in enumerate(names) if i == 0 or names[i - 1] != name]
    assert len(blocks) == len(set(blocks))
    assert len(names) > len(blocks)  # multi-mappers are reported on every hairpin (-a)


def test_mature_counts_on_real_alignments(aligned):
    outdir = run_count(aligned, "fractional")
    assert nonzero(outdir / "mature.tsv") == {
        "hsa-let-7a-5p": "120",
        "hsa-miR-1-3p": "10",
        "hsa-miR-16-5p": "3",
        "hsa-miR-199a-3p": "15",
        "hsa-miR-199b-3p": "15",
        "hsa-miR-21-5p": "50",
    }


def test_hairpin_and_spikein_counts_on_real_alignments(aligned):
    outdir = run_count(aligned, "fractional")
    hairpins = nonzero(outdir / "hairpin.tsv")
    assert [hairpins[f"hsa-let-7a-{i}"] for i in (1, 2, 3)] == ["40", "40", "40"]
    assert hairpins["hsa-mir-21"] == "57"
    assert "hsa-mir-15a" not in hairpins
    assert nonzero(outdir / "spikein.tsv") == {"cel-miR-238-3p": "2", "cel-miR-39-3p": "40"}


def test_collapse_policy_on_real_alignments(aligned):
    mature = nonzero(run_count(aligned, "collapse") / "mature.tsv")
    assert mature["hsa-miR-199a-3p/hsa-miR-199b-3p"] == "30"
    assert "hsa-miR-199a-3p" not in mature


def test_unique_policy_drops_the_identical_pair_but_not_let7a(aligned):
    mature = nonzero(run_count(aligned, "unique") / "mature.tsv")
    assert mature["hsa-let-7a-5p"] == "120"
    assert "hsa-miR-199a-3p" not in mature


def test_fates_on_real_alignments_sum_to_input(aligned):
    header, row = (run_count(aligned, "fractional") / "fates.tsv").read_text().splitlines()
    fates = dict(zip(header.split("\t"), row.split("\t"), strict=True))
    assert fates["spikein"] == "42"
    assert fates["mature"] == "213"
    assert fates["hairpin_only"] == "7"
    assert fates["unassigned"] == "5"
    partition = [int(fates[c]) for c in header.split("\t")[2:-1]]
    assert sum(partition) == int(fates["input"])


def test_isomirs_on_real_alignments(aligned):
    lines = (run_count(aligned, "fractional") / "isomirs.tsv").read_text().splitlines()
    rows = {tuple(line.split("\t")[:2]): line.split("\t")[2:] for line in lines[1:]}
    assert lines[0].split("\t") == [
        "mirna",
        "sequence",
        "start_offset",
        "end_offset",
        "tail",
        "mismatches",
        "count",
    ]
    assert rows["hsa-let-7a-5p", LET7A_5P] == ["0", "0", ".", "0", "100"]
    # The added A mismatches all three hairpins at the read's last base: a 1-nt tail.
    assert rows["hsa-let-7a-5p", LET7A_5P + "A"] == ["0", "0", "A", "0", "20"]
    assert rows["hsa-miR-21-5p", "TAGCTTATCAGACTGATGTTG"] == ["0", "-1", ".", "0", "50"]
    assert rows["hsa-miR-16-5p", "TAGCAGCACGTCAATATTGGCG"] == ["0", "0", ".", "1", "3"]


@pytest.fixture(scope="module")
def aligned_by_exomir(aligned) -> Path:
    """The same reads through ``exomir align-sample``, as the workflow's align rule runs it."""
    work, out = aligned["work"], aligned["work"] / "exomir_align"
    argv = align_sample_argv(work, aligned["reference"], work / "inserts.fa", out)
    out.mkdir()
    assert cli.main(argv) == 0
    return out


def alignments(bam: Path) -> list[tuple]:
    with pysam.AlignmentFile(str(bam), "rb", check_sq=False) as handle:
        return sorted(
            (r.query_name, r.reference_name, r.reference_start, r.get_tag("NM")) for r in handle
        )


def test_align_sample_finds_the_alignments_of_plain_bowtie(aligned, aligned_by_exomir):
    work = aligned["work"]
    assert alignments(aligned_by_exomir / "spikein.bam") == alignments(work / "spikein.bam")
    grouped = aligned_by_exomir / "hairpin.grouped.bam"
    assert alignments(grouped) == alignments(work / "hairpin.bam")
    unaligned = (aligned_by_exomir / "unassigned.fa").read_text().split()
    assert unaligned[1::2] == ["GATCGATCGGCCGGATATCCGA"]


def test_align_sample_writes_a_sorted_indexed_copy_and_no_temporary_files(aligned_by_exomir):
    sorted_bam = aligned_by_exomir / "hairpin.bam"
    assert alignments(sorted_bam) == alignments(aligned_by_exomir / "hairpin.grouped.bam")
    with pysam.AlignmentFile(str(sorted_bam), "rb") as bam:
        assert bam.header["HD"]["SO"] == "coordinate"
        assert bam.check_index()
        keys = [(r.reference_id, r.reference_start) for r in bam]
        assert keys == sorted(keys)
        assert bam.count("hsa-let-7a-1") > 0  # region queries work: the index is usable
    assert sorted(p.name for p in aligned_by_exomir.iterdir()) == [
        "hairpin.bam",
        "hairpin.bam.bai",
        "hairpin.grouped.bam",
        "hairpin.log",
        "spikein.bam",
        "spikein.log",
        "unassigned.fa",
    ]
    # bowtie's own summary of each alignment reaches its log (the MultiQC bowtie section).
    assert "# reads processed: 8" in (aligned_by_exomir / "hairpin.log").read_text()


def test_align_sample_fails_in_one_line_and_leaves_no_bam(aligned, tmp_path, capsys):
    work = aligned["work"]
    argv = ["align-sample", "--reads", str(work / "inserts.fa")]
    argv += ["--spikein-index", str(work / "spikein"), "--hairpin-index", str(tmp_path / "none")]
    for name in ("spikein", "hairpin"):
        argv += [f"--{name}-reference", str(aligned["reference"] / f"{name}.fa")]
        argv += [f"--{name}-log", str(tmp_path / f"{name}.log")]
    argv += ["--spikein-bam", str(tmp_path / "s.bam"), "--unaligned", str(tmp_path / "u.fa")]
    argv += ["--hairpin-grouped-bam", str(tmp_path / "g.bam")]
    argv += ["--hairpin-bam", str(tmp_path / "h.bam")]
    assert cli.main(argv) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "alignment of" in error and "none" in error
    leftovers = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".log"))
    assert leftovers == ["s.bam"]  # the spike-in step finished; nothing of the hairpin step


# --- the tail pass ---------------------------------------------------------------------

MIR21_5P = "TAGCTTATCAGACTGATGTTGA"
# The loop of mir-21 plus two bases the hairpin does not continue with: no mature arm.
LOOP_TAILED = HAIRPINS["hsa-mir-21"][30:52] + "".join(
    "C" if base == "A" else "A" for base in HAIRPINS["hsa-mir-21"][52:54]
)
TAILED = {
    MIR21_5P + "AA": 12,  # mir-21 goes on with CT: two mismatches end to end
    LET7A_5P + "CAA": 6,  # two or three mismatches on each let-7a hairpin
    LOOP_TAILED: 4,
}


def align_sample_argv(work: Path, reference: Path, reads: Path, out: Path) -> list[str]:
    argv = ["align-sample", "--reads", str(reads), "--threads", "2"]
    for name in ("spikein", "hairpin"):
        argv += [f"--{name}-index", str(work / name)]
        argv += [f"--{name}-reference", str(reference / f"{name}.fa")]
        argv += [f"--{name}-log", str(out / f"{name}.log")]
    argv += ["--spikein-bam", str(out / "spikein.bam")]
    argv += ["--hairpin-grouped-bam", str(out / "hairpin.grouped.bam")]
    argv += ["--hairpin-bam", str(out / "hairpin.bam"), "--unaligned", str(out / "unassigned.fa")]
    return argv


@pytest.fixture(scope="module")
def aligned_with_tails(aligned) -> Path:
    """READS and TAILED through ``exomir align-sample`` with the tail pass, then counted."""
    work, out = aligned["work"], aligned["work"] / "tails"
    reference = aligned["reference"]
    out.mkdir()
    reads = out / "inserts.fa"
    write_collapsed({**READS, **TAILED}, reads)
    argv = align_sample_argv(work, reference, reads, out)
    argv += ["--mature-positions", str(reference / "mature_positions.tsv")]
    argv += ["--tail-log", str(out / "tails.log")]
    assert cli.main(argv) == 0
    passed = sum(READS.values()) + sum(TAILED.values())
    stats = {"sample": "S1", "unit": "reads", "input": passed, "adapter_dimer": 0}
    stats.update(too_short=0, too_long=0, umi_duplicate=0, passed=passed, no_adapter=0)
    (out / "trim_stats.json").write_text(json.dumps(stats))
    argv = ["count", "--sample", "S1", "--hairpin-bam", str(out / "hairpin.grouped.bam")]
    argv += ["--spikein-bam", str(out / "spikein.bam"), *counting_reference_args(reference)]
    argv += ["--trim-stats", str(out / "trim_stats.json"), *count_output_args(out / "counts")]
    assert cli.main(argv) == 0
    return out


def test_tail_pass_soft_clips_the_tail_of_the_whole_read(aligned_with_tails):
    with pysam.AlignmentFile(str(aligned_with_tails / "hairpin.grouped.bam"), "rb") as bam:
        records = list(bam)
    tailed = [r for r in records if r.query_sequence in TAILED]
    assert {(r.query_sequence, r.cigarstring) for r in tailed} == {
        (MIR21_5P + "AA", "22M2S"),
        (LET7A_5P + "CAA", "22M3S"),
    }
    assert sorted(r.reference_name for r in tailed) == [
        "hsa-let-7a-1",
        "hsa-let-7a-2",
        "hsa-let-7a-3",
        "hsa-mir-21",
    ]
    assert all(r.get_tag("NM") == 0 for r in tailed)
    # A read's alignments stay together and no read is in both passes.
    names = [r.query_name for r in records]
    blocks = [name for i, name in enumerate(names) if i == 0 or names[i - 1] != name]
    assert len(blocks) == len(set(blocks))


def test_tailed_reads_count_once_for_their_mirna(aligned_with_tails):
    mature = nonzero(aligned_with_tails / "counts" / "mature.tsv")
    assert mature["hsa-let-7a-5p"] == "126"  # 100 + 20 + 6
    assert mature["hsa-miR-21-5p"] == "62"  # 50 + 12
    lines = (aligned_with_tails / "counts" / "isomirs.tsv").read_text().splitlines()
    rows = {tuple(line.split("\t")[:2]): line.split("\t")[2:] for line in lines[1:]}
    assert rows["hsa-miR-21-5p", MIR21_5P + "AA"] == ["0", "0", "AA", "0", "12"]
    assert rows["hsa-let-7a-5p", LET7A_5P + "CAA"] == ["0", "0", "CAA", "0", "6"]


def test_reads_off_mature_arms_are_not_rescued(aligned_with_tails):
    unassigned = (aligned_with_tails / "unassigned.fa").read_text().split()[1::2]
    assert sorted(unassigned) == sorted(["GATCGATCGGCCGGATATCCGA", LOOP_TAILED])
    header, row = (aligned_with_tails / "counts" / "fates.tsv").read_text().splitlines()
    fates = dict(zip(header.split("\t"), row.split("\t"), strict=True))
    assert fates["mature"] == str(213 + 18)
    assert fates["unassigned"] == str(5 + 4)
    assert sum(int(fates[c]) for c in header.split("\t")[2:-1]) == int(fates["input"])
    log = (aligned_with_tails / "tails.log").read_text()
    assert "2 sequences (18 reads) rescued" in log
    # The hairpin log holds bowtie's first summary only (MultiQC's bowtie section reads it).
    assert (aligned_with_tails / "hairpin.log").read_text().count("# reads processed") == 1


def test_tail_pass_leaves_no_temporary_files(aligned_with_tails):
    assert sorted(p.name for p in aligned_with_tails.iterdir()) == [
        "counts",
        "hairpin.bam",
        "hairpin.bam.bai",
        "hairpin.grouped.bam",
        "hairpin.log",
        "inserts.fa",
        "spikein.bam",
        "spikein.log",
        "tails.log",
        "trim_stats.json",
        "unassigned.fa",
    ]


def test_mature_positions_without_a_tail_log_is_a_one_line_error(aligned, tmp_path, capsys):
    argv = align_sample_argv(
        aligned["work"], aligned["reference"], aligned["work"] / "inserts.fa", tmp_path
    )
    argv += ["--mature-positions", str(aligned["reference"] / "mature_positions.tsv")]
    assert cli.main(argv) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--tail-log" in error
    assert not list(tmp_path.iterdir())


def test_align_sample_removes_the_scratch_folder_a_killed_attempt_left(aligned, tmp_path):
    """SIGKILL cannot run ``finally``: the next attempt of the job clears what it left."""
    stale = tmp_path / ".align.killed"
    stale.mkdir()
    (stale / "not_hairpin.fa").write_text(">1_x1\nACGT\n")
    argv = align_sample_argv(
        aligned["work"], aligned["reference"], aligned["work"] / "inserts.fa", tmp_path
    )
    assert cli.main(argv) == 0
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".align.")]
