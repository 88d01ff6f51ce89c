"""Fetching a sample's runs into one FASTQ.gz: ENA over HTTP(S) and a fasterq-dump stand-in."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from exomir import runs
from exomir.cli import main
from exomir.errors import ExomirError
from exomir.geo import Run, RunFile, Services, parse_read_runs

pytest_plugins = ["httpserver", "geo_archive"]

FASTQ_DIR = Path(__file__).resolve().parent / "data" / "geo" / "fastq"


def fetch(archive, tmp_path: Path, *accessions: str, **options) -> dict:
    options.setdefault("services", archive.services)
    return runs.fetch_sample(
        "S1", list(accessions), tmp_path / "S1.fastq.gz", tmp_path / "S1.json", **options
    )


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def reads(data: bytes) -> list[str]:
    return gzip.decompress(data).decode().splitlines()[1::4]


# --- ENA ------------------------------------------------------------------------------------


def test_single_run_is_downloaded_verified_and_reported(archive, tmp_path):
    report = fetch(archive, tmp_path, "SRR9000101")
    expected = archive.fastq_bytes("SRR9000101.fastq.gz")
    assert (tmp_path / "S1.fastq.gz").read_bytes() == expected
    assert report["md5"] == hashlib.md5(expected).hexdigest()
    (run,) = report["runs"]
    assert run["run"] == "SRR9000101"
    assert run["md5_verified"] is True
    assert run["source"].endswith("/fastq/SRR9000101.fastq.gz")
    assert run["read_count_ena"] == 200
    assert report["layout"] == "SINGLE"
    assert report["notes"] == []


def test_report_json_on_disk_matches_the_returned_document(archive, tmp_path):
    report = fetch(archive, tmp_path, "SRR9000101")
    assert json.loads((tmp_path / "S1.json").read_text()) == report


def test_two_runs_are_merged_in_the_order_given(archive, tmp_path):
    fetch(archive, tmp_path, "SRR9000103", "SRR9000102")
    merged = (tmp_path / "S1.fastq.gz").read_bytes()
    first, second = (archive.fastq_bytes(f"{r}.fastq.gz") for r in ("SRR9000103", "SRR9000102"))
    assert merged == first + second
    assert reads(merged) == reads(first) + reads(second)


def test_merged_report_lists_runs_in_order_with_total_size(archive, tmp_path):
    report = fetch(archive, tmp_path, "SRR9000102", "SRR9000103")
    assert [run["run"] for run in report["runs"]] == ["SRR9000102", "SRR9000103"]
    assert report["bytes"] == sum(run["bytes"] for run in report["runs"])


def test_paired_run_keeps_r1_only_and_says_so(archive, tmp_path, caplog):
    report = fetch(archive, tmp_path, "SRR9000104")
    assert (tmp_path / "S1.fastq.gz").read_bytes() == archive.fastq_bytes("SRR9000104_1.fastq.gz")
    assert archive.hits("/fastq/SRR9000104_2.fastq.gz") == 0
    assert report["layout"] == "PAIRED (R1 only)"
    assert report["runs"][0]["file"] == "SRR9000104_1.fastq.gz"
    assert any("using R1 only" in note for note in report["notes"])
    assert "using R1 only" in caplog.text


def test_paired_upload_in_a_single_file_is_refused(archive, tmp_path):
    with pytest.raises(ExomirError, match="SRR9000161: library_layout is PAIRED but ENA has one"):
        fetch(archive, tmp_path, "SRR9000161")
    assert leftovers(tmp_path) == []


def test_run_without_fastq_at_ena_suggests_fasterq_dump(archive, tmp_path):
    with pytest.raises(ExomirError, match="SRR9000171: ENA lists no FASTQ files.*fasterq-dump"):
        fetch(archive, tmp_path, "SRR9000171")


def test_unknown_run_is_an_error_naming_it_and_leaves_nothing(archive, tmp_path):
    archive.serve(archive.report_route("SRR9999999"), archive.Reply(204, b""))
    with pytest.raises(ExomirError, match="run SRR9999999: unknown to ENA"):
        fetch(archive, tmp_path, "SRR9999999")
    assert leftovers(tmp_path) == []


def test_404_on_the_fastq_fails_at_once_naming_the_url(archive, tmp_path, waits):
    archive.serve("/fastq/SRR9000101.fastq.gz", 404)
    with pytest.raises(ExomirError, match=r"^HTTP 404 for http://\S+/fastq/SRR9000101.fastq.gz$"):
        fetch(archive, tmp_path, "SRR9000101")
    assert waits == []
    assert leftovers(tmp_path) == []


def test_429_then_success_downloads_the_file(archive, tmp_path, waits):
    archive.serve(
        "/fastq/SRR9000101.fastq.gz",
        archive.Reply(429, b"", {"Retry-After": "2"}),
        archive.fastq_bytes("SRR9000101.fastq.gz"),
    )
    fetch(archive, tmp_path, "SRR9000101")
    assert (tmp_path / "S1.fastq.gz").read_bytes() == archive.fastq_bytes("SRR9000101.fastq.gz")
    assert archive.hits("/fastq/SRR9000101.fastq.gz") == 2
    assert waits == [2.0]


def test_truncated_download_leaves_nothing_and_a_rerun_succeeds(archive, tmp_path, waits):
    body = archive.fastq_bytes("SRR9000103.fastq.gz")
    archive.serve("/fastq/SRR9000103.fastq.gz", archive.Reply(200, body, truncate_to=1000))
    with pytest.raises(ExomirError, match="truncated body: got 1000 of"):
        fetch(archive, tmp_path, "SRR9000102", "SRR9000103")
    assert leftovers(tmp_path) == []
    archive.serve("/fastq/SRR9000103.fastq.gz", body)
    fetch(archive, tmp_path, "SRR9000102", "SRR9000103")
    assert (tmp_path / "S1.fastq.gz").read_bytes().endswith(body)
    assert leftovers(tmp_path) == ["S1.fastq.gz", "S1.json"]


def test_md5_mismatch_is_an_error_and_leaves_nothing(archive, tmp_path, waits):
    report = archive.fill(
        "run_accession\tlibrary_layout\tfastq_ftp\tfastq_md5\tfastq_bytes\n"
        f"SRR9000101\tSINGLE\t{{base}}/fastq/SRR9000101.fastq.gz\t{'0' * 32}\t4429\n"
    )
    archive.serve(archive.report_route("SRR9000101"), report.encode())
    with pytest.raises(ExomirError, match=f"md5 mismatch for .*: expected {'0' * 32}"):
        fetch(archive, tmp_path, "SRR9000101")
    assert archive.hits("/fastq/SRR9000101.fastq.gz") == 1
    assert leftovers(tmp_path) == []


def test_failed_refetch_keeps_the_previous_output(archive, tmp_path, waits):
    fetch(archive, tmp_path, "SRR9000101")
    before = (tmp_path / "S1.fastq.gz").read_bytes()
    archive.serve("/fastq/SRR9000101.fastq.gz", 500)
    with pytest.raises(ExomirError, match="HTTP 500"):
        fetch(archive, tmp_path, "SRR9000101")
    assert (tmp_path / "S1.fastq.gz").read_bytes() == before
    assert leftovers(tmp_path) == ["S1.fastq.gz", "S1.json"]


# --- library kit per run --------------------------------------------------------------------


def test_each_run_records_its_detected_kit(archive, tmp_path):
    report = fetch(archive, tmp_path, "SRR9000102", "SRR9000103")
    assert [run["kit"] for run in report["runs"]] == ["illumina", "illumina"]
    assert all(run["kit_reason"] for run in report["runs"])
    assert report["kit"] == "illumina"
    assert report["warnings"] == []


def test_runs_of_different_kits_give_a_warning(archive, tmp_path):
    report = fetch(archive, tmp_path, "SRR9000101", "ERR9000141")
    assert [run["kit"] for run in report["runs"]] == ["illumina", "qiaseq"]
    assert report["kit"] is None
    (warning,) = report["warnings"]
    assert "SRR9000101: illumina, ERR9000141: qiaseq" in warning


def test_kit_detection_can_be_switched_off(archive, tmp_path):
    report = fetch(archive, tmp_path, "SRR9000101", "ERR9000141", kit_reads=0)
    assert [run["kit"] for run in report["runs"]] == [None, None]
    assert report["warnings"] == []


# --- choosing R1 and checking run lists -----------------------------------------------------


def make_run(layout: str, *names: str) -> Run:
    files = tuple(RunFile(f"ftp.sra.ebi.ac.uk/vol1/{name}", None, None) for name in names)
    return Run("SRR1", "SRS1", None, "", layout, files, {})


def test_r1_is_chosen_among_unpaired_r1_and_r2_files():
    run = make_run("PAIRED", "SRR1.fastq.gz", "SRR1_1.fastq.gz", "SRR1_2.fastq.gz")
    chosen, note = runs.select_r1(run)
    assert chosen.name == "SRR1_1.fastq.gz"
    assert "R1 only" in note


def test_single_end_file_needs_no_note():
    chosen, note = runs.select_r1(make_run("SINGLE", "SRR1.fastq.gz"))
    assert (chosen.name, note) == ("SRR1.fastq.gz", None)


def test_several_files_without_an_r1_are_refused():
    with pytest.raises(ExomirError, match="none is \\*_1.fastq.gz"):
        runs.select_r1(make_run("SINGLE", "a.fastq.gz", "b.fastq.gz"))


@pytest.mark.parametrize(
    ("given", "message"),
    [([], "no run accessions"), (["GSM1"], "'GSM1': not an SRA"), (["SRR1", "SRR1"], "twice")],
)
def test_bad_run_lists_are_refused_before_any_download(archive, tmp_path, given, message):
    with pytest.raises(ExomirError, match=message):
        fetch(archive, tmp_path, *given)
    assert archive.server.requests == []


def test_unknown_method_is_refused(archive, tmp_path):
    with pytest.raises(ExomirError, match="method 'aspera'"):
        fetch(archive, tmp_path, "SRR9000101", method="aspera")


# --- fasterq-dump ---------------------------------------------------------------------------


STAND_IN = """\
#!{python}
# Stand-in for fasterq-dump: "downloads" a run from $FAKE_SRA (tests/data/geo/fastq).
import gzip, os, sys
from pathlib import Path

