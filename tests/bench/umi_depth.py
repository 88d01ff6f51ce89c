"""UMI molecules at depth: exomir next to its old greedy merge and umi_tools (prints Markdown).

    .venv/bin/python tests/bench/umi_depth.py [--depths 1000,10000,50000,200000,500000]
        [--seed 1] [--umi-tools-max 200000]
    .venv/bin/python tests/bench/umi_depth.py --library-reads 10000000 [--workdir DIR]

Not a test. The first form simulates one insert per depth (``tests/tools/simulate_umis.py``:
random 12-nt UMIs with skewed bases 0.3/0.2/0.2/0.3, PCR copies 1 + Poisson(log-normal,
mean 3), 0.5 % substitutions per UMI base and read) and counts its molecules four ways:

- *greedy*: exomir before issue 14 (most-read UMI first; any UMI one mismatch from an
  accepted one is its duplicate, whatever the counts);
- *directional*: ``exomir.umi.directional_clusters``, UMI-tools' rule, no correction;
- *exomir*: ``exomir.umi.count_molecules``, directional plus the collision correction;
- *umi_tools*: ``umi_tools.network.UMIClusterer(cluster_method="directional")`` (skipped
  above ``--umi-tools-max`` UMIs: its neighbour search grows quadratically per insert).

The second form simulates a QIAseq library (``tests/tools/simulate.py``, 75 nt) and runs
``exomir trim`` on it as the workflow does (``--threads 2``) under GNU ``time``, timing the
UMI deduplication inside it, and prints trim wall time, dedup wall time, their ratio, the
top insert's molecules and the job's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from umi_tools.network import UMIClusterer

from exomir.collapsed import read_collapsed
from exomir.umi import count_molecules, directional_clusters

# The simulators are test tools (tests/tools/), importable once tests/ is on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.simulate import read_truth, simulate_library  # noqa: E402
from tools.simulate_umis import simulate_umi_reads  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MIRBASE = REPO / "resources" / "mirbase"
TRNA = REPO / "tests" / "data" / "simulate" / "tRNA.fa"
GNU_TIME = "/usr/bin/time"
LIBRARY = {"mean_copies": 3.0, "error_rate": 0.005, "base_weights": (0.3, 0.2, 0.2, 0.3)}
UMI_ALPHABET = "ACGTN"


def greedy_molecules(pair_reads: Mapping[tuple[str, str], int]) -> dict[str, int]:
    """exomir's UMI dedup before issue 14 (exomir.umi.representative_umis), for comparison."""
    by_insert: dict[str, dict[str, int]] = defaultdict(dict)
    for (insert, umi), reads in pair_reads.items():
        by_insert[insert][umi] = reads
    molecules = {}
    for insert, umi_reads in by_insert.items():
        accepted: set[str] = set()
        for umi in sorted(umi_reads, key=lambda umi: (-umi_reads[umi], umi)):
            neighbours = (
                umi[:i] + other + umi[i + 1 :]
                for i, base in enumerate(umi)
                for other in UMI_ALPHABET
                if other != base
            )
            if not any(neighbour in accepted for neighbour in neighbours):
                accepted.add(umi)
        molecules[insert] = len(accepted)
    return molecules


def umi_tools_molecules(pair_reads: Mapping[tuple[str, str], int]) -> int:
    umis = {umi.encode(): reads for (_, umi), reads in pair_reads.items()}
    return len(UMIClusterer(cluster_method="directional")(umis, 1))


def timed(function, *args):
    started = time.perf_counter()
    value = function(*args)
    return value, time.perf_counter() - started


def share(value: int | None, truth: int) -> str:
    return "—" if value is None else f"{value:,} ({value / truth:.3f})"


