"""How many threads a per-sample job gets: the cores a small run would leave idle.

With fewer samples than cores, one thread a job leaves cores waiting (a single-sample
run on 2 cores used one). A job given 2 threads works on both (``exomir trim``: gzip in
a thread, the kit decision in a forked process, half the trimming in a worker), at ~8 %
more CPU than with one; so a run with at least as many samples as cores keeps 1 thread a
job, which is the faster way through many samples.
"""

from __future__ import annotations

# A job's extra threads pay off up to 2 (measured in tests/bench/end_to_end.py).
MOST_THREADS = 2
# Snakemake leaves the total unset, or effectively unlimited, on cluster executors: one
# job's threads then do not come out of a shared pool.
UNLIMITED_CORES = 10**6


def per_sample_threads(cores: int | None, samples: int, most: int = MOST_THREADS) -> int:
    """Threads for each per-sample job of a run of ``samples`` samples on ``cores`` cores."""
    if cores is None or cores >= UNLIMITED_CORES or samples < 1:
        return 1
    return max(1, min(most, cores // samples))