args = sys.argv[1:]
with open(os.environ["FAKE_SRA_LOG"], "a") as log:
    log.write(" ".join(args) + " | cwd=" + os.getcwd() + "\\n")
run, outdir = args[-1], Path(args[args.index("-O") + 1])
failures = Path(os.environ["FAKE_SRA_LOG"] + ".fail")
if failures.exists() and int(failures.read_text()) > 0:
    failures.write_text(str(int(failures.read_text()) - 1))
    sys.exit("fasterq-dump.3.1.1 err: connection reset while reading remote file")
source = Path(os.environ["FAKE_SRA"])
found = False
for suffix in ("_1", "_2", ""):
    packed = source / f"{{run}}{{suffix}}.fastq.gz"
    if packed.exists() and not (suffix == "" and found):
        (outdir / f"{{run}}{{suffix}}.fastq").write_bytes(gzip.decompress(packed.read_bytes()))
        found = True
if not found:
    sys.exit(f"fasterq-dump.3.1.1 err: invalid accession '{{run}}'")
"""


@pytest.fixture
def sra(tmp_path, monkeypatch) -> Path:
    """A fasterq-dump stand-in first on PATH; returns its argument log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "fasterq-dump"
    script.write_text(STAND_IN.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "fasterq-dump.log"
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), os.environ["PATH"]]))
    monkeypatch.setenv("FAKE_SRA", str(FASTQ_DIR))
    monkeypatch.setenv("FAKE_SRA_LOG", str(log))
    return log


