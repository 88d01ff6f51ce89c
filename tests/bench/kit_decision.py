"""Decision accuracy of the kit decision per simulated case, over several seeds (Markdown).

    .venv/bin/python tests/bench/kit_decision.py [--seeds 5] [--reads 20000]

Not a test (tests/test_kit_decision.py asserts one seed per case). Each case is a library
simulated with ``tests/tools/simulate.py`` (ligation-biased random bases; adapter variants; an
unknown adapter; ~1 % miRNA), decided under ``auto`` and under a wrong declared kit against
one bowtie index of the bundled hsa hairpins (miRNA), the spike-ins and the bundled human
rRNA/tRNA/snoRNA/piRNA (other), as the workflow builds it. Printed: per case, the share of
seeds where ``auto`` chose the simulated structure, where composition alone
(``exomir.kits.detect_kit``) did, where a wrong declared kit was warned about, the clipped
share of adapter-bearing reads, and the test mapping's CPU seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "workflow")]

from test_kit_decision import CASES, right_structure  # noqa: E402

from exomir import fastq, trimming  # noqa: E402
from exomir.biotypes import prepare_reference  # noqa: E402
from exomir.errors import ExomirError  # noqa: E402
from exomir.kit_mapping import (  # noqa: E402
    MappingReferences,
    decide_structure,
    write_mapping_reference,
)
from exomir.kits import detect_kit, load_kits  # noqa: E402
from exomir.reference import read_fasta, species_records  # noqa: E402
from tools.simulate import KITS as LAYOUTS  # noqa: E402
from tools.simulate import read_truth, simulate_library  # noqa: E402

MIRBASE = REPO / "resources" / "mirbase"
SMALLRNA = REPO / "resources" / "smallrna"
WRONG = {"illumina": "nextflex", "nextflex": "illumina", "qiaseq": "illumina", "cats": "illumina"}


def build_references(folder: Path) -> MappingReferences:
    hairpins = species_records(read_fasta(MIRBASE / "hairpin.fa.gz"), "hsa")
    matures = {r.name: r.sequence for r in read_fasta(MIRBASE / "mature.fa.gz")}
    (folder / "hairpin.fa").write_text(
        "".join(f">{r.name}\n{r.sequence.replace('U', 'T')}\n" for r in hairpins)
    )
    spikeins = ("cel-miR-39-3p", "cel-miR-54-3p", "cel-miR-238-3p")
    (folder / "spikein.fa").write_text(
        "".join(f">{n}\n{matures[n].replace('U', 'T')}\n" for n in spikeins)
    )
    others = ["spikein"]
    for biotype in ("rRNA", "tRNA", "snoRNA", "piRNA"):
        prepare_reference(biotype, SMALLRNA / f"{biotype}.fa.gz", folder / f"{biotype}.fa")
        others.append(biotype)
    # the workflow's one combined index (rule kit_mapping_reference)
    write_mapping_reference(
        folder / "hairpin.fa", [folder / f"{n}.fa" for n in others], folder / "kit_mapping.fa"
    )
    subprocess.run(
        ["bowtie-build", str(folder / "kit_mapping.fa"), str(folder / "kit_mapping")],
        check=True,
        capture_output=True,
    )
    return MappingReferences(combined=(str(folder / "kit_mapping"),))


def clipped_share(path: Path, truth_path: Path, kit, simulated_kit: str, reads: int) -> float:
    layout = LAYOUTS[simulated_kit]
    truth = read_truth(truth_path)
    around = layout.five_prime_random + layout.three_prime_random
    room = truth["insert"].str.len() + around + 3 <= layout.default_read_length
    result = trimming.trim_sequences(Counter(fastq.first_sequences([path], reads)), kit)
    return (result.input - result.no_adapter) / int(truth.loc[room, "reads"].sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--reads", type=int, default=20_000)
    args = parser.parse_args()
    kits = load_kits()
    rows = []
    with tempfile.TemporaryDirectory(prefix="kit_decision_bench.") as tmp:
        folder = Path(tmp)
        references = build_references(folder)
        for case, kit, adapter, composition, expected in CASES:
            right = composition_right = warned = tried_wrong = 0
            clipped, cpu = [], []
            for seed in range(1, args.seeds + 1):
                fq, truth = folder / "sim.fq.gz", folder / "truth.tsv"
                simulate_library(
                    MIRBASE / "mature.fa.gz",
                    MIRBASE / "hairpin.fa.gz",
                    "hsa",
                    args.reads,
                    kit,
                    seed,
                    fastq_out=fq,
                    truth_out=truth,
                    trna_fa=SMALLRNA / "tRNA.fa.gz",
                    adapter=adapter,
                    composition=composition,
                )
                reads = fastq.first_sequences([fq], 100_000)
                detection = decide_structure(reads, "auto", None, kits, references)
                right += right_structure(detection.kit, expected, kits)
                with contextlib.suppress(ExomirError):  # "no known 3' adapter": it stops
                    composition_right += right_structure(
                        detect_kit(reads, kits).kit, expected, kits
                    )
                clipped.append(clipped_share(fq, truth, detection.kit, kit, args.reads))
                cpu.append(detection.timings["mapping_cpu_seconds"])
                if adapter is None and kit in WRONG:
                    tried_wrong += 1
                    declared = decide_structure(reads, WRONG[kit], None, kits, references)
                    warned += declared.evidence["mapping"].get("better_than_declared") == kit
            n = args.seeds
            rows.append(
                f"| {case} | {right}/{n} | {composition_right}/{n} | "
                + (f"{warned}/{tried_wrong} ({WRONG[kit]})" if tried_wrong else "—")
                + f" | {min(clipped):.1%} | {statistics.median(cpu):.2f} |"
            )
            print(rows[-1], file=sys.stderr)
    print(
        f"{args.reads:,} simulated reads a library, {args.seeds} seeds a case\n\n"
        "| case | auto right | composition alone right | wrong declared kit warned "
        "| adapter-bearing reads clipped (min) | test-mapping CPU s (median) |\n"
        "|---|---:|---:|---:|---:|---:|"
    )
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
