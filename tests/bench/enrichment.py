"""Enrichment figures for issue 16: speed at 200 DE miRNAs, and null calibration.

    .venv/bin/python tests/bench/enrichment.py [--permutations 20]

Speed: one contrast with 200 DE miRNAs (of 600 expressed human miRNAs) enriched against
the bundled Reactome + GO BP sets; CPU and wall seconds, fastest of 3, with the load
average (the machine may be shared: compare CPU seconds). Null: NB counts of 400
expressed miRNAs, 12 samples, no change; labels permuted 20 times; each permutation's DE
(pydeseq2) enriched at padj < alpha and with top_n 50. Counts the permutations with no
term at padj < 0.05, for the miRNA-resampling p-value and, for comparison, for the
gene-level hypergeometric p-value with the same BH.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from test_enrichment import RESOURCES, de_table, simulate_counts, synthetic_de  # noqa: E402

from exomir.enrichment import EnrichmentSettings, benjamini_hochberg, enrich, read_gmt  # noqa: E402
from exomir.enrichment_sources import bundled_geneset_paths  # noqa: E402
from exomir.targets import read_targets  # noqa: E402


def human_mirnas(targets):
    import gzip

    with gzip.open(RESOURCES / "mirbase" / "mature.fa.gz", "rt") as handle:
        names = {line[1:].split()[0] for line in handle if line.startswith(">hsa-")}
    return sorted(n for n in names if targets.targets(n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--permutations", type=int, default=20)
    args = parser.parse_args()
    start = time.perf_counter()
    targets = read_targets(RESOURCES / "targets" / "hsa.tsv.gz")
    genesets = [read_gmt(p) for p in bundled_geneset_paths(RESOURCES)]
    print(f"loading targets and gene sets: {time.perf_counter() - start:.1f} s wall")
    names = human_mirnas(targets)
    rng = np.random.default_rng(4)
    table = synthetic_de(sorted(rng.choice(names, 600, replace=False)), 4)
    table.loc[table.index[:200], ["pvalue", "padj"]] = [1e-5, 1e-3]
    timings = []
    for _ in range(3):
        cpu, wall = time.process_time(), time.perf_counter()
        result = enrich(table, targets, genesets, EnrichmentSettings(), alpha=0.05)
        timings.append((time.process_time() - cpu, time.perf_counter() - wall))
    cpu, wall = min(timings)
    print(
        f"200 DE miRNAs ({result.summary['directions']['up']['n_mirnas']} up, "
        f"{result.summary['directions']['down']['n_mirnas']} down), 600 expressed, "
        f"{result.summary['n_background_genes']} background genes: {cpu:.2f} s CPU, "
        f"{wall:.2f} s wall (fastest of 3), load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores"
    )
    expressed = sorted(rng.choice(names, 400, replace=False))
    counts, sheet = simulate_counts(expressed, 6, {}, seed=8)
    clean = dict.fromkeys(["alpha", "top_n", "alpha_hyper", "top_n_hyper"], 0)
    for _ in range(args.permutations):
        labels = rng.permutation(sheet["condition"].to_numpy())
        table = de_table(counts, sheet.assign(condition=labels))
        for key, settings in (("alpha", EnrichmentSettings()), ("top_n", EnrichmentSettings(50))):
            result = enrich(table, targets, genesets, settings, alpha=0.05)
            found = result.table
            clean[key] += not (found["padj"] < 0.05).any()
            # BH over every tested term, as for the resampling p-value: terms without a hit
            # are not in the table and enter with p = 1
            n_tested = sum(s["n_tested"] for s in result.summary.get("sources", {}).values())
            hyper = []
            for _, group in found.groupby("direction"):
                p = group["pvalue_hypergeometric"].to_numpy()
                hyper.append(benjamini_hochberg(np.r_[p, np.ones(n_tested - len(p))]))
            clean[f"{key}_hyper"] += not any((q < 0.05).any() for q in hyper)
    n = args.permutations
    print(f"null, {n} label permutations of 12 samples (400 expressed miRNAs, no change):")
    for key, label in (("alpha", "padj < alpha lists"), ("top_n", "top_n: 50 lists")):
        print(
            f"  {label}: no term at padj < 0.05 in {clean[key]}/{n} (miRNA resampling), "
            f"{clean[key + '_hyper']}/{n} (gene-level hypergeometric)"
        )


if __name__ == "__main__":
    main()
