"""Broken and unusual read files through the real workflow: clear errors, nothing half-written.

One run holds a sample per case (``--keep-going``, targets up to trimming, where reads are
read): each broken file must fail its own sample's job with a one-line message in the job's
log naming the sample and the file, leave none of that job's outputs behind, and not stop
the other samples. Unusual but readable input must give exactly the inserts of the clean
reads, with a warning in the log where the input deserves a second look.

Mistakes in the sample sheet or config must stop the workflow while it loads, before any
job runs, with one line naming the file and the line/column or key.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import DATA, snakemake, snakemake_command, workflow_env

pytestmark = pytest.mark.e2e

SOURCE_READS = DATA / "reads" / "human_truseq_1_2k.fastq.gz"
TRIMMED_READS = DATA / "reads" / "human_encode_trimmed_rep1_2k.fastq.gz"
# Kit detection reads the first 100,000 reads; damage after them is found while trimming.
DETECTION_READS = 100_000


def fastq_records(path: Path) -> list[list[str]]:
    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()
    return [lines[i : i + 4] for i in range(0, len(lines), 4)]


def with_n_calls(records: list[list[str]]) -> list[list[str]]:
    """Every fifth read gets an N in its insert, so '.'/lower-case handling is visible."""
    changed = []
    for i, (name, sequence, plus, quality) in enumerate(records):
        if i % 5 == 0:
            sequence = sequence[:3] + "N" + sequence[4:]
        changed.append([name, sequence, plus, quality])
    return changed


def text(records: list[list[str]], newline: str = "\n") -> str:
    return "".join(newline.join(record) + newline for record in records)


def gzipped(data: str) -> bytes:
    return gzip.compress(data.encode(), mtime=0)


def interleaved(records: list[list[str]]) -> str:
    pairs = []
    for name, sequence, plus, quality in records:
        stem = name.split()[0]
        pairs += [[f"{stem}/1", sequence, plus, quality], [f"{stem}/2", sequence, plus, quality]]
    return text(pairs)


def late_truncation(records: list[list[str]]) -> bytes:
    """More reads than detection looks at, gzip cut short near the end."""
    repeats = DETECTION_READS // len(records) + 10
    whole = gzip.compress(text(records * repeats).encode(), compresslevel=1, mtime=0)
    return whole[:-2000]


# sample -> (file name, content, per-sample protocol or "")
def input_files(workdir: Path) -> dict[str, tuple[str, str]]:
    records = with_n_calls(fastq_records(SOURCE_READS))
    clean = text(records)
    lowercase = [[n, s.lower(), p, q] for n, s, p, q in records]
    dots = [[n, s.replace("N", "."), p, q] for n, s, p, q in records]
    mismatch = [list(r) for r in records]
    mismatch[7][3] = mismatch[7][3][:-1]
    no_plus = [list(r) for r in records]
    no_plus[3][2] = no_plus[3][1]
    whole_gzip = gzipped(clean)
    files: dict[str, tuple[str, bytes, str]] = {
        "clean": ("clean.fastq.gz", whole_gzip, ""),
        "crlf": ("crlf.fastq", text(records, "\r\n").encode(), ""),
        "lowercase": ("lowercase.fastq.gz", gzipped(text(lowercase)), ""),
        "dots": ("dots.fq", text(dots).encode(), ""),
        "fasta": ("reads.fa", "".join(f">{n[1:]}\n{s}\n" for n, s, _, _ in records).encode(), ""),
        "trimmed_declared": ("trimmed_a.fastq.gz", TRIMMED_READS.read_bytes(), "illumina"),
        "trimmed_auto": ("trimmed_b.fastq.gz", TRIMMED_READS.read_bytes(), ""),
        "truncated": ("truncated.fastq.gz", whole_gzip[: len(whole_gzip) // 2], ""),
        "truncated_late": ("late.fastq.gz", late_truncation(records), "illumina"),
        "mismatch": ("mismatch.fastq", text(mismatch).encode(), ""),
        "no_plus": ("no_plus.fastq", text(no_plus).encode(), ""),
        "zero_bytes": ("zero.fastq", b"", ""),
        "empty_gzip": ("empty.fastq.gz", gzipped(""), ""),
        "interleaved": ("interleaved.fastq", interleaved(records).encode(), ""),
        "not_reads": ("notes.txt", b"sample\tcondition\nA\tx\n", ""),
    }
    sheet = ["sample\tfastq\tprotocol"]
    for sample, (name, content, protocol) in files.items():
        (workdir / name).write_bytes(content)
        sheet.append(f"{sample}\t{name}\t{protocol}")
    (workdir / "samples.tsv").write_text("\n".join(sheet) + "\n")
    (workdir / "config.yaml").write_text("samples: samples.tsv\nprotocol: auto\n")
    return {sample: (name, protocol) for sample, (name, _, protocol) in files.items()}


class BadRun:
    def __init__(self, workdir: Path, files: dict[str, tuple[str, str]], result) -> None:
        self.workdir = workdir
        self.files = files
        self.result = result

    def path(self, sample: str) -> Path:
        return self.workdir / self.files[sample][0]

    def log(self, sample: str) -> str:
        return (self.workdir / "logs" / "trim" / f"{sample}.log").read_text()

    def outputs(self, sample: str) -> list[str]:
        folder = self.workdir / "results" / "trimmed" / sample
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

    def stats(self, sample: str) -> dict:
        return json.loads(
            (self.workdir / "results/trimmed" / sample / "trim_stats.json").read_text()
        )

    def protocol(self, sample: str) -> dict:
        return json.loads((self.workdir / "results/trimmed" / sample / "protocol.json").read_text())


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory) -> BadRun:
    workdir = tmp_path_factory.mktemp("bad_input")
    files = input_files(workdir)
    targets = [f"results/trimmed/{sample}/trim_stats.json" for sample in files]
    result = snakemake(
        workdir,
        "--configfile",
        str(workdir / "config.yaml"),
        "--cores",
        "2",
        "--keep-going",
        *targets,
        check=False,
    )
    return BadRun(workdir, files, result)


BROKEN = {
    # sample: what the message says
    "truncated": "truncated compressed file",
    "truncated_late": "truncated compressed file",  # past the reads kit detection looks at
    "mismatch": "Length of sequence and qualities differ",
    "no_plus": "expected to start with '+'",
    "zero_bytes": "contains no reads",
    "empty_gzip": "contains no reads",
    "interleaved": "interleaved read pair",
    "not_reads": "neither FASTQ nor FASTA",
}
ACCEPTED = ("crlf", "lowercase", "dots", "fasta")


def test_the_run_fails_but_finishes_every_good_sample(bad_run):
    assert bad_run.result.returncode != 0
    for sample in ("clean", *ACCEPTED, "trimmed_declared", "trimmed_auto"):
        assert "trim_stats.json" in bad_run.outputs(sample), sample


@pytest.mark.parametrize("sample", sorted(BROKEN))
def test_broken_file_fails_with_one_line_naming_sample_and_file(bad_run, sample):
    problem = BROKEN[sample]
    errors = [line for line in bad_run.log(sample).splitlines() if ": error: " in line]
    assert len(errors) == 1, bad_run.log(sample)
    message = errors[0]
    assert message.startswith("exomir trim: error: ")
    assert str(bad_run.path(sample)) in message
    assert f"sample {sample}" in message
    assert problem in message


@pytest.mark.parametrize("sample", sorted(BROKEN))
def test_snakemake_output_points_at_the_failed_sample_and_its_log(bad_run, sample):
    assert f"logs/trim/{sample}.log" in bad_run.result.stderr


@pytest.mark.parametrize("sample", sorted(BROKEN))
def test_broken_file_leaves_no_output_of_the_failed_job(bad_run, sample):
    # Not even protocol.json, although kit detection (the first reads) succeeded for
    # truncated_late: it is an output of the job that failed.
    assert bad_run.outputs(sample) == []


@pytest.mark.parametrize("sample", ACCEPTED)
def test_unusual_but_readable_input_gives_the_clean_inserts(bad_run, sample):
    folder = bad_run.workdir / "results" / "trimmed"
    inserts = (folder / sample / "inserts.fa").read_bytes()
    assert inserts == (folder / "clean" / "inserts.fa").read_bytes()
    assert b"N" in inserts  # the N calls (and '.') made it through, as N
    clean, stats = bad_run.stats("clean"), bad_run.stats(sample)
    for key in ("input", "passed", "adapter_dimer", "too_short", "too_long", "no_adapter"):
        assert stats[key] == clean[key], key
    assert bad_run.protocol(sample)["protocol"] == bad_run.protocol("clean")["protocol"]


def test_fasta_input_is_accepted_with_a_warning_in_log_and_stats(bad_run):
    warning = "FASTA input (no base qualities)"
    assert warning in bad_run.log("fasta")
    assert "sample fasta" in bad_run.log("fasta")
    assert any(warning in w for w in bad_run.stats("fasta")["warnings"])
    # The clean reads draw only the kit decision's warnings (TruSeq/NEXTflex share an adapter).
    logged = [line for line in bad_run.log("clean").splitlines() if ": warning: " in line]
    assert len(logged) == len(bad_run.protocol("clean")["warnings"])
    assert not bad_run.stats("clean")["warnings"]


def test_already_trimmed_reads_declared_with_an_adapter_kit_are_kept_and_warned(bad_run):
    stats = bad_run.stats("trimmed_declared")
    # A few reads end in 3+ nt that look like the adapter's start and are clipped.
    assert stats["no_adapter"] > 0.95 * stats["input"]
    # Not dropped: inserts in the length window pass as they are.
    assert stats["passed"] > 0.9 * bad_run.stats("trimmed_auto")["passed"]
    assert "look already trimmed" in bad_run.log("trimmed_declared")
    assert any("protocol: trimmed" in w for w in stats["warnings"])


def test_already_trimmed_reads_are_detected_and_said_with_auto(bad_run):
    protocol = bad_run.protocol("trimmed_auto")
    assert protocol["protocol"] == "trimmed"
    assert "already adapter-trimmed" in bad_run.log("trimmed_auto")
    stats = bad_run.stats("trimmed_auto")
    assert stats["no_adapter"] == stats["input"]  # no adapter was searched for
    assert stats["passed"] > stats["input"] / 2


def test_rerun_after_replacing_the_broken_file_completes(bad_run, tmp_path):
    """The failed job left nothing a rerun would trust: fixing the file is enough."""
    workdir = tmp_path / "rerun"
    shutil.copytree(bad_run.workdir, workdir, ignore=shutil.ignore_patterns("locks"))
    shutil.copy(workdir / "clean.fastq.gz", workdir / "late.fastq.gz")
    target = "results/trimmed/truncated_late/trim_stats.json"
    snakemake(workdir, "--configfile", str(workdir / "config.yaml"), "--cores", "1", target)
    stats = json.loads((workdir / target).read_text())
    assert stats["input"] == bad_run.stats("clean")["input"]


# --- checked before any job runs -----------------------------------------------------------

GOOD_SHEET = (
    "sample\tfastq\tcondition\n"
    "a1\tr.fq\tsensitive\n"
    "a2\tr.fq\tsensitive\n"
    "b1\tr.fq\tresistant\n"
    "b2\tr.fq\tresistant\n"
)
CONTRAST = "contrasts:\n  c: {variable: condition, level: resistant, reference: sensitive}\n"
# case: (config text, sheet text, what the one-line message must say)
INVALID = {
    "duplicate_name": (
        "",
        "sample\tfastq\ns1\tr.fq\ns1\tr.fq\n",
        ["samples.tsv, line 3, column sample: duplicate sample name 's1'"],
    ),
    "shell_in_name": (
        "",
        "sample\tfastq\n$(touch pwned)\tr.fq\n",
        ["samples.tsv, line 2, column sample: '$(touch pwned)' is not a valid sample name"],
    ),
    "missing_fastq": (
        "",
        "sample\tfastq\ns1\tr.fq\ns2\tnope.fq.gz\n",
        ["samples.tsv, line 3, column fastq: file 'nope.fq.gz' does not exist"],
    ),
    "fastq_is_a_folder": (
        "",
        "sample\tfastq\ns1\tfolder\n",
        ["samples.tsv, line 2, column fastq: 'folder' is not a readable file"],
    ),
    "unknown_level": (
        CONTRAST.replace("resistant", "resitant"),
        GOOD_SHEET,
        ["samples.tsv: contrast 'c': level 'resitant' does not occur in column 'condition'"],
    ),
    "one_replicate": (
        CONTRAST,
        GOOD_SHEET.replace("b2\tr.fq\tresistant\n", ""),
        ["contrast 'c'", "'resistant' has 1 sample(s)"],
    ),
    "wrong_type": ("min_length: ten\n", GOOD_SHEET, ["config.yaml: key 'min_length'", "'ten'"]),
    "unknown_key": ("protocl: auto\n", GOOD_SHEET, ["config.yaml: key '(top level)'", "'protocl'"]),
}


@pytest.fixture(scope="module")
def invalid_runs(tmp_path_factory) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    """Every invalid setup, run at once (each fails while loading: seconds of CPU each)."""
    started = {}
    for case, (config, sheet, _) in INVALID.items():
        workdir = tmp_path_factory.mktemp(case)
        (workdir / "r.fq").write_text("@r\nACGT\n+\nIIII\n")
        (workdir / "folder").mkdir()
        (workdir / "samples.tsv").write_text(sheet)
        (workdir / "config.yaml").write_text("samples: samples.tsv\n" + config)
        command = snakemake_command(
            workdir, "--configfile", str(workdir / "config.yaml"), "--cores", "1"
        )
        started[case] = (
            workdir,
            subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=workflow_env(),
            ),
        )
    finished = {}
    for case, (workdir, process) in started.items():
        stdout, stderr = process.communicate(timeout=300)
        finished[case] = (
            workdir,
            subprocess.CompletedProcess([], process.returncode, stdout, stderr),
        )
    return finished


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_setup_fails_before_any_job_with_one_clear_line(invalid_runs, case):
    workdir, result = invalid_runs[case]
    assert result.returncode != 0
    expected = INVALID[case][2]
    lines = [line for line in result.stderr.splitlines() if all(e in line for e in expected)]
    assert lines, result.stderr[-2000:]
    assert str(workdir) in lines[0]  # the file is named with its full path
    assert not (workdir / "results").exists()
    assert not (workdir / "logs").exists()
    assert not list(workdir.rglob("pwned*"))
