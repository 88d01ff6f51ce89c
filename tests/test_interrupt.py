"""Interrupted runs: kill the whole run mid-way, recover as the README says, get the same counts.

A run is killed (SIGTERM, as a scheduler or Ctrl-C would, or SIGKILL, as the OOM killer or a
power loss would) at a seeded random point: after the k-th job has started, plus a delay.
The documented recovery is then followed literally:

    snakemake ... --unlock
    snakemake ... --rerun-incomplete

and every count table must be byte-identical to an uninterrupted run's. Before recovering,
a plain rerun (no ``--rerun-incomplete``) is tried too: it must either finish correctly or
refuse, naming ``--rerun-incomplete``; it must never trust a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import BIN, DATA, snakemake_command, workflow_env

SEED = 20261125
# Count tables and every per-sample file they are made from; BAMs are left out (their @PG
# header holds temporary file names, and bowtie -p writes reads in thread order).
TARGETS = (
    "results/counts/mature_counts.tsv",
    "results/counts/mature_cpm.tsv",
    "results/counts/hairpin_counts.tsv",
    "results/counts/spikein_counts.tsv",
    "results/counts/isomir_counts.tsv",
    "results/qc/read_fates.tsv",
)
COMPARED_SUFFIXES = (".tsv", ".fa", ".json")
JOB_START = re.compile(r"^(local)?rule \w+:")
# The run above has 24 jobs; killing after at most the 14th start leaves work to interrupt.
LAST_KILL_JOB = 14
MAX_DELAY = 3.0
DEFAULT_POINTS = 2
INDEX_SUFFIXES = (".1.ebwt", ".2.ebwt", ".3.ebwt", ".4.ebwt", ".rev.1.ebwt", ".rev.2.ebwt")
SLOW_POINTS = 6


def kill_points(seed: int, count: int) -> list[tuple[str, int, float]]:
    """(signal name, jobs started before the kill, delay in s); signals alternate."""
    rng = random.Random(seed)
    signals = ("SIGKILL", "SIGTERM")
    return [
        (signals[i % 2], rng.randint(0, LAST_KILL_JOB), round(rng.uniform(0, MAX_DELAY), 2))
        for i in range(count)
    ]


POINTS = kill_points(SEED, DEFAULT_POINTS + SLOW_POINTS)


def point_id(point: tuple[str, int, float]) -> str:
    name, jobs, delay = point
    return f"{name}-after-job-{jobs}-plus-{delay}s"


def command(workdir: Path, *args: str) -> list[str]:
    return snakemake_command(
        workdir, "--configfile", str(workdir / "config.yaml"), "--cores", "2", *args
    )


def run(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(workdir, *args),
        capture_output=True,
        text=True,
        env=workflow_env(),
        timeout=900,
    )


def prepare(workdir: Path) -> Path:
    workdir.mkdir()
    shutil.copy(DATA / "reads" / "human_truseq_1_2k.fastq.gz", workdir / "truseq.fastq.gz")
    shutil.copy(DATA / "reads" / "human_encode_trimmed_rep1_2k.fastq.gz", workdir / "encode.fq.gz")
    (workdir / "config.yaml").write_text("samples: samples.tsv\n")
    (workdir / "samples.tsv").write_text(
        "sample\tfastq\ntruseq\ttruseq.fastq.gz\nencode\tencode.fq.gz\n"
    )
    return workdir


def run_and_kill(workdir: Path, signal_name: str, jobs: int, delay: float) -> tuple[int, str]:
    """Start the run in its own process group; kill the group ``delay`` s after job ``jobs``."""
    process = subprocess.Popen(
        command(workdir, *TARGETS),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=workflow_env(),
        start_new_session=True,
    )

    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):  # the run may have finished
            os.killpg(process.pid, getattr(signal, signal_name))

    timers = []

    def kill_later() -> None:
        timer = threading.Timer(delay, kill)
        timers.append(timer)
        timer.start()

    started = 0
    if jobs == 0:
        kill_later()
    output = []
    for line in process.stdout:
        output.append(line)
        if JOB_START.match(line):
            started += 1
            if started == jobs:
                kill_later()
    process.wait(timeout=900)
    for timer in timers:
        timer.join()
    # Make sure nothing of the killed run is still writing when recovery starts.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    return process.returncode, "".join(output)


def compared_files(workdir: Path) -> dict[str, bytes]:
    results = workdir / "results"
    return {
        str(path.relative_to(workdir)): path.read_bytes()
        for path in sorted(results.rglob("*"))
        if path.is_file() and path.suffix in COMPARED_SUFFIXES and not path.name.startswith(".")
    }


def leftover_temporary_files(workdir: Path) -> list[str]:
    return sorted(str(p.relative_to(workdir)) for p in (workdir / "results").rglob(".*.tmp"))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    workdir = prepare(tmp_path_factory.mktemp("interrupt") / "uninterrupted")
    result = run(workdir, *TARGETS)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


def recover(workdir: Path) -> str:
    """The README's recovery, step by step; returns which path it took."""
    unlock = run(workdir, "--unlock")
    assert unlock.returncode == 0, unlock.stderr[-3000:]
    plain = run(workdir, *TARGETS)
    if plain.returncode == 0:
        return "plain rerun"
    # A plain rerun may refuse (never silently reuse) outputs of a killed job ...
    assert "--rerun-incomplete" in plain.stderr, plain.stderr[-4000:]
    # ... and the documented command reruns them.
    again = run(workdir, "--rerun-incomplete", *TARGETS)
    assert again.returncode == 0, again.stderr[-4000:]
    return "needed --rerun-incomplete"


