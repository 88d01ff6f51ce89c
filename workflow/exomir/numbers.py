"""How counts are written: one deterministic text form, so reruns are byte-identical."""

from __future__ import annotations


def format_count(value: float) -> str:
    """Integers without a decimal point; fractional counts rounded to 4 decimals."""
    rounded = round(float(value), 4)
    if rounded == int(rounded):
        return str(int(rounded))
    return f"{rounded:.4f}".rstrip("0").rstrip(".")
