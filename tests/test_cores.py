"""Per-sample jobs get the cores a small run would leave idle, and no more."""

from __future__ import annotations

import pytest

from exomir.cores import per_sample_threads


@pytest.mark.parametrize(
    ("cores", "samples", "threads"),
    [
        (2, 1, 2),  # one sample on 2 cores: both
        (8, 1, 2),  # capped: a third thread does not pay off
        (2, 2, 1),  # as many samples as cores: one each
        (8, 3, 2),
        (8, 5, 1),
        (1, 1, 1),
        (None, 1, 1),  # cluster executors: no shared total
        (10**9, 1, 1),
        (4, 0, 1),
    ],
)
def test_threads_follow_the_idle_cores(cores, samples, threads):
    assert per_sample_threads(cores, samples) == threads