@pytest.mark.e2e
@pytest.mark.parametrize(
    "point",
    [
        *POINTS[:DEFAULT_POINTS],
        *(pytest.param(p, marks=pytest.mark.slow) for p in POINTS[DEFAULT_POINTS:]),
    ],
    ids=point_id,
)
def test_killed_run_recovers_to_identical_counts(tmp_path, uninterrupted, point):
    signal_name, jobs, delay = point
    workdir = prepare(tmp_path / "run")
    returncode, output = run_and_kill(workdir, signal_name, jobs, delay)
    assert returncode != 0, f"the run finished before the kill:\n{output[-2000:]}"
    if any((workdir / ".snakemake" / "locks").glob("*")):
        # SIGKILL leaves snakemake's lock (and incomplete markers) behind: a rerun refuses
        # and says what to do (which of the two it reports first depends on the kill point).
        locked = run(workdir, *TARGETS)
        assert locked.returncode != 0
        assert "--unlock" in locked.stderr or "--rerun-incomplete" in locked.stderr, locked.stderr[
            -3000:
        ]
    path = recover(workdir)
    print(f"{point_id(point)}: recovered by {path}")  # shown with pytest -rP
    assert compared_files(workdir) == compared_files(uninterrupted)
    if signal_name == "SIGTERM":
        # exomir turns SIGTERM into a clean exit: atomic writes remove their temporary files.
        # (SIGKILL cannot be caught: hidden .NAME.*.tmp files may stay, never as outputs.)
        assert leftover_temporary_files(workdir) == []


def session_runs(session: int, program: bytes) -> bool:
    """Whether a process of ``session`` has ``program`` in its command line."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session and program in (stat.parent / "cmdline").read_bytes():
                return True
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
    return False


@pytest.mark.e2e
def test_a_half_built_index_is_never_trusted(tmp_path, uninterrupted):
    """bowtie-build creates all six index files well before it is done, so a hard kill can
    leave every output of its job in place. A plain rerun refuses to use them; the
    documented --rerun-incomplete rebuilds them."""
    workdir = prepare(tmp_path / "run")
    index = [f"results/reference/bowtie/hairpin{suffix}" for suffix in INDEX_SUFFIXES]
    process = subprocess.Popen(
        command(workdir, index[0]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=workflow_env(),
        start_new_session=True,
    )
    caught = False
    while process.poll() is None and not caught:
        if all((workdir / p).exists() for p in index) and session_runs(
            process.pid, b"bowtie-build"
        ):
            os.killpg(process.pid, signal.SIGKILL)
            caught = True
        time.sleep(0.005)
    process.wait(timeout=300)
    if not caught:
        pytest.skip("bowtie-build finished before all its files could be seen unfinished")
    assert run(workdir, "--unlock").returncode == 0
    plain = run(workdir, index[0])
    assert plain.returncode != 0
    assert "IncompleteFilesException" in plain.stderr and "--rerun-incomplete" in plain.stderr
    again = run(workdir, "--rerun-incomplete", index[0])
    assert again.returncode == 0, again.stderr[-3000:]
    for path in index:
        assert (workdir / path).read_bytes() == (uninterrupted / path).read_bytes(), path


HOLD_AN_ATOMIC_FILE = """
import signal, sys, time
from exomir import cli
from exomir.atomic import atomic_open
signal.signal(signal.SIGTERM, cli._exit_on_sigterm)
with atomic_open(sys.argv[1]) as handle:
    handle.write("half of it")
    handle.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def test_sigterm_mid_write_leaves_neither_output_nor_temporary_file(tmp_path):
    process = subprocess.Popen(
        [str(BIN / "python"), "-c", HOLD_AN_ATOMIC_FILE, str(tmp_path / "out.tsv")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline() == "writing\n"
    assert [p.name for p in tmp_path.iterdir()][0].endswith(".tmp")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []
