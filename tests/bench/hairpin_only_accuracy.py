"""Counts of a human library on a hairpin-only reference, against the simulation's truth.

    .venv/bin/python tests/bench/hairpin_only_accuracy.py [--reads 100000] [--workdir DIR]

Simulates a TruSeq library from the bundled miRBase human matures (tests/tools/simulate.py),
runs the workflow twice on it, with the mature file and hairpin-only (``mature: null``),
and prints for each the share of miRNA reads counted for the right miRNA. On the
hairpin-only reference the right rows are the arms ``{hairpin}-5p`` / ``-3p`` of the
hairpins holding the read's mature (its arm by name, else by side of the loop), so a
let-7a-5p read split over let-7a-1/2/3 is right.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import pandas as pd

from exomir import arms
from exomir.names import arm_name, parse_name
from exomir.reference import locate_matures, read_fasta, species_records

# The simulator is a test tool (tests/tools/), importable once tests/ is on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.simulate import read_truth, simulate_library  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MIRBASE = REPO / "resources" / "mirbase"
SAMPLE = "hsa_sim"


def expected_arms() -> dict[str, set[str]]:
    """Mature name -> the arm rows a hairpin-only reference should count its reads in."""
    hairpins = species_records(read_fasta(MIRBASE / "hairpin.fa.gz"), "hsa")
    matures = species_records(read_fasta(MIRBASE / "mature.fa.gz"), "hsa")
    placements, _ = locate_matures(matures, hairpins)
    by_name = {h.name: h for h in hairpins}
    expected: dict[str, set[str]] = defaultdict(set)
    for p in placements:
        arm = parse_name(p.mature).arm
        if arm is None:
            stem = arms.terminal_stem(arms.fold(by_name[p.hairpin].sequence))
            if stem is None:
                continue
            arm = "5p" if p.end <= stem.centre else "3p"
        expected[p.mature].add(arm_name(p.hairpin, arm))
    return expected


def run(workdir: Path, fastq: Path, reference: str) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "samples.tsv").write_text(f"sample\tfastq\n{SAMPLE}\t{fastq}\n")
    (workdir / "config.yaml").write_text(
        f"samples: samples.tsv\nprotocol: illumina\nspecies: hsa\n{reference}"
    )
    target = f"results/counts/per_sample/{SAMPLE}/isomirs.tsv"
    snakemake = Path(sys.executable).with_name("snakemake")
    command = [str(snakemake), "-s", str(REPO / "Snakefile"), "-d", str(workdir)]
    command += [target, "--configfile", str(workdir / "config.yaml"), "--cores", "2"]
    subprocess.run(command, check=True, capture_output=True)
    return workdir / target


def right_share(truth: pd.DataFrame, isomirs: Path, expected) -> tuple[float, float]:
    """(counted for a right row, counted for a wrong row), as shares of the miRNA reads."""
    mirna = truth[truth["origin"] == "mirna"]
    counted = pd.read_csv(isomirs, sep="\t")
    by_sequence = counted.groupby("sequence")
    right = wrong = 0.0
    for (label, insert), reads in mirna.groupby(["label", "insert"])["reads"].sum().items():
        if insert not in by_sequence.groups:
            continue
        rows = by_sequence.get_group(insert)
        # one insert from several truth rows: its count is shared by their reads (as accuracy.py)
        total_true = mirna.loc[mirna["insert"] == insert, "reads"].sum()
        share = reads / total_true
        good = rows["mirna"].isin(expected(label))
        right += share * rows.loc[good, "count"].sum()
        wrong += share * rows.loc[~good, "count"].sum()
    total = mirna["reads"].sum()
    return right / total, wrong / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hairpin_only_"))
    workdir.mkdir(parents=True, exist_ok=True)
    library = simulate_library(
        MIRBASE / "mature.fa.gz",
        MIRBASE / "hairpin.fa.gz",
        "hsa",
        args.reads,
        "illumina",
        seed=2026,
        fastq_out=workdir / f"{SAMPLE}.fastq.gz",
        truth_out=workdir / f"{SAMPLE}.truth.tsv",
    )
    truth = read_truth(library.truth)
    with_mature = run(workdir / "with_mature", library.fastq, "")
    hairpin_only = run(
        workdir / "hairpin_only",
        library.fastq,
        f"reference:\n  source: local\n  hairpin: {MIRBASE / 'hairpin.fa.gz'}\n",
    )
    arms_of = expected_arms()
    print(f"{args.reads:,} reads, {truth.loc[truth.origin == 'mirna', 'reads'].sum():,} miRNA")
    print("| reference | miRNA reads counted right | counted for a wrong row |")
    print("|---|---|---|")
    for name, path, expected in (
        ("miRBase matures", with_mature, lambda label: {label}),
        ("hairpin-only (arms from folds)", hairpin_only, lambda label: arms_of[label]),
    ):
        right, wrong = right_share(truth, path, expected)
        print(f"| {name} | {right:.2%} | {wrong:.2%} |")


if __name__ == "__main__":
    main()
