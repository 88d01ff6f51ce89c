"""Compare exomir's pydeseq2 DE with R DESeq2 on the same count matrix (not run in CI).

    python tests/bench/compare_deseq2_r.py MATRIX SHEET --variable condition \
        --level treated --reference control [--design "~ condition"] [--alpha 0.05]

MATRIX is a miRNA x sample count TSV (first column ``mirna``), SHEET a sample sheet TSV.
With ``--simulate`` the two files are first written from a negative-binomial simulation
with miRNA-like parameters (log-normal means, DESeq2-style dispersion trend), so the
script can be tried without pipeline output. Prints Pearson and Spearman correlations
of log2FoldChange and of -log10(padj), their largest absolute differences, and how many
miRNAs each tool calls at padj < alpha.

Needs R with DESeq2 (Debian: apt-get install -y --no-install-recommends r-bioc-deseq2).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from exomir.contrasts import ContrastSpec
from exomir.de import DESettings, read_count_matrix, read_sample_sheet, run_contrast
from exomir.normalization import NormalizationSettings, compute_size_factors, rounded_counts

R_SCRIPT = r"""
suppressMessages(library(DESeq2))
args <- commandArgs(trailingOnly = TRUE)
counts <- as.matrix(read.delim(args[1], row.names = 1, check.names = FALSE))
coldata <- read.delim(args[2], row.names = 1, colClasses = "character")
for (column in colnames(coldata)) coldata[[column]] <- factor(coldata[[column]])
variable <- args[4]
coldata[[variable]] <- relevel(coldata[[variable]], ref = args[6])
dds <- DESeqDataSetFromMatrix(counts, coldata, design = as.formula(args[3]))
dds <- DESeq(dds, quiet = TRUE)
res <- results(dds, contrast = c(variable, args[5], args[6]), alpha = as.numeric(args[7]))
out <- data.frame(mirna = rownames(res), baseMean = res$baseMean,
                  log2FoldChange = res$log2FoldChange, padj = res$padj)
write.table(out, args[8], sep = "\t", quote = FALSE, row.names = FALSE)
"""


def simulate(matrix: Path, sheet: Path, per_group: int = 6, seed: int = 1) -> None:
    """2,600 miRNAs (as hsa in miRBase), 10% changed 2- to 8-fold, many near zero."""
    rng = np.random.default_rng(seed)
    n = 2600
    means = np.exp(rng.normal(2.0, 2.5, n))
    dispersion = (0.08 + 1.5 / np.maximum(means, 1e-2)) * np.exp(rng.normal(0, 0.5, n))
    log2_fold = np.zeros(n)
    changed = rng.choice(n, n // 10, replace=False)
    log2_fold[changed] = rng.choice([-1, 1], len(changed)) * rng.uniform(1, 3, len(changed))
    groups = ["control"] * per_group + ["treated"] * per_group
    depth = np.exp(rng.normal(0, 0.5, len(groups)))
    samples = [f"S{i + 1:02d}" for i in range(len(groups))]
    columns = {}
    for sample, group, factor in zip(samples, groups, depth, strict=True):
        mean = means * factor * (2.0**log2_fold if group == "treated" else 1.0)
        columns[sample] = rng.negative_binomial(1 / dispersion, 1 / (1 + mean * dispersion))
    names = pd.Index([f"hsa-miR-sim{i + 1}" for i in range(n)], name="mirna")
    pd.DataFrame(columns, index=names).to_csv(matrix, sep="\t")
    pd.DataFrame({"sample": samples, "condition": groups}).to_csv(sheet, sep="\t", index=False)


def run_r(counts: pd.DataFrame, sheet: pd.DataFrame, args: argparse.Namespace) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rounded_counts(counts).to_csv(tmp / "counts.tsv", sep="\t")
        columns = sorted(set(sheet.columns) - {"sample"})
        sheet[["sample", *columns]].to_csv(tmp / "coldata.tsv", sep="\t", index=False)
        (tmp / "run.R").write_text(R_SCRIPT)
        command = ["Rscript", str(tmp / "run.R"), str(tmp / "counts.tsv")]
        command += [str(tmp / "coldata.tsv"), args.design, args.variable, args.level]
        command += [args.reference, str(args.alpha), str(tmp / "r.tsv")]
        subprocess.run(command, check=True)
        return pd.read_csv(tmp / "r.tsv", sep="\t", dtype={"mirna": str})


def compare(ours: pd.DataFrame, theirs: pd.DataFrame, alpha: float) -> None:
    merged = ours.merge(theirs, on="mirna", suffixes=("_py", "_r"))
    for column, transform in (
        ("log2FoldChange", lambda v: v),
        ("padj", lambda v: -np.log10(np.maximum(v, 1e-300))),
    ):
        a, b = merged[f"{column}_py"], merged[f"{column}_r"]
        both = a.notna() & b.notna()
        x, y = transform(a[both].to_numpy()), transform(b[both].to_numpy())
        label = column if column != "padj" else "-log10 padj"
        print(
            f"{label:16s} n={both.sum():5d}  pearson={stats.pearsonr(x, y)[0]:.6f}  "
            f"spearman={stats.spearmanr(x, y)[0]:.6f}  max|diff|={np.max(np.abs(x - y)):.4g}"
        )
        only = (a.notna() ^ b.notna()).sum()
        print(f"{'':16s} NA in one tool only: {only}")
    py_hits = set(merged.loc[merged["padj_py"] < alpha, "mirna"])
    r_hits = set(merged.loc[merged["padj_r"] < alpha, "mirna"])
    both = len(py_hits & r_hits)
    print(f"padj < {alpha}: pydeseq2 {len(py_hits)}, DESeq2 {len(r_hits)}, both {both}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("matrix", type=Path)
    parser.add_argument("sheet", type=Path)
    parser.add_argument("--variable", required=True)
    parser.add_argument("--level", required=True)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--design", help="default: ~ VARIABLE")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--simulate", action="store_true", help="write MATRIX and SHEET first")
    args = parser.parse_args()
    args.design = args.design or f"~ {args.variable}"
    if args.simulate:
        simulate(args.matrix, args.sheet)
    sheet = read_sample_sheet(args.sheet)
    counts = read_count_matrix(args.matrix, list(sheet["sample"]))
    spec = ContrastSpec("bench", args.design, args.variable, args.level, args.reference)
    factors = compute_size_factors(counts, NormalizationSettings()).set_index("sample")
    start = time.time()
    ours = run_contrast(
        counts,
        sheet,
        spec,
        factors["size_factor"],
        DESettings(alpha=args.alpha),
        n_cpus=args.threads,
    ).table
    print(f"pydeseq2 (exomir): {time.time() - start:.1f} s")
    start = time.time()
    theirs = run_r(counts, sheet, args)
    print(f"R DESeq2: {time.time() - start:.1f} s")
    print(f"{len(counts)} miRNAs x {len(sheet)} samples, {args.design}")
    compare(ours, theirs, args.alpha)
    return 0


if __name__ == "__main__":
    sys.exit(main())