def fetch_sra(tmp_path: Path, *accessions: str, **options) -> dict:
    out = tmp_path / "out"
    options["method"] = "fasterq-dump"
    return runs.fetch_sample(
        "S1", list(accessions), out / "S1.fastq.gz", out / "S1.json", **options
    )


def test_fasterq_dump_output_is_gzipped_with_the_same_reads(sra, tmp_path, waits):
    report = fetch_sra(tmp_path, "SRR9000101")
    got = (tmp_path / "out" / "S1.fastq.gz").read_bytes()
    assert gzip.decompress(got) == gzip.decompress((FASTQ_DIR / "SRR9000101.fastq.gz").read_bytes())
    (run,) = report["runs"]
    assert (run["method"], run["md5_verified"], run["kit"]) == ("fasterq-dump", False, "illumina")
    assert report["md5"] == hashlib.md5(got).hexdigest()


def test_fasterq_dump_is_called_with_split_files_threads_and_outdir(sra, tmp_path, waits):
    fetch_sra(tmp_path, "SRR9000101", threads=3)
    (call,) = sra.read_text().splitlines()
    assert call.startswith("--split-files -e 3 -O ")
    args, cwd = call.split(" | cwd=")
    assert args.split()[-1] == "SRR9000101"
    assert args.split()[-2] == cwd  # scratch files go to the scratch directory


