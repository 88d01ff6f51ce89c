"""Count text: one deterministic form, whichever of the two formatters writes it."""

from __future__ import annotations

import math
import random
import struct

import numpy as np
import pytest

from exomir.numbers import format_count, format_counts


def rounded_reference(value: float) -> str:
    """The definition: round to 4 decimals; whole numbers without a decimal point."""
    rounded = round(float(value), 4)
    if rounded == int(rounded):
        return str(int(rounded))
    return f"{rounded:.4f}".rstrip("0").rstrip(".")


def awkward_values(n: int = 20_000) -> list[float]:
    """Counts, fractions near rounding ties, huge, tiny and arbitrary bit patterns."""
    rng = random.Random(11)
    values = [0.0, 1.0, 2.5, 1 / 3, 0.00005, 0.00015, 1.00005, 0.03125, 2**53, 1e20, 5e-324]
    for _ in range(n):
        kind = rng.randrange(4)
        if kind == 0:
            values.append(rng.randint(0, 10**6) + rng.choice([0, 0.5, 1 / 3, 0.99995, 0.00005]))
        elif kind == 1:
            values.append(rng.randint(0, 10**9) / 10 ** rng.randint(0, 9))
        elif kind == 2:
            values.append(rng.uniform(0, 1e-3))
        else:
            bits = struct.unpack("d", struct.pack("Q", rng.getrandbits(63)))[0]
            if math.isfinite(bits):
                values.append(bits)
    return values


def test_format_count_is_rounding_to_four_decimals():
    values = awkward_values()
    assert [format_count(v) for v in values] == [rounded_reference(v) for v in values]


def test_whole_numbers_have_no_decimal_point():
    assert [format_count(v) for v in (0.0, 7, np.int64(12), 3.00001, 1e16)] == [
        "0",
        "7",
        "12",
        "3",
        "10000000000000000",
    ]


def test_fractions_lose_trailing_zeros():
    assert [format_count(v) for v in (0.5, 0.25, 1 / 3, 12.30004)] == [
        "0.5",
        "0.25",
        "0.3333",
        "12.3",
    ]


@pytest.mark.parametrize("value", [-0.0, -0.00004])
def test_negative_zero_is_written_as_zero(value):
    assert format_count(value) == "0"
    assert format_counts([value, 1.0]) == ["0", "1"]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_refused(value):
    with pytest.raises(ValueError):
        format_count(value)
    with pytest.raises(ValueError):
        format_counts([1.0, value])


def test_a_row_reads_as_its_cells_one_by_one():
    values = awkward_values()
    assert format_counts(np.array(values)) == [format_count(v) for v in values]


def test_a_row_with_negative_values_reads_as_its_cells_one_by_one():
    values = [v * (-1) ** i for i, v in enumerate(awkward_values(2_000))]
    assert format_counts(values) == [rounded_reference(v) for v in values]


def test_an_empty_row_has_no_cells():
    assert format_counts([]) == []
