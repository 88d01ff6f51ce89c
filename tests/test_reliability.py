"""Hostile paths, a sample without miRNA reads, reproducibility and downloads, end to end.

One full run (DE and report included) is shared by most tests here. Its FASTQ files live
outside the working directory under names full of shell metacharacters (space, ', $, ;, &,
$(...) and backticks), the working directory and the sample sheet have such names too,
and one sample holds no miRNA read at all.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, DATA, REPO, snakemake
from exomir.cli import main
from exomir.contrasts import pca_columns
from exomir.errors import ExomirError
from exomir.samplesheet import read_sample_sheet

pytest_plugins = ["httpserver"]

TRUSEQ_ADAPTER = "TGGAATTCTCGGGTGCCAAGG"
READS_PER_SAMPLE = 2000
# Commands a shell would run if a path reached it unquoted; they would create these files.
CANARY = "pwned"
FASTQ_NAMES = {
    "t1": "truseq it's 1.fastq.gz",
    "t2": "truseq $HOME 2.fastq.gz",
    "e1": "encode; 1.fastq.gz",
    "e2": "encode & 2.fastq.gz",
    "zero": f"$(touch {CANARY}) `touch {CANARY}2`.fastq.gz",
}
CONDITIONS = {"t1": "truseq", "t2": "truseq", "e1": "encode", "e2": "encode", "zero": "truseq"}
SHEET_NAME = "sheet 'a' $b; c & d.tsv"
DE_TABLES = (
    "results/de/encode_vs_truseq.tsv",
    "results/de/size_factors.tsv",
    "results/de/normalized_counts.tsv",
    "results/de/summary.tsv",
    "results/de/watchlist.tsv",
    "results/qc/ev_quality.tsv",
)
COUNT_TABLES = (
    "results/counts/mature_counts.tsv",
    "results/counts/mature_cpm.tsv",
    "results/counts/hairpin_counts.tsv",
    "results/counts/spikein_counts.tsv",
    "results/counts/isomir_counts.tsv",
    "results/qc/read_fates.tsv",
)


def first_reads(path: Path, n: int = READS_PER_SAMPLE) -> bytes:
    with gzip.open(path, "rt") as handle:
        lines = [next(handle) for _ in range(4 * n)]
    return gzip.compress("".join(lines).encode(), mtime=0)


def reads_without_mirnas(n: int, seed: int = 7) -> bytes:
    """TruSeq reads whose 22-nt inserts are random: nothing for the hairpins to hold."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        insert = "".join(rng.choice("ACGT") for _ in range(22))
        sequence = (insert + TRUSEQ_ADAPTER + "ACGTACGT")[:51]
        lines += [f"@random_{i}", sequence, "+", "I" * len(sequence)]
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


def read_table(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()]


def column(path: Path, sample: str) -> list[str]:
    rows = read_table(path)
    index = rows[0].index(sample)
    return [row[index] for row in rows[1:]]