def test_fasterq_dump_paired_run_keeps_r1_and_notes_it(sra, tmp_path, waits):
    report = fetch_sra(tmp_path, "SRR9000104")
    got = gzip.decompress((tmp_path / "out" / "S1.fastq.gz").read_bytes())
    assert got == gzip.decompress((FASTQ_DIR / "SRR9000104_1.fastq.gz").read_bytes())
    assert report["layout"] == "PAIRED (R1 only)"
    assert "using R1 only (SRR9000104_1.fastq)" in report["notes"][0]


def test_fasterq_dump_runs_are_merged_in_order(sra, tmp_path, waits):
    fetch_sra(tmp_path, "SRR9000103", "SRR9000102")
    got = gzip.decompress((tmp_path / "out" / "S1.fastq.gz").read_bytes())
    parts = [(FASTQ_DIR / f"{r}.fastq.gz").read_bytes() for r in ("SRR9000103", "SRR9000102")]
    assert got == b"".join(gzip.decompress(part) for part in parts)


def test_fasterq_dump_transient_failure_is_retried(sra, tmp_path, waits):
    Path(str(sra) + ".fail").write_text("2")
    fetch_sra(tmp_path, "SRR9000101", services=Services(retries=3, backoff=0.5))
    assert len(sra.read_text().splitlines()) == 3
    assert waits == [0.5, 1.0]


def test_fasterq_dump_persistent_failure_names_the_run_and_reason(sra, tmp_path, waits):
    Path(str(sra) + ".fail").write_text("9")
    message = "SRR9000101: fasterq-dump failed after 2 attempts: .*reset"
    with pytest.raises(ExomirError, match=message):
        fetch_sra(tmp_path, "SRR9000101", services=Services(retries=1))
    assert leftovers(tmp_path / "out") == []


def test_fasterq_dump_unknown_accession_is_not_retried(sra, tmp_path, waits):
    message = "SRR9999999: fasterq-dump failed after 1 attempts: .*invalid accession"
    with pytest.raises(ExomirError, match=message):
        fetch_sra(tmp_path, "SRR9999999")
    assert waits == []


def test_missing_fasterq_dump_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ExomirError, match="fasterq-dump is not on PATH"):
        fetch_sra(tmp_path, "SRR9000101")


# --- the command ----------------------------------------------------------------------------


def cli(archive, tmp_path: Path, *accessions: str) -> int:
    return main(
        [
            "fetch-runs",
            "--sample",
            "GSM9000012",
            "--runs",
            *accessions,
            "--method",
            "ena",
            "--ena-portal",
            archive.services.ena_portal,
            "--retries",
            "0",
            "--out",
            str(tmp_path / "GSM9000012.fastq.gz"),
            "--report",
            str(tmp_path / "GSM9000012.json"),
        ]
    )


def test_cli_fetches_and_reports(archive, tmp_path, capsys):
    assert cli(archive, tmp_path, "SRR9000102", "SRR9000103") == 0
    report = json.loads((tmp_path / "GSM9000012.json").read_text())
    assert report["sample"] == "GSM9000012"
    assert "2 run(s)" in capsys.readouterr().err


def test_cli_failure_is_one_line_and_leaves_nothing(archive, tmp_path, capsys):
    archive.serve("/fastq/SRR9000103.fastq.gz", 404)
    assert cli(archive, tmp_path, "SRR9000102", "SRR9000103") == 1
    err = capsys.readouterr().err
    assert err.startswith("exomir fetch-runs: error: HTTP 404 for ") and err.count("\n") == 1
    assert leftovers(tmp_path) == []


def test_recorded_real_paired_run_from_ena_yields_its_r1_file():
    recorded = FASTQ_DIR.parent / "recorded" / "fastqs.txt"
    (run,) = parse_read_runs(recorded.read_text())
    chosen, note = runs.select_r1(run)
    assert chosen.name == "SRR8426358_1.fastq.gz"
    assert chosen.md5 == "be7e88cf6f6fd90f1b1170f1cb367123"
    assert "SRR8426358 is paired-end" in note
