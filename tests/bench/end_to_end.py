"""One sample through the whole workflow, next to ``gzip -dc`` of its file (prints Markdown).

    .venv/bin/python tests/bench/end_to_end.py [--reads 3000000] [--cores 2]
        [--trim-threads 1 2] [--repeat 2] [--workdir DIR] [--seed 1]

Not a test. Where ``tests/bench/throughput.py`` adds up the per-sample commands, this
runs ``snakemake`` itself, as a user does, to ``results/counts/mature_counts.tsv`` and
``results/qc/read_fates.tsv`` (biotypes included) with ``protocol: auto`` on one simulated
TruSeq library (``tests/tools/simulate.py``), so Snakemake's start-up, DAG building, job
scheduling and every per-sample job (the kit decision's test mapping included) count.

A first, untimed run builds the reference and its bowtie indexes (per run, not per
sample). Each timed run then deletes every result but ``results/reference`` and
``results/run`` and runs again, right after ``gzip -dc > /dev/null`` of the same file
(the floor any tool reading it pays), so the ratio compares the two under the same load.
``--trim-threads`` lists the ``threads`` given to rule ``trim`` (``--set-threads``);
variants alternate run by run (A B A B...), and for each the fastest run is kept. The
per-stage times come from Snakemake's own log (timestamps of a job's start and end, whole
seconds). The machine's load average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import BIN, REPO, measure, prepare_library, shell  # noqa: E402

TARGETS = ("results/counts/mature_counts.tsv", "results/qc/read_fates.tsv")
KEEP = {"reference", "run"}  # per run, not per sample: built once by the warm-up


def write_run(workdir: Path, fastq: Path) -> Path:
    (workdir / "samples.tsv").write_text(f"sample\tfastq\tcondition\nS1\t{fastq}\ta\n")
    config = {
        "samples": "samples.tsv",
        "protocol": "auto",
        "species": "hsa",
        "reference": {"source": "bundled"},
        "quality_gate": {"min_mirna_reads": 1000},
    }
    path = workdir / "config.yaml"
    path.write_text(json.dumps(config, indent=1) + "\n")  # JSON is YAML
    return path


def snakemake(workdir: Path, config: Path, cores: int, trim_threads: int | None) -> list[str]:
    command = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(workdir)]
    command += ["--configfile", str(config), "--cores", str(cores), *TARGETS]
    if trim_threads is not None:
        command += ["--set-threads", f"trim={trim_threads}"]
    return command


def clear_sample_results(workdir: Path) -> None:
    for path in (workdir / "results").iterdir():
        if path.name not in KEEP:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.rmtree(workdir / "logs", ignore_errors=True)


STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
START = re.compile(r"^(?:local)?rule (\w+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
FINISH = re.compile(r"^Finished job(?:id:)? (\d+)")


def job_seconds(log: Path) -> dict[str, float]:
    """Seconds per rule (summed over its jobs), from the timestamps of Snakemake's log."""
    stamp = None
    rule_of_block = None
    started: dict[str, tuple[str, datetime]] = {}
    seconds: dict[str, float] = defaultdict(float)
    for line in log.read_text().splitlines():
        if match := STAMP.match(line):
            stamp = datetime.strptime(match[1], "%a %b %d %H:%M:%S %Y")
            rule_of_block = None
        elif match := START.match(line):
            rule_of_block = match[1]
        elif (match := JOBID.match(line)) and rule_of_block and stamp:
            started[match[1]] = (rule_of_block, stamp)
            rule_of_block = None
        elif (match := FINISH.match(line)) and match[1] in started and stamp:
            rule, began = started.pop(match[1])
            seconds[rule] += (stamp - began).total_seconds()
    return dict(seconds)


