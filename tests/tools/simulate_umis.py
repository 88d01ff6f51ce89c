"""Simulated UMI reads of one insert with known molecules: the truth UMI counting is held to.

Each of ``molecules`` molecules draws an L-nt UMI at random (independently, so genuine
molecules can share a UMI or sit one mismatch apart, as in a real library), with per-base
probabilities ``base_weights`` (skewed synthesis is common). Its reads (PCR copies that
were sequenced) vary from molecule to molecule: 1 + Poisson(λ) with λ log-normal around
``mean_copies − 1`` (σ = 1), so single-read molecules and molecules with dozens of reads
coexist. Every read's UMI then takes substitutions at ``error_rate`` per base (PCR and
sequencing errors), which creates the low-count error copies clustering must absorb.
"""

from __future__ import annotations

import numpy as np

_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


def simulate_umi_reads(
    molecules: int,
    seed: int,
    *,
    insert: str = "TGAGGTAGTAGGTTGTATAGTT",
    umi_length: int = 12,
    mean_copies: float = 4.0,
    error_rate: float = 0.002,
    base_weights: tuple[float, float, float, float] = (0.25, 0.25, 0.25, 0.25),
) -> dict[tuple[str, str], int]:
    """Reads per (insert, UMI) for ``molecules`` molecules of one insert (module docstring)."""
    rng = np.random.default_rng(seed)
    weights = np.asarray(base_weights, dtype=np.float64)
    umis = rng.choice(4, size=(molecules, umi_length), p=weights / weights.sum()).astype(np.uint8)
    spread = rng.lognormal(np.log(max(mean_copies - 1.0, 1e-9)) - 0.5, 1.0, size=molecules)
    copies = 1 + rng.poisson(spread)
    reads = np.repeat(umis, copies, axis=0)
    errors = rng.random(reads.shape) < error_rate
    if errors.any():
        shift = rng.integers(1, 4, size=int(errors.sum()), dtype=np.uint8)
        reads[errors] = (reads[errors] + shift) % 4
    distinct, counts = np.unique(reads, axis=0, return_counts=True)
    text = _BASES[distinct].tobytes().decode()
    return {
        (insert, text[i * umi_length : (i + 1) * umi_length]): int(count)
        for i, count in enumerate(counts.tolist())
    }