def files_under(root: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    """Every file below ``root`` (but ``skip``) with its size and mtime."""
    found = {}
    for folder, dirs, files in os.walk(root):
        if skip is not None:
            dirs[:] = [d for d in dirs if Path(folder, d) != skip]
        dirs[:] = [d for d in dirs if d not in {".git", ".venv", "__pycache__"}]
        for name in files:
            path = Path(folder, name)
            stat = path.lstat()
            found[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return found


def repo_inputs() -> dict[str, tuple[int, int]]:
    """What a run reads from the repository, and where it would write if it got lost there.

    (Not the whole repository: other work may change sources while the run goes on.)
    """
    found = {}
    for folder in ("resources", "config", "results", "logs"):
        found.update(files_under(REPO / folder))
    return found


class FullRun:
    def __init__(self, root: Path, inputs: Path, workdir: Path) -> None:
        self.root, self.inputs, self.workdir = root, inputs, workdir

    def __truediv__(self, relative: str) -> Path:
        return self.workdir / relative


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> tuple[FullRun, dict, dict]:
    root = tmp_path_factory.mktemp("reliability")
    inputs = root / "in put's $x; y & z"
    workdir = root / "run dir 'q' $HOME"
    inputs.mkdir()
    workdir.mkdir()
    sources = {
        "t1": first_reads(DATA / "reads" / "human_truseq_1_2k.fastq.gz"),
        "t2": first_reads(REPO / "resources" / "demo" / "truseq_2.fastq.gz"),
        "e1": first_reads(REPO / "resources" / "demo" / "encode_trimmed_1.fastq.gz"),
        "e2": first_reads(REPO / "resources" / "demo" / "encode_trimmed_2.fastq.gz"),
        "zero": reads_without_mirnas(500),
    }
    sheet = ["sample\tfastq\tprotocol\tcondition"]
    for sample, data in sources.items():
        (inputs / FASTQ_NAMES[sample]).write_bytes(data)
        protocol = "illumina" if sample == "zero" else ""
        sheet.append(f"{sample}\t{inputs / FASTQ_NAMES[sample]}\t{protocol}\t{CONDITIONS[sample]}")
    (workdir / SHEET_NAME).write_text("\n".join(sheet) + "\n")
    (workdir / "config.yaml").write_text(
        f'samples: "{SHEET_NAME}"\n'
        "design: '~ condition'\n"
        "contrasts:\n"
        "  encode_vs_truseq: {variable: condition, level: encode, reference: truseq}\n"
        # The first 2,000 reads of the ENCODE chr19 files are mostly off miRNAs (1-11 %
        # miRNA, 13-15 % annotated): the default fraction checks would rightly fail e1 and
        # e2, and these tests are about the empty sample.
        "quality_gate: {min_mirna_reads: 20, min_mirna_fraction: 0, min_annotated_fraction: 0}\n"
    )
    before = {"outside": files_under(root, skip=workdir), "repo": repo_inputs()}
    snakemake(workdir, "--configfile", str(workdir / "config.yaml"), "--cores", "2")
    after = {"outside": files_under(root, skip=workdir), "repo": repo_inputs()}
    return FullRun(root, inputs, workdir), before, after


@pytest.fixture(scope="module")
def run(full_run) -> FullRun:
    return full_run[0]


# --- hostile names and paths -----------------------------------------------------------


@pytest.mark.e2e
def test_fastq_paths_with_shell_metacharacters_are_read_end_to_end(run):
    fates = {row[0]: row for row in read_table(run / "results/qc/read_fates.tsv")[1:]}
    assert sorted(fates) == sorted(FASTQ_NAMES)
    for sample in ("t1", "t2", "e1", "e2"):
        assert int(fates[sample][1]) == READS_PER_SAMPLE, sample
    assert int(fates["zero"][1]) == 500
    assert (run / "results/multiqc/multiqc_report.html").stat().st_size > 0
    provenance = (run / "results/provenance.yaml").read_text()
    assert SHEET_NAME in provenance


@pytest.mark.e2e
def test_count_matrix_columns_follow_the_sheet(run):
    header = read_table(run / "results/counts/mature_counts.tsv")[0]
    assert header == ["mirna", "t1", "t2", "e1", "e2", "zero"]


@pytest.mark.e2e
def test_no_shell_ever_ran_a_metacharacter_in_a_path(run):
    for folder in (run.root, REPO, Path.cwd()):
        assert not list(folder.rglob(f"{CANARY}*")), folder


@pytest.mark.e2e
def test_nothing_is_written_outside_the_working_directory(full_run):
    _, before, after = full_run
    assert after["outside"] == before["outside"]
    assert after["repo"] == before["repo"]


def sheet_fastqs(folder: Path, cell: str) -> list[Path]:
    (folder / "samples.tsv").write_text(f"sample\tfastq\ns1\t{cell}\n")
    return read_sample_sheet(folder / "samples.tsv", base_dir=folder).samples[0].fastq


def test_a_fastq_path_containing_a_semicolon_is_one_file(tmp_path):
    (tmp_path / "a;b.fastq.gz").write_bytes(b"")
    assert sheet_fastqs(tmp_path, "a;b.fastq.gz") == [tmp_path / "a;b.fastq.gz"]


def test_a_cell_that_is_no_file_as_a_whole_is_split_at_semicolons(tmp_path):
    (tmp_path / "a;b.fastq.gz").write_bytes(b"")
    (tmp_path / "c.fq").write_bytes(b"")
    with pytest.raises(ExomirError, match="line 2, column fastq: file 'a' does not exist"):
        sheet_fastqs(tmp_path, "c.fq;a;b.fastq.gz")


def test_semicolon_still_separates_lanes(tmp_path):
    for name in ("L1.fq", "L2.fq"):
        (tmp_path / name).write_bytes(b"")
    assert sheet_fastqs(tmp_path, "L1.fq; L2.fq") == [tmp_path / "L1.fq", tmp_path / "L2.fq"]


# --- the exomir command line ------------------------------------------------------------


def test_command_errors_name_the_sample_once(tmp_path, capsys):
    missing = tmp_path / "gone.fastq.gz"
    args = ["--fastq", str(missing), "--protocol", "auto", "--out", str(tmp_path / "p.json")]
    assert main(["detect-kit", "--sample", "s1", *args]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"exomir detect-kit: error: {missing}: ")
    assert error.endswith(" (sample s1)\n") and error.count("\n") == 1
    assert not (tmp_path / "p.json").exists()


def test_a_command_imports_only_its_own_module():
    code = (
        "import sys\nfrom exomir.cli import main\n"
        "try:\n    main(['download', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('exomir.commands.')))"
    )
    result = subprocess.run([str(BIN / "python"), "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == "['exomir.commands.download']"


# --- a sample with no miRNA reads ---------------------------------------------------------


@pytest.mark.e2e
def test_sample_without_mirna_reads_stays_in_the_tables_with_zeros(run):
    for table in ("mature_counts", "mature_cpm", "hairpin_counts", "spikein_counts"):
        values = column(run / f"results/counts/{table}.tsv", "zero")
        assert values and all(float(v) == 0 for v in values), table
    other = column(run / "results/counts/mature_counts.tsv", "t1")
    assert sum(float(v) for v in other) > 0
    fates = {
        row[0]: dict(zip(read_table(run / "results/qc/read_fates.tsv")[0], row, strict=True))
        for row in read_table(run / "results/qc/read_fates.tsv")[1:]
    }
    assert float(fates["zero"]["mature"]) == 0
    assert float(fates["zero"]["input"]) == 500


@pytest.mark.e2e
def test_sample_without_mirna_reads_is_flagged_by_the_quality_gate(run):
    rows = read_table(run / "results/qc/ev_quality.tsv")
    quality = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert quality["zero"]["overall"] == "FAIL"
    assert "mirna_reads" in quality["zero"]["failed_checks"]
    assert {s for s, q in quality.items() if q["overall"] == "FAIL"} == {"zero"}


@pytest.mark.e2e
def test_de_runs_without_the_empty_sample_and_says_why(run):
    summary = json.loads((run / "results/de/encode_vs_truseq.json").read_text())
    assert summary["excluded_samples"] == {"zero": "no miRNA reads"}
    assert summary["samples_in_fit"] == ["t1", "t2", "e1", "e2"]
    assert len(read_table(run / "results/de/encode_vs_truseq.tsv")) > 10
    factors = {row[0]: row[1] for row in read_table(run / "results/de/size_factors.tsv")[1:]}
    assert factors["zero"] == "NA" and float(factors["t1"]) > 0
    assert set(column(run / "results/de/normalized_counts.tsv", "zero")) == {"NA"}


def count_matrix_with_an_empty_sample(samples: list[str], empty: str, seed: int = 3) -> str:
    rng = random.Random(seed)
    lines = ["mirna\t" + "\t".join(samples)]
    for i in range(40):
        values = [0 if s == empty else rng.randint(5, 500) for s in samples]
        lines.append(f"hsa-miR-{i + 1}-5p\t" + "\t".join(map(str, values)))
    return "\n".join(lines) + "\n"


@pytest.mark.e2e
def test_de_explains_why_a_group_left_with_one_sample_cannot_be_tested(tmp_path):
    samples = ["t1", "zero", "t2", "e1", "e2"]
    (tmp_path / "counts.tsv").write_text(count_matrix_with_an_empty_sample(samples, "zero"))
    # No condition or batch column: the PCA is coloured by the contrast's variable instead.
    (tmp_path / "samples.tsv").write_text("sample\tpair\nt1\tx\nzero\tx\nt2\ty\ne1\ty\ne2\ty\n")
    (tmp_path / "config.yaml").write_text(
        "samples: samples.tsv\ncounts_matrix: counts.tsv\ndesign: '~ pair'\n"
        "contrasts:\n  x_vs_y: {variable: pair, level: x, reference: y}\n"
    )
    config = ["--configfile", str(tmp_path / "config.yaml"), "--cores", "2"]
    result = snakemake(tmp_path, *config, "results/de/x_vs_y.tsv", check=False)
    assert result.returncode != 0
    assert "logs/de/x_vs_y.log" in result.stderr
    log = (tmp_path / "logs/de/x_vs_y.log").read_text()
    errors = [line for line in log.splitlines() if ": error: " in line]
    assert len(errors) == 1, log
    assert "zero (no miRNA reads)" in errors[0] and "'x'" in errors[0]
    assert not list((tmp_path / "results" / "de").glob("x_vs_y*"))
    assert (tmp_path / "results/de/plots/pca_pair.png").is_file()


def test_pca_colours_follow_condition_batch_and_the_contrast_variables():
    spec = {"contrasts": {"b": {"variable": "pair"}, "a": {"variable": "condition"}}}
    assert pca_columns(spec, ["sample", "pair"]) == ["pair"]
    assert pca_columns(spec, ["sample", "pair", "batch", "condition"]) == [
        "condition",
        "batch",
        "pair",
    ]
    assert pca_columns({}, ["sample"]) == []


# --- reproducibility ----------------------------------------------------------------------


def snapshot(run: FullRun, paths) -> dict[str, bytes]:
    return {path: (run / path).read_bytes() for path in paths}


@pytest.mark.e2e
def test_rerunning_a_contrast_gives_a_byte_identical_table(run):
    """A fresh process fits the same contrast again: same bytes (no seed or order effects)."""
    table = "results/de/encode_vs_truseq.tsv"
    before = snapshot(run, [table, "results/de/encode_vs_truseq.json"])
    log = run / "logs/de/encode_vs_truseq.log"
    log.unlink()
    config = ["--configfile", str(run / "config.yaml"), "--cores", "2"]
    # Target first: --forcerun takes every rule name that follows it.
    snakemake(run.workdir, *config, table, "--forcerun", "de_contrast")
    assert log.exists()  # the job did run again
    assert snapshot(run, [table, "results/de/encode_vs_truseq.json"]) == before


@pytest.mark.e2e
@pytest.mark.slow
def test_a_second_full_run_gives_byte_identical_counts_and_de_tables(run):
    before = snapshot(run, COUNT_TABLES + DE_TABLES)
    snakemake(run.workdir, "--configfile", str(run / "config.yaml"), "--cores", "2", "--forceall")
    assert snapshot(run, COUNT_TABLES + DE_TABLES) == before


# --- downloads through the workflow -------------------------------------------------------


def mirbase_files() -> dict[str, bytes]:
    return {
        name: gzip.decompress((REPO / "resources/mirbase" / f"{name}.gz").read_bytes())
        for name in ("mature.fa", "hairpin.fa")
    }


def download_run(workdir: Path, base_url: str, md5: dict[str, str]) -> Path:
    workdir.mkdir()
    shutil.copy(DATA / "reads" / "human_truseq_1_2k.fastq.gz", workdir / "r.fastq.gz")
    (workdir / "samples.tsv").write_text("sample\tfastq\ns1\tr.fastq.gz\n")
    md5_lines = "".join(f"    {name}: {value}\n" for name, value in md5.items())
    (workdir / "config.yaml").write_text(
        "samples: samples.tsv\n"
        "reference:\n"
        "  source: download\n"
        f"  base_url: {base_url}/\n" + ("  md5:\n" + md5_lines if md5 else "")
    )
    return workdir


@pytest.mark.e2e
def test_downloaded_reference_is_verified_and_a_cut_transfer_is_retried(http_server, tmp_path):
    files = mirbase_files()
    cut = http_server.Reply(200, files["mature.fa"], truncate_to=len(files["mature.fa"]) // 3)
    http_server.serve("/mature.fa", cut, files["mature.fa"])
    http_server.serve("/hairpin.fa", files["hairpin.fa"])
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in files.items()}
    workdir = download_run(tmp_path / "ok", http_server.base_url, md5)
    snakemake(
        workdir,
        "--configfile",
        str(workdir / "config.yaml"),
        "--cores",
        "2",
        "results/reference/reference.json",
    )
    for name, data in files.items():
        assert (workdir / "results/reference/download" / name).read_bytes() == data
    assert http_server.hits("/mature.fa") == 2
    assert "truncated body" in (workdir / "logs/reference/download_mature.fa.log").read_text()
    assert (workdir / "results/reference/hairpin.fa").stat().st_size > 0


@pytest.mark.e2e
def test_md5_mismatch_fails_the_download_and_keeps_no_file(http_server, tmp_path):
    files = mirbase_files()
    for name, data in files.items():
        http_server.serve(f"/{name}", data)
    wrong = "0123456789abcdef" * 2
    workdir = download_run(tmp_path / "bad", http_server.base_url, {"mature.fa": wrong})
    result = snakemake(
        workdir,
        "--configfile",
        str(workdir / "config.yaml"),
        "--cores",
        "2",
        "results/reference/reference.json",
        check=False,
    )
    assert result.returncode != 0
    log = workdir / "logs/reference/download_mature.fa.log"
    assert str(log.relative_to(workdir)) in result.stderr
    message = log.read_text().strip()
    assert message.count("\n") == 0
    assert "md5 mismatch" in message and f"expected {wrong}" in message
    assert f"{http_server.base_url}/mature.fa" in message
    downloads = workdir / "results/reference/download"
    left = [p.name for p in downloads.iterdir()] if downloads.exists() else []
    assert not [name for name in left if "mature" in name]
    assert not (workdir / "results/reference/reference.json").exists()


@pytest.mark.e2e
@pytest.mark.slow
def test_a_transfer_cut_every_time_fails_after_its_retries_and_keeps_no_file(http_server, tmp_path):
    files = mirbase_files()
    http_server.serve("/mature.fa", http_server.Reply(200, files["mature.fa"], truncate_to=1000))
    workdir = download_run(tmp_path / "cut", http_server.base_url, {})
    target = "results/reference/download/mature.fa"
    config = ["--configfile", str(workdir / "config.yaml"), "--cores", "1"]
    result = snakemake(workdir, *config, target, check=False)
    assert result.returncode != 0
    assert http_server.hits("/mature.fa") == 5  # the first try and 4 retries
    log = (workdir / "logs/reference/download_mature.fa.log").read_text()
    errors = [line for line in log.splitlines() if ": error: " in line]
    assert len(errors) == 1
    assert "failed after 5 attempts" in errors[0] and "truncated body" in errors[0]
    downloads = workdir / "results/reference/download"
    assert not downloads.exists() or not list(downloads.iterdir())
