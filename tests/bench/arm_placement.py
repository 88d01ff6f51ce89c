"""How well arms placed from the hairpin alone (exomir.arms) match miRBase's matures.

    .venv/bin/python tests/bench/arm_placement.py [--species mmu hsa] [--calibrate mmu]

For each species of the bundled miRBase subset (resources/mirbase/), every annotated
mature (``-5p`` / ``-3p`` by name, else by side of the terminal loop) is compared with the
arm exomir places on the same hairpin from the fold alone. Prints, per species and arm,
the fraction whose 5' end is within 0, 1, 2 and 3 nt of miRBase's, and (``--calibrate``)
the distances and length that exomir.arms' constants come from, so they are fitted on
one species and measured on another.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path

from exomir import arms
from exomir.names import parse_name
from exomir.reference import locate_matures, read_fasta, species_records

REPO = Path(__file__).resolve().parents[2]
MIRBASE = REPO / "resources" / "mirbase"


def annotated_arms(species: str):
    """(hairpin record, arm, annotated start, end) for each mature placed on a hairpin."""
    hairpins = species_records(read_fasta(MIRBASE / "hairpin.fa.gz"), species)
    matures = species_records(read_fasta(MIRBASE / "mature.fa.gz"), species)
    placements, _ = locate_matures(matures, hairpins)
    by_name = {h.name: h for h in hairpins}
    return [(by_name[p.hairpin], p.mature, p.start, p.end) for p in placements]


def compare(species: str, calibrate: bool) -> None:
    rows = annotated_arms(species)
    structures: dict[str, str] = {}
    differences: dict[str, list[int]] = defaultdict(list)
    gaps: dict[str, list[int]] = defaultdict(list)
    lengths: list[int] = []
    armless = 0
    for hairpin, mature, start, end in rows:
        if hairpin.name not in structures:
            structures[hairpin.name] = arms.fold(hairpin.sequence)
        structure = structures[hairpin.name]
        stem = arms.terminal_stem(structure)
        if stem is None:
            armless += 1
            continue
        arm = parse_name(mature).arm
        if arm is None:  # arm-less names (miR-21): by side of the loop
            arm = "5p" if end <= (stem.loop_open + stem.loop_close) // 2 else "3p"
        lengths.append(end - start)
        if arm == "5p":
            gaps["5p start before the loop centre"].append(stem.centre - start)
        else:
            gaps["3p start after the loop centre"].append(start - stem.centre)
        spans = arms.arm_spans(hairpin.sequence, structure)
        if arm not in spans:
            differences[arm].append(99)
            continue
        differences[arm].append(abs(spans[arm][0] - start))
    print(f"\n{species}: {len(rows)} annotated matures on {len(structures)} hairpins")
    if calibrate:
        for key, values in gaps.items():
            share, best = max(
                (sum(abs(v - d) <= 2 for v in values) / len(values), d) for d in range(60)
            )
            print(f"  {key}: {best} nt puts {share:.1%} within 2 nt (n={len(values)})")
        print(f"  median mature length: {statistics.median(lengths)}")
    print("| arm | matures | 5' end exact | within 1 nt | within 2 nt | within 3 nt |")
    print("|---|---|---|---|---|---|")
    total = [d for values in differences.values() for d in values]
    for arm, values in [*sorted(differences.items()), ("both", total)]:
        n = len(values)
        cells = " | ".join(f"{sum(d <= k for d in values) / n:.1%}" for k in range(4))
        print(f"| {arm} | {n} | {cells} |")
    if armless:
        print(f"  ({armless} matures on hairpins without a stem)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--species", nargs="+", default=["mmu", "hsa"])
    parser.add_argument("--calibrate", nargs="*", default=["mmu"])
    args = parser.parse_args()
    for species in args.species:
        compare(species, species in args.calibrate)


if __name__ == "__main__":
    main()
