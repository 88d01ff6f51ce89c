"""Mature arms placed on a hairpin from its sequence alone, for references without matures.

Many non-model species have precursor sequences but no curated matures. exomir then
counts each hairpin's two arms, ``{hairpin}-5p`` and ``-3p`` (MirGeneDB: ``X_pre`` ->
``X_5p`` / ``X_3p``), placed as follows:

1. fold the hairpin with ViennaRNA (RNAfold minimum free energy, default parameters);
2. find the hairpin loops (a base pair enclosing only unpaired bases) and follow each
   loop's stem outwards through bulges and internal loops until a multiloop or the
   exterior; the loop with the longest stem (most base pairs) is the terminal loop;
3. Dicer cuts at a roughly fixed distance from the terminal loop: the 5p arm starts
   ``FIVE_PRIME_START_BEFORE_LOOP`` nt before the loop's centre, the 3p arm
   ``THREE_PRIME_START_AFTER_LOOP`` nt after it; each arm is ``ARM_LENGTH`` nt (miRBase's
   median), clipped to the hairpin. Measured from the centre, these distances hit
   miRBase's arms more often than distances from the loop's closing pair (the predicted
   loop's size varies more than its centre) or from the partner of the other arm.

The two distances are the ones that put most of miRBase's annotated mouse (``mmu``)
5' ends within 2 nt; the accuracy on human hairpins, not used to fit them, is measured
by ``tests/bench/arm_placement.py`` and stated in config/README.md. The placement needs
nothing but the hairpin, so every sample's job stays independent and adding a sample
never moves an arm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from exomir.errors import ExomirError
from exomir.names import ARMS, arm_name

ARM_LENGTH = 22
FIVE_PRIME_START_BEFORE_LOOP = 29
THREE_PRIME_START_AFTER_LOOP = 9


@dataclass(frozen=True)
class Stem:
    """The terminal loop's closing pair and the stem around it, 0-based positions."""

    loop_open: int  # 5' base of the closing pair
    loop_close: int  # its 3' partner
    pairs: int  # base pairs in the stem, the closing pair included

    @property
    def centre(self) -> int:
        """The loop's middle base (the 5'-side one of two)."""
        return (self.loop_open + self.loop_close) // 2


@dataclass(frozen=True)
class PlacedArm:
    """An arm's predicted span ``[start, end)`` and its side of the loop ``[region_start,
    region_end)``: counting gives the arm every read lying on that side, since the
    predicted 5' end is within 2 nt of the real one only about two times in three."""

    hairpin: str
    name: str
    arm: str
    start: int
    end: int
    sequence: str
    region_start: int
    region_end: int


def fold(sequence: str) -> str:
    """Dot-bracket MFE structure of a DNA or RNA hairpin (ViennaRNA's RNAfold)."""
    try:
        import RNA
    except ImportError:  # pragma: no cover - a dependency, installed by .ci/setup
        raise ExomirError(
            "ViennaRNA (PyPI 'ViennaRNA') is needed to place arms on hairpins without "
            "mature sequences; install it or give a mature file"
        ) from None
    structure, _energy = RNA.fold(sequence.upper().replace("T", "U"))
    return structure


def pair_table(structure: str) -> list[int]:
    """Partner of each position in a dot-bracket string, -1 when unpaired."""
    partner = [-1] * len(structure)
    stack: list[int] = []
    for position, symbol in enumerate(structure):
        if symbol == "(":
            stack.append(position)
        elif symbol == ")":
            if not stack:
                raise ValueError(f"unbalanced structure at {position}: {structure}")
            opening = stack.pop()
            partner[opening], partner[position] = position, opening
    if stack:
        raise ValueError(f"unbalanced structure: {structure}")
    return partner


def terminal_stem(structure: str) -> Stem | None:
    """The hairpin loop with the longest stem, or None for a structure without any pair."""
    partner = pair_table(structure)
    n = len(structure)
    best: Stem | None = None
    for i in range(n):
        j = partner[i]
        if j <= i or any(partner[k] != -1 for k in range(i + 1, j)):
            continue  # not the closing pair of a hairpin loop
        pairs, outer_i, outer_j = 1, i, j
        while True:
            left = outer_i - 1
            while left >= 0 and partner[left] == -1:
                left -= 1
            right = outer_j + 1
            while right < n and partner[right] == -1:
                right += 1
            if left < 0 or right >= n or partner[left] != right:
                break
            pairs, outer_i, outer_j = pairs + 1, left, right
        stem = Stem(i, j, pairs)
        # equal stems: the loop nearer the hairpin's middle
        if best is None or (pairs, -abs(2 * stem.centre - n)) > (
            best.pairs,
            -abs(2 * best.centre - n),
        ):
            best = stem
    return best


def arm_spans(sequence: str, structure: str | None = None) -> dict[str, tuple[int, int]]:
    """0-based half-open spans of the 5p and 3p arms; {} when the hairpin does not fold."""
    structure = fold(sequence) if structure is None else structure
    stem = terminal_stem(structure)
    if stem is None:
        return {}
    return _spans(stem, len(sequence))


def _spans(stem: Stem, n: int) -> dict[str, tuple[int, int]]:
    centre = stem.centre
    five_start = centre - FIVE_PRIME_START_BEFORE_LOOP
    three_start = centre + THREE_PRIME_START_AFTER_LOOP
    spans = {
        "5p": (max(0, five_start), min(n, max(0, five_start + ARM_LENGTH))),
        "3p": (min(n, three_start), min(n, three_start + ARM_LENGTH)),
    }
    # an arm cut short to a few bases by the hairpin's end is no arm
    return {arm: span for arm, span in spans.items() if span[1] - span[0] >= ARM_LENGTH - 4}


def place_arms(hairpins: Sequence) -> tuple[list[PlacedArm], list[str]]:
    """Arms of every hairpin (records with ``name`` and ``sequence``), and hairpins without any."""
    placed: list[PlacedArm] = []
    armless: list[str] = []
    for hairpin in hairpins:
        n = len(hairpin.sequence)
        stem = terminal_stem(fold(hairpin.sequence))
        spans = {} if stem is None else _spans(stem, n)
        if not spans:
            armless.append(hairpin.name)
            continue
        regions = {"5p": (0, stem.centre), "3p": (stem.centre + 1, n)}
        for arm in ARMS:
            if arm in spans:
                start, end = spans[arm]
                placed.append(
                    PlacedArm(
                        hairpin.name,
                        arm_name(hairpin.name, arm),
                        arm,
                        start,
                        end,
                        hairpin.sequence[start:end],
                        *regions[arm],
                    )
                )
    return placed, armless


def viennarna_version() -> str:
    import RNA

    return str(RNA.__version__)
