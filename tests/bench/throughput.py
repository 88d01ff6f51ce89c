"""Per-sample throughput: exomir's path next to the conventional one (prints Markdown).

    .venv/bin/python tests/bench/throughput.py [--reads 5000000] [--threads 2] [--repeat 1]
        [--workdir DIR] [--keep] [--seed 1]
    .venv/bin/python tests/bench/throughput.py --memory-distinct 10000000 [--workdir DIR]

Not a test. It simulates a realistic library (``tests/tools/simulate.py``: TruSeq small-RNA kit,
50 nt, log-normal miRNA abundances with isomiRs and non-templated additions, adapter
dimers, tRNA and random fragments, quality-dependent sequencing errors), builds the human
reference from the bundled miRBase subset, then times each per-sample stage as its own
process, with the arguments the workflow's rules use:

- ``gzip -dc`` of the FASTQ.gz: the floor any tool reading the file pays;
- ``exomir detect-kit``, ``trim`` (collapse + trim), ``align`` x2 (spike-ins, then
  hairpins), ``count``; the whole per-sample path is their sum (FASTQ.gz to counts);
- the conventional path on the same file: ``cutadapt -j T -a ADAPTER -m 16 -M 30`` on
  every read, ``bowtie`` (exomir's parameters) on every trimmed read, not collapsed,
  against the hairpins, then ``exomir count`` on that BAM. cutadapt renames reads
  ``{id}_x1`` so the same counting code can weigh each read once; both paths must give
  identical mature counts, which the script checks.

Wall time, CPU time (user + sys, children included) and peak RSS (largest process, from
GNU ``time``, which must be installed) are measured; with ``--repeat`` the fastest of the
repeats is kept. CPU time is given because the machine may be shared: wall time moves
with other jobs, CPU time less.

``--memory-distinct N`` instead writes a synthetic FASTQ.gz of N reads that are (nearly)
all distinct — miRNA-like inserts followed by the adapter and a random tail, plus 5 %
random fragments — i.e. the distinct content of a 50-70 M-read library, and reports the
peak RSS and time of ``exomir trim`` on it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from isal import igzip_threaded

# The simulator is a test tool (tests/tools/), importable once tests/ is on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.simulate import simulate_library  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MIRBASE = REPO / "resources" / "mirbase"
TRNA = REPO / "tests" / "data" / "simulate" / "tRNA.fa"
KIT = "illumina"
ADAPTER = "TGGAATTCTCGGGTGCCAAGG"  # workflow/exomir/data/kits.yaml, illumina
MIN_LENGTH, MAX_LENGTH = 16, 30
# Bowtie as exomir.align runs it, minus the collapsed-FASTA input (-f) and --un.
BOWTIE_HAIRPIN = "-v 1 --norc -a --best --strata -S"
GNU_TIME = "/usr/bin/time"  # Debian package "time"


@dataclass
class Stage:
    name: str
    seconds: float
    cpu_seconds: float
    peak_mb: float


def measure(command: Sequence[str], cwd: Path, log: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of ``command`` and its children.

    Peak RSS comes from GNU time: a child forked by this (large) process inherits its
    memory high-water mark in ru_maxrss, one forked by ``time`` does not.
    """
    peak_file = log.with_suffix(".maxrss")
    started = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(
            [GNU_TIME, "-f", "%M", "-o", str(peak_file), *command],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        tail = log.read_text()[-3000:]
        raise SystemExit(f"failed: {' '.join(map(str, command))}\n{tail}")
    peak_kib = int(peak_file.read_text().split()[-1])
    return seconds, usage.ru_utime + usage.ru_stime, peak_kib / 1024


def shell(command: str) -> list[str]:
    return ["/bin/sh", "-c", command]


def run_stage(name: str, command: Sequence[str], workdir: Path, repeat: int) -> Stage:
    """The fastest of ``repeat`` runs (peak memory: the largest seen)."""
    runs = [measure(command, workdir, workdir / "logs" / f"{name}.log") for _ in range(repeat)]
    fastest = min(runs)
    stage = Stage(name, fastest[0], fastest[1], max(run[2] for run in runs))
    print(f"  {name}: {stage.seconds:.2f} s", file=sys.stderr)
    return stage


def exomir(*arguments: str) -> list[str]:
    return [str(BIN / "exomir"), *arguments]


def prepare_reference(workdir: Path) -> Path:
    reference = workdir / "reference"
    if (reference / "bowtie" / "hairpin.1.ebwt").exists():
        return reference
    subprocess.run(
        exomir(
            "build-reference",
            "--mature",
            str(MIRBASE / "mature.fa.gz"),
            "--hairpin",
            str(MIRBASE / "hairpin.fa.gz"),
            "--gff3",
            str(MIRBASE / "hsa.gff3.gz"),
            "--species",
            "hsa",
            *reference_outputs(reference),
        ),
        check=True,
        capture_output=True,
    )
    (reference / "bowtie").mkdir(exist_ok=True)
    for name in ("hairpin", "spikein"):
        subprocess.run(
            ["bowtie-build", str(reference / f"{name}.fa"), str(reference / "bowtie" / name)],
            check=True,
            capture_output=True,
        )
    return reference


def prepare_library(workdir: Path, reads: int, seed: int) -> Path:
    fastq = workdir / f"library_{reads}_{seed}.fastq.gz"
    if not fastq.exists():
        started = time.perf_counter()
        simulate_library(
            MIRBASE / "mature.fa.gz",
            MIRBASE / "hairpin.fa.gz",
            "hsa",
            reads,
            KIT,
            seed,
            fastq_out=fastq,
            truth_out=fastq.with_suffix(".truth.tsv"),
            trna_fa=TRNA,
        )
        print(f"simulated {reads} reads in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return fastq


def exomir_path(fastq: Path, reference: Path, workdir: Path, threads: int, repeat: int):
    out = workdir / "exomir"
    out.mkdir(exist_ok=True)
    t = str(threads)
    protocol, inserts, stats = out / "protocol.json", out / "inserts.fa", out / "trim_stats.json"
    index = reference / "bowtie"
    steps = [
        (
            "exomir detect-kit",
            exomir("detect-kit", "--sample", "S1", "--fastq", str(fastq), "--protocol", "auto")
            + ["--out", str(protocol)],
        ),
        (
            "exomir trim",
            exomir("trim", "--sample", "S1", "--fastq", str(fastq))
            + ["--protocol-json", str(protocol), "--min-length", str(MIN_LENGTH)]
            + ["--max-length", str(MAX_LENGTH), "--threads", t]
            + ["--inserts", str(inserts), "--stats", str(stats)],
        ),
        (
            "exomir align (spike-ins)",
            exomir("align", "--reads", str(inserts), "--index", str(index / "spikein"))
            + ["--reference", str(reference / "spikein.fa"), "--bam", str(out / "spikein.bam")]
            + ["--unaligned", str(out / "not_spikein.fa"), "--threads", t]
            + ["--log", str(out / "spikein.log")],
        ),
        (
            "exomir align (hairpins)",
            exomir("align", "--reads", str(out / "not_spikein.fa"))
            + ["--index", str(index / "hairpin"), "--reference", str(reference / "hairpin.fa")]
            + ["--bam", str(out / "hairpin.bam"), "--unaligned", str(out / "unassigned.fa")]
            + ["--threads", t, "--log", str(out / "hairpin.log")],
        ),
        (
            "exomir count",
            exomir("count", "--sample", "S1", "--hairpin-bam", str(out / "hairpin.bam"))
            + ["--spikein-bam", str(out / "spikein.bam"), *counting_reference(reference)]
            + ["--trim-stats", str(stats), *count_outputs(out / "counts")],
        ),
    ]
    return [run_stage(name, command, workdir, repeat) for name, command in steps], out


def reference_outputs(directory: Path) -> list[str]:
    names = ("hairpin.fa", "mature.fa", "spikein.fa", "mature_positions.tsv", "reference.json")
    flags = ("hairpin", "mature", "spikein", "positions", "summary")
    return [
        a for f, n in zip(flags, names, strict=True) for a in (f"--{f}-out", str(directory / n))
    ]


def counting_reference(directory: Path) -> list[str]:
    names = ("hairpin.fa", "mature.fa", "spikein.fa", "mature_positions.tsv")
    flags = ("hairpin", "mature", "spikein", "positions")
    return [a for f, n in zip(flags, names, strict=True) for a in (f"--{f}", str(directory / n))]


def count_outputs(directory: Path) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    names = ("mature", "hairpin", "spikein", "isomirs", "fates")
    return [a for n in names for a in (f"--{n}-out", str(directory / f"{n}.tsv"))]


def conventional_path(
    fastq: Path, reference: Path, stats: Path, workdir: Path, threads: int, repeat: int
):
    out = workdir / "conventional"
    out.mkdir(exist_ok=True)
    trimmed, bam = out / "trimmed.fastq", out / "hairpin.bam"
    cutadapt = (
        f"{BIN / 'cutadapt'} -j {threads} -a {ADAPTER} -m {MIN_LENGTH} -M {MAX_LENGTH}"
        f" --rename '{{id}}_x1' -o {trimmed} {fastq}"
    )
    bowtie = (
        f"bowtie -q {BOWTIE_HAIRPIN} -p {threads} -x {reference / 'bowtie' / 'hairpin'}"
        f" {trimmed} | samtools view -b -F 4 -o {bam} -"
    )
    steps = [
        ("cutadapt (every read)", shell(cutadapt)),
        ("bowtie (every trimmed read)", shell(bowtie)),
        (
            "exomir count (that BAM)",
            exomir("count", "--sample", "S1", "--hairpin-bam", str(bam))
            + [*counting_reference(reference), "--trim-stats", str(stats)]
            + count_outputs(out / "counts"),
        ),
    ]
    return [run_stage(name, command, workdir, repeat) for name, command in steps], out


def row(label: str, stage: Stage, reads: int, floor: float) -> str:
    rate = reads / stage.seconds / 1e6
    return (
        f"| {label} | {stage.seconds:.1f} | {stage.cpu_seconds:.1f} | {rate:.2f} | "
        f"{stage.peak_mb:.0f} | {stage.seconds / floor:.1f} |"
    )


def total(name: str, stages: list[Stage]) -> Stage:
    return Stage(
        name,
        sum(s.seconds for s in stages),
        sum(s.cpu_seconds for s in stages),
        max(s.peak_mb for s in stages),
    )


def throughput(args: argparse.Namespace, workdir: Path) -> None:
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    reference = prepare_reference(workdir)
    fastq = prepare_library(workdir, args.reads, args.seed)
    print("timing...", file=sys.stderr)
    floor = run_stage("gzip -dc", shell(f"gzip -dc {fastq} > /dev/null"), workdir, args.repeat)
    ours, ours_dir = exomir_path(fastq, reference, workdir, args.threads, args.repeat)
    stats = json.loads((ours_dir / "trim_stats.json").read_text())
    theirs, theirs_dir = conventional_path(
        fastq, reference, ours_dir / "trim_stats.json", workdir, args.threads, args.repeat
    )
    ours_total, theirs_total = total("whole", ours), total("whole", theirs)
    same = (ours_dir / "counts" / "mature.tsv").read_bytes() == (
        theirs_dir / "counts" / "mature.tsv"
    ).read_bytes()

    reads = stats["input"]
    size_mb = fastq.stat().st_size / 1e6
    # Other jobs on the machine inflate wall times: say how busy it was.
    load = os.getloadavg()[1]
    print(
        f"\n{reads:,} simulated reads ({KIT} kit, 50 nt, seed {args.seed}; {size_mb:.0f} MB "
        f"gzipped), {stats['distinct_raw'] / reads:.1%} of them distinct, "
        f"{stats['distinct_inserts']:,} distinct inserts; {args.threads} threads per stage, "
        f"{os.cpu_count()} cores, load average {load:.1f} (5 min); fastest of {args.repeat} "
        "run(s).\n"
    )
    print("| stage | wall s | CPU s | M reads/s | peak RSS MB | × gzip -dc |")
    print("|---|---:|---:|---:|---:|---:|")
    print(row("`gzip -dc` (floor)", floor, reads, floor.seconds))
    for stage in ours:
        print(row(stage.name, stage, reads, floor.seconds))
    print(row("**exomir, whole per-sample path**", ours_total, reads, floor.seconds))
    for stage in theirs:
        print(row(stage.name, stage, reads, floor.seconds))
    print(row("**conventional, whole path**", theirs_total, reads, floor.seconds))
    # Any conventional pipeline pays cutadapt and bowtie on every read, whatever its counter.
    trim_align = total("cutadapt + bowtie", theirs[:2])
    print(
        f"\nexomir's per-sample path takes {ours_total.seconds / floor.seconds:.1f}× the time of "
        f"`gzip -dc` and is {theirs_total.seconds / ours_total.seconds:.1f}× faster than the "
        f"conventional path (CPU: {theirs_total.cpu_seconds / ours_total.cpu_seconds:.1f}×), "
        f"{trim_align.seconds / ours_total.seconds:.1f}× faster than its cutadapt + bowtie "
        f"steps alone (CPU: {trim_align.cpu_seconds / ours_total.cpu_seconds:.1f}×). Mature "
        f"counts of the two paths are {'identical' if same else 'DIFFERENT'}."
    )


def write_distinct_library(path: Path, n_reads: int, seed: int) -> None:
    """N 75-nt reads, nearly all distinct: the raw-sequence diversity of a huge library.

    95 %: one of 20,000 miRNA-like inserts (18-25 nt, Zipf-distributed) + adapter + a
    random tail of 29 nt or more (distinct raw reads, few distinct inserts); 5 %: random
    16-30 nt fragments (distinct inserts, as random fragments are in real libraries).
    """
    read_length = 75
    rng = np.random.default_rng(seed)
    acgt = np.frombuffer(b"ACGT", dtype=np.uint8)
    pool_lengths = rng.integers(18, 26, size=20_000)
    pool = [acgt[rng.integers(0, 4, size=n)].tobytes() for n in pool_lengths]
    adapter = ADAPTER.encode()
    quality = b"I" * read_length
    chunk = 500_000
    with igzip_threaded.open(path, "wb", compresslevel=1, threads=1) as out:
        for first in range(0, n_reads, chunk):
            n = min(chunk, n_reads - first)
            which = np.minimum(rng.zipf(1.3, size=n) - 1, len(pool) - 1)
            fragment = rng.random(n) < 0.05
            tails = acgt[rng.integers(0, 4, size=(n, read_length))].tobytes()
            lengths = rng.integers(16, 31, size=n)
            records = []
            for i in range(n):
                tail = tails[i * read_length : (i + 1) * read_length]
                insert = tail[-lengths[i] :] if fragment[i] else pool[which[i]]
                sequence = (insert + adapter + tail)[:read_length]
                records.append(b"@r%d\n%s\n+\n%s\n" % (first + i, sequence, quality))
            out.write(b"".join(records))


def memory_test(args: argparse.Namespace, workdir: Path) -> None:
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    fastq = workdir / f"distinct75_{args.memory_distinct}_{args.seed}.fastq.gz"
    if not fastq.exists():
        started = time.perf_counter()
        write_distinct_library(fastq, args.memory_distinct, args.seed)
        print(f"wrote {fastq.name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    protocol = workdir / "protocol.json"
    subprocess.run(
        exomir("detect-kit", "--sample", "S1", "--fastq", str(fastq), "--protocol", KIT)
        + ["--out", str(protocol)],
        check=True,
        capture_output=True,
    )
    stats = workdir / "distinct_stats.json"
    command = exomir("trim", "--sample", "S1", "--fastq", str(fastq), "--protocol-json")
    command += [str(protocol), "--threads", str(args.threads), "--inserts"]
    command += [str(workdir / "distinct_inserts.fa"), "--stats", str(stats)]
    stage = run_stage("exomir trim", command, workdir, 1)
    trim = json.loads(stats.read_text())
    print(
        f"\n`exomir trim` of {trim['input']:,} reads with {trim['distinct_raw']:,} distinct raw "
        f"sequences ({trim['distinct_inserts']:,} distinct inserts): {stage.seconds:.1f} s wall, "
        f"{stage.cpu_seconds:.1f} s CPU, peak RSS {stage.peak_mb:.0f} MB."
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=5_000_000, help="library size")
    parser.add_argument("--threads", type=int, default=2, help="per stage, as Snakemake gives")
    parser.add_argument("--repeat", type=int, default=1, help="keep the fastest of N runs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, help="reuse/keep files here (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--memory-distinct", type=int, metavar="N", help="memory test: trim N distinct reads"
    )
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="exomir-throughput-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        if args.memory_distinct:
            memory_test(args, workdir)
        else:
            throughput(args, workdir)
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
