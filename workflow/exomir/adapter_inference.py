"""Find the 3' adapter (and a 5' barcode) from the reads when no preset explains them.

Public libraries carry adapters that are variants of a preset (the first bases missing, the
v1.0 instead of the v1.5 small-RNA adapter) or no known adapter at all. As in DNApi and
minion, the adapter is the over-represented sequence that follows the insert: the most
frequent k-mer of the reads' 3' parts is taken as a seed (every adapter-bearing read
contributes to it, wherever its insert ends) and extended base by base, left while the
reads agree on the preceding base (the insert boundary is where they stop agreeing), right
while they agree on the next one. A seed whose left end is the read start in most reads is
an abundant insert, not an adapter, and the next seed is tried.

Preset variants are measured directly: each preset without its first 1-4 bases. What a
candidate explains is the share of reads in which cutadapt's matcher (10 % errors, at least
10 nt of adapter) finds it, as in :func:`exomir.kits.gather_evidence`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cutadapt.adapters import BackAdapter

SEED_LENGTH = 12
SEEDS_TRIED = 8
# The insert is at least this long before a seed is counted (dimers excepted: position 0).
MIN_SEED_POSITION = 0
LEFT_AGREEMENT = 0.75
RIGHT_AGREEMENT = 0.6
MIN_SUPPORT_FRACTION = 0.3
MAX_ADAPTER_LENGTH = 24
READ_START_SHARE_MAX = 0.5
MIN_EXPLAINED = 0.10
PARTIAL_SHIFTS = (1, 2, 3, 4)
MATCH_MIN_OVERLAP = 10
START_BASES = 3
# 5' barcodes: a few distinct prefixes covering (almost) every read, then diversity.
BARCODE_LENGTHS = range(4, 9)
BARCODE_MIN_SHARE = 0.05
BARCODE_COVERAGE = 0.85
BARCODE_NEXT_DROP = 0.2  # coverage falls by this much one base past the barcode


@dataclass(frozen=True)
class InferredAdapter:
    """An adapter found in the reads and what it explains."""

    sequence: str
    fraction: float
    source: str  # "de novo" or "<preset> without its first n bases"


def explained_fraction(reads: Counter[str], adapter: str) -> float:
    """Share of reads in which ``adapter`` is found with its first bases exact.

    cutadapt's matcher (10 % errors, >= 10 nt) finds a preset missing its first base in
    nearly every read too, by taking the insert's last base for it or calling it an
    error; only reads where the match starts with the adapter's own first 3 bases count.
    """
    matcher = BackAdapter(adapter, max_errors=0.1, min_overlap=min(MATCH_MIN_OVERLAP, len(adapter)))
    head = adapter[:START_BASES]
    total = sum(reads.values())
    found = 0
    for read, n in reads.items():
        match = matcher.match_to(read)
        if match is not None and read[match.rstart : match.rstart + START_BASES] == head:
            found += n
    return found / total if total else 0.0


def partial_presets(
    reads: Counter[str], presets: Mapping[str, str], shifts: Iterable[int] = PARTIAL_SHIFTS
) -> list[InferredAdapter]:
    """Each preset adapter (name → sequence) without its first bases, with what it explains."""
    found = []
    for name, adapter in sorted(presets.items()):
        if len(set(adapter)) == 1:
            continue  # poly(A): shifting changes nothing
        for shift in shifts:
            if len(adapter) - shift < MATCH_MIN_OVERLAP:
                continue
            sequence = adapter[shift:]
            found.append(
                InferredAdapter(
                    sequence,
                    round(explained_fraction(reads, sequence), 4),
                    f"{name} adapter without its first {shift} base{'s' * (shift > 1)}",
                )
            )
    return found


def infer_adapter(reads: Counter[str]) -> InferredAdapter | None:
    """The over-represented sequence following the insert, or None (see module docstring)."""
    if not reads:
        return None
    seeds = _seed_counts(reads)
    rejected: list[str] = []
    for seed, _ in seeds.most_common(SEEDS_TRIED * 4):
        if any(seed in sequence for sequence in rejected):
            continue
        if len(rejected) >= SEEDS_TRIED:
            break
        extended, read_start_share = _extend(reads, seed)
        if read_start_share > READ_START_SHARE_MAX:
            rejected.append(extended)
            continue
        fraction = explained_fraction(reads, extended)
        if fraction < MIN_EXPLAINED:
            return None
        return InferredAdapter(extended, round(fraction, 4), "de novo")
    return None


def five_prime_barcode_length(reads: Counter[str]) -> int:
    """Length of a 5' barcode (a few fixed prefixes on nearly every read), 0 if none.

    ENCODE-style libraries start each read with one of a few 6-nt barcodes; after it the
    inserts' own bases are diverse again. A library dominated by one miRNA has few
    prefixes too, but stays low-diversity past the barcode lengths, so it is not taken.
    """
    total = sum(reads.values())
    if not total:
        return 0
    first = Counter()
    for read, n in reads.items():
        first[read[: BARCODE_LENGTHS[0]]] += n
    n_codes = sum(1 for n in first.values() if n >= BARCODE_MIN_SHARE * total)
    if not 1 <= n_codes <= 16:
        return 0

    def coverage(length: int) -> float:
        prefixes = Counter()
        for read, n in reads.items():
            prefixes[read[:length]] += n
        return sum(n for _, n in prefixes.most_common(n_codes)) / total

    covered = [length for length in BARCODE_LENGTHS if coverage(length) >= BARCODE_COVERAGE]
    if not covered:
        return 0
    length = max(covered)
    if length == BARCODE_LENGTHS[-1] or coverage(length + 1) > coverage(length) - BARCODE_NEXT_DROP:
        return 0
    return length


def _seed_counts(reads: Counter[str]) -> Counter[str]:
    """k-mers by the reads holding them (each read counted once per k-mer)."""
    counts: Counter[str] = Counter()
    k = SEED_LENGTH
    for read, n in reads.items():
        kmers = {read[p : p + k] for p in range(MIN_SEED_POSITION, len(read) - k + 1)}
        kmers.discard("")
        for kmer in kmers:
            if "N" not in kmer and len(set(kmer)) > 2:  # no homopolymer / dinucleotide runs
                counts[kmer] += n
    return counts


def _extend(reads: Counter[str], seed: str) -> tuple[str, float]:
    """``seed`` extended by the reads' consensus; the share of reads where it starts at 0."""
    placed: list[tuple[str, int, int]] = []  # (read, seed position, reads)
    for read, n in reads.items():
        position = read.find(seed)
        if position >= 0:
            placed.append((read, position, n))
    support = sum(n for _, _, n in placed)
    left = _consensus(placed, seed, support, direction=-1)
    right = _consensus(placed, seed, support, direction=1)
    sequence = left + seed + right
    sequence = sequence[:MAX_ADAPTER_LENGTH]
    at_start = sum(n for _, p, n in placed if p - len(left) <= 0)
    return sequence, at_start / support if support else 1.0


def _consensus(
    placed: Sequence[tuple[str, int, int]], seed: str, support: int, direction: int
) -> str:
    letters: list[str] = []
    agreement = LEFT_AGREEMENT if direction < 0 else RIGHT_AGREEMENT
    for step in range(1, MAX_ADAPTER_LENGTH + 1):
        bases: Counter[str] = Counter()
        for read, position, n in placed:
            index = position - step if direction < 0 else position + len(seed) + step - 1
            if 0 <= index < len(read):
                bases[read[index]] += n
        seen = sum(bases.values())
        if seen < MIN_SUPPORT_FRACTION * support:
            break
        base, count = bases.most_common(1)[0]
        if base == "N" or count < agreement * seen:
            break
        letters.append(base)
    if direction < 0:
        return "".join(reversed(letters))
    return "".join(letters)
