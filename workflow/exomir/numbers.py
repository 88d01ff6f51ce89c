"""How counts are written: one deterministic text form, so reruns are byte-identical."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np


def format_count(value: float) -> str:
    """Integers without a decimal point; fractional counts rounded to 4 decimals.

    Called for every cell of cohort matrices (millions of times), so it avoids round():
    ``%.4f`` rounds the exact binary value correctly, as round(value, 4) does, and an
    integral float prints as its exact integer either way.
    """
    value = float(value)
    if value.is_integer():
        return str(int(value))
    if not math.isfinite(value):
        raise ValueError(f"cannot write {value} as a count")
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    # a tiny negative rounds to "-0.0000"; zero has no sign in a count table
    return "0" if text == "-0" else text


def format_counts(values: Sequence[float] | np.ndarray) -> list[str]:
    """:func:`format_count` of each value, for matrix rows: one ``%`` format per row.

    A 1,000-sample CPM matrix has millions of distinct values; formatting a whole row
    at once halves the time. Rows with a negative or non-finite value take the
    value-by-value path, which handles (or refuses) them exactly as format_count does.
    """
    row = np.asarray(values, dtype=np.float64)
    if row.size == 0:
        return []
    if not np.isfinite(row).all() or np.signbit(row).any():
        return [format_count(value) for value in row.tolist()]
    # "%.4f" always has a decimal point, so stripping zeros never reaches integer digits
    text = _row_template(row.size) % tuple(row.tolist())
    return [cell.rstrip("0").rstrip(".") for cell in text.split("\t")]


@functools.lru_cache(maxsize=8)
def _row_template(length: int) -> str:
    return "\t".join(["%.4f"] * length)