def depth_table(args: argparse.Namespace) -> None:
    print(
        f"One insert, random 12-nt UMIs, bases {LIBRARY['base_weights']}, PCR copies mean "
        f"{LIBRARY['mean_copies']}, {LIBRARY['error_rate']:.1%} UMI errors per base; seed "
        f"{args.seed}; load average {os.getloadavg()[1]:.1f} (5 min)\n"
    )
    print(
        "| molecules (truth) | distinct UMIs | greedy (old) | directional | exomir | umi_tools "
        "directional | time greedy | time exomir | time umi_tools |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for depth in args.depths:
        pairs = simulate_umi_reads(depth, args.seed, **LIBRARY)
        (greedy,), greedy_s = timed(lambda p: list(greedy_molecules(p).values()), pairs)
        (directional,) = directional_clusters(pairs).values()
        (exomir,), exomir_s = timed(lambda p: list(count_molecules(p).values()), pairs)
        tools, tools_s = (None, None)
        if len(pairs) <= args.umi_tools_max:
            tools, tools_s = timed(umi_tools_molecules, pairs)

        print(
            f"| {depth:,} | {len(pairs):,} | {share(greedy, depth)} | "
            f"{share(directional, depth)} | {share(exomir, depth)} | {share(tools, depth)} | "
            f"{greedy_s:.2f} s | {exomir_s:.2f} s | "
            f"{'—' if tools_s is None else f'{tools_s:.2f} s'} |",
            flush=True,
        )


# Runs ``exomir trim`` (argv[4:]) timing the UMI dedup inside it; with argv[3] == "greedy"
# the old greedy merge also runs on the same pairs (timed apart) and its counts are kept.
TRIM_WITH_DEDUP_TIMER = """
import json, sys, time
sys.path.insert(0, sys.argv[2])
from exomir import cli, trimming
from umi_depth import greedy_molecules
real = trimming.count_molecules
timing = {"dedup_s": 0.0, "pairs": 0}
def timed(pairs):
    if sys.argv[3] == "greedy":
        started = time.perf_counter()
        timing["greedy"] = greedy_molecules(pairs)
        timing["greedy_s"] = time.perf_counter() - started
    started = time.perf_counter()
    try:
        return real(pairs)
    finally:
        timing["dedup_s"] += time.perf_counter() - started
        timing["pairs"] += len(pairs)
trimming.count_molecules = timed
started = time.perf_counter()
code = cli.main(sys.argv[4:])
timing["trim_s"] = time.perf_counter() - started - timing.get("greedy_s", 0.0)
json.dump(timing, open(sys.argv[1], "w"))
sys.exit(code)
"""


def library_cost(args: argparse.Namespace) -> None:
    work = Path(args.workdir or tempfile.mkdtemp(prefix="umi_depth_"))
    work.mkdir(parents=True, exist_ok=True)
    fastq = work / f"qiaseq_{args.library_reads}.fastq.gz"
    truth = work / f"qiaseq_{args.library_reads}.truth.tsv"
    if not fastq.exists():
        started = time.perf_counter()
        simulate_library(
            MIRBASE / "mature.fa.gz",
            MIRBASE / "hairpin.fa.gz",
            "hsa",
            args.library_reads,
            "qiaseq",
            args.seed,
            fastq_out=fastq,
            truth_out=truth,
            trna_fa=TRNA,
        )
        print(f"simulated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    mirna = read_truth(truth).query("origin == 'mirna'")
    top = mirna.sort_values("molecules").iloc[-1]
    timer_json = work / "dedup_timer.json"
    trim = [
        "trim",
        "--sample",
        "bench",
        "--fastq",
        str(fastq),
        "--protocol",
        "qiaseq",
        "--protocol-out",
        str(work / "protocol.json"),
        "--threads",
        "2",
        "--inserts",
        str(work / "inserts.fa"),
        "--stats",
        str(work / "trim_stats.json"),
    ]
    timer = [sys.executable, "-c", TRIM_WITH_DEDUP_TIMER, str(timer_json), str(HERE)]
    time_file = work / "time.txt"
    subprocess.run(
        [GNU_TIME, "-f", "%e %M", "-o", str(time_file), *timer, "new", *trim], check=True
    )
    wall, peak_kb = time_file.read_text().split()[-2:]
    timing = json.loads(timer_json.read_text())
    stats = json.loads((work / "trim_stats.json").read_text())
    counted = {sequence: count for _, sequence, count in read_collapsed(work / "inserts.fa")}
    trim_s, dedup_s = timing["trim_s"], timing["dedup_s"]
    greedy_json = work / "greedy.json"
    greedy_run = [sys.executable, "-c", TRIM_WITH_DEDUP_TIMER, str(greedy_json), str(HERE)]
    subprocess.run([*greedy_run, "greedy", *trim], check=True)
    greedy = json.loads(greedy_json.read_text())
    true_molecules = mirna.groupby("insert")["molecules"].sum()
    print(
        f"QIAseq library, {args.library_reads:,} reads (seed {args.seed}), "
        f"`exomir trim --threads 2`; load average {os.getloadavg()[1]:.1f} (5 min)\n"
    )
    print("| figure | value |\n|---|---:|")
    rows = [
        ("top insert's molecules (truth)", f"{int(top['molecules']):,} ({top['label']})"),
        ("(insert, UMI) pairs deduplicated", f"{timing['pairs']:,}"),
        ("molecules counted (all inserts)", f"{stats['umi']['molecules']:,}"),
        ("trim step wall time", f"{float(wall):.1f} s"),
        ("UMI dedup inside it", f"{dedup_s:.1f} s"),
        ("dedup / trim step", f"{dedup_s / trim_s:.1%}"),
        ("dedup / trim without dedup", f"{dedup_s / (trim_s - dedup_s):.1%}"),
        ("peak RSS of the trim job", f"{int(peak_kb) / 1024:.0f} MB"),
    ]
    for name, value in rows:
        print(f"| {name} | {value} |")
    print(f"\nold greedy dedup on the same pairs: {greedy['greedy_s']:.1f} s\n")
    print("miRNA inserts by true molecules: molecules counted / truth\n")
    print("| insert molecules (truth) | inserts | truth | greedy (old) | exomir |")
    print("|---|---:|---:|---:|---:|")
    bands = [(100_000, None), (10_000, 100_000), (1_000, 10_000), (100, 1_000), (1, 100)]
    for low, high in bands:
        band = true_molecules[(true_molecules >= low) & ((true_molecules < high) if high else True)]
        if not len(band):
            continue
        truth_sum = int(band.sum())
        old = sum(greedy["greedy"].get(insert, 0) for insert in band.index)
        new = sum(counted.get(insert, 0) for insert in band.index)
        label = f">= {low:,}" if high is None else f"{low:,}-{high - 1:,}"
        print(
            f"| {label} | {len(band):,} | {truth_sum:,} | {old / truth_sum:.3f} | "
            f"{new / truth_sum:.3f} |"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--depths",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[1_000, 10_000, 50_000, 200_000, 500_000],
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--umi-tools-max", type=int, default=200_000)
    parser.add_argument("--library-reads", type=int)
    parser.add_argument("--workdir")
    args = parser.parse_args(argv)
    if args.library_reads:
        library_cost(args)
    else:
        depth_table(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