def newest_log(workdir: Path) -> Path:
    return max((workdir / ".snakemake" / "log").glob("*.snakemake.log"), key=os.path.getmtime)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=3_000_000, help="library size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cores", type=int, default=2, help="snakemake --cores")
    parser.add_argument(
        "--trim-threads", type=int, nargs="+", default=[None], help="variants for rule trim"
    )
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per variant")
    parser.add_argument("--workdir", type=Path, help="reuse/keep files here (default: temp)")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="exomir-end-to-end-"))
    (workdir / "bench").mkdir(parents=True, exist_ok=True)
    try:
        run(args, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def run(args: argparse.Namespace, workdir: Path) -> None:
    fastq = prepare_library(workdir, args.reads, args.seed)
    config = write_run(workdir, fastq)
    started = time.perf_counter()
    measure(snakemake(workdir, config, args.cores, None), workdir, workdir / "bench" / "warm.log")
    print(f"warm-up run (reference) {time.perf_counter() - started:.0f} s", file=sys.stderr)
    load_before = os.getloadavg()
    results: dict[object, list[tuple[float, float, float, float, dict[str, float]]]] = {}
    for repeat in range(args.repeat):
        for threads in args.trim_threads:
            clear_sample_results(workdir)
            bench = workdir / "bench"
            floor = measure(shell(f"gzip -dc {fastq} > /dev/null"), workdir, bench / "gzip.log")
            command = snakemake(workdir, config, args.cores, threads)
            whole = measure(command, workdir, bench / f"snakemake_{threads}_{repeat}.log")
            stages = job_seconds(newest_log(workdir))
            results.setdefault(threads, []).append((*whole, floor[0], stages))
            print(
                f"  trim threads {threads}: {whole[0]:.1f} s, gzip -dc {floor[0]:.1f} s,"
                f" {whole[0] / floor[0]:.2f}x; {stages}",
                file=sys.stderr,
            )
    load_after = os.getloadavg()
    stats = json.loads((workdir / "results" / "trimmed" / "S1" / "trim_stats.json").read_text())
    reads = stats["input"]
    print(
        f"\n{reads:,} simulated reads (illumina kit, 50 nt, seed {args.seed}; "
        f"{fastq.stat().st_size / 1e6:.0f} MB gzipped), {stats['distinct_raw'] / reads:.1%} "
        f"distinct; protocol auto; snakemake --cores {args.cores}, {os.cpu_count()} cores; "
        f"load average (1, 5, 15 min) {fmt_load(load_before)} before, {fmt_load(load_after)} "
        f"after; {args.repeat} run(s) per variant, alternating, each right after its own "
        "`gzip -dc`.\n"
    )
    print(
        "| trim threads | run | snakemake wall s | CPU s | peak RSS MB | gzip -dc s "
        "| × gzip -dc | trim s | align s | count s | biotypes s | rest s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for threads, runs in results.items():
        for index, (wall, cpu, peak, floor, stages) in enumerate(runs):
            trim = stages.get("trim", 0.0)
            align = sum(s for rule, s in stages.items() if rule.startswith("align"))
            count = stages.get("count", 0.0)
            biotypes = stages.get("classify_biotypes", 0.0)
            rest = wall - trim - align - count - biotypes
            print(
                f"| {threads or 'rule default'} | {index + 1} | {wall:.1f} | {cpu:.1f} | "
                f"{peak:.0f} | {floor:.1f} | {wall / floor:.2f} | {trim:.0f} | {align:.0f} | "
                f"{count:.0f} | {biotypes:.0f} | {rest:.0f} |"
            )
    print(
        "\nPer-stage seconds are whole seconds from Snakemake's log (align: all align rules;"
        " biotypes: classify_biotypes; rest: start-up, DAG, small jobs and scheduling)."
    )
    for threads, runs in results.items():
        ratios = sorted(wall / floor for wall, _, _, floor, _ in runs)
        print(
            f"- trim threads {threads or 'rule default'}: × gzip -dc per run "
            f"{', '.join(f'{r:.2f}' for r in ratios)} (median {ratios[len(ratios) // 2]:.2f}); "
            f"fastest run {min(run[0] for run in runs):.1f} s, CPU "
            f"{sorted(run[1] for run in runs)[len(runs) // 2]:.1f} s (median)"
        )


def fmt_load(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{value:.1f}" for value in load)


if __name__ == "__main__":
    sys.exit(main())
