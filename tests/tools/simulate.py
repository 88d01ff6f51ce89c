"""Simulated small-RNA-seq libraries with known truth, to measure the pipeline's accuracy.

A library is a set of molecules (miRNA isomiRs, spike-ins, tRNA fragments, random
fragments, adapter dimers) wrapped in one kit's read layout, then sequenced with
position-dependent substitution errors. Every read's origin is known, so the truth table
says exactly what a perfect trimmer and counter would report: one row per distinct
(origin, label, insert as sequenced, i.e. with its isomiR variation and sequencing
errors), with reads and molecules (molecules = reads for kits without UMIs; for UMI kits,
the distinct molecules behind the insert, as per-insert UMI deduplication can see them).
For poly(A) kits (CATS) the insert's own 3' A's are stripped, as no trimmer can tell them
from the tail.

Speed matters (the throughput benchmark simulates millions of reads): molecule classes and
attributes are drawn with numpy, each distinct insert is built once as a template read,
and reads are produced in chunks of uint8 matrices (template row, random bases, errors).

Ground-truth ambiguity is avoided on purpose: miRNA reads come only from matures whose
sequence is unique in the species and whose hairpin span overlaps no other mature's span,
so every miRNA read has exactly one right answer. Which mature an identical-sequence read
belongs to is a counting-policy question, not an accuracy one.
"""

from __future__ import annotations

import itertools
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from isal import igzip_threaded

from exomir.atomic import atomic_open, atomic_path
from exomir.config import schema_default
from exomir.errors import ExomirError
from exomir.numbers import format_count
from exomir.reference import (
    FastaRecord,
    MaturePlacement,
    locate_matures,
    read_fasta,
    species_records,
)

ORIGINS = ("mirna", "spikein", "trna", "random", "dimer")
DEFAULT_SPIKEINS = tuple(schema_default("spikeins"))
DEFAULT_COMPOSITION = {"mirna": 0.70, "spikein": 0.02, "trna": 0.12, "random": 0.10, "dimer": 0.06}
DEFAULT_ERROR_RATE = (0.001, 0.01)
TRUTH_COLUMNS = ("origin", "label", "insert", "reads", "molecules")

# isomiR model: offsets relative to the annotated mature span on its hairpin.
FIVE_PRIME_OFFSETS = (-1, 0, 1)
FIVE_PRIME_P = (0.05, 0.90, 0.05)
THREE_PRIME_OFFSETS = (-3, -2, -1, 0, 1, 2, 3)
THREE_PRIME_P = (0.03, 0.07, 0.20, 0.45, 0.15, 0.07, 0.03)
# Non-templated 3' additions (tails): 1-3 nt, mostly A and U (adenylation, uridylation),
# any base possible; DEFAULT_TAIL_RATE of miRNA molecules carry one.
DEFAULT_TAIL_RATE = 0.10
TAIL_LENGTH_P = {1: 0.6, 2: 0.3, 3: 0.1}
TAIL_BASE_P = {"A": 0.45, "T": 0.45, "C": 0.05, "G": 0.05}


def tail_model(tail_rate: float = DEFAULT_TAIL_RATE) -> tuple[tuple[str, ...], np.ndarray]:
    """Every possible tail ('' first) and its probability for a miRNA molecule.

    A tail's probability is tail_rate x P(its length) x the product of its bases' P.
    """
    if not 0 <= tail_rate <= 1:
        raise ExomirError(f"simulate: tail rate must be between 0 and 1, got {tail_rate}")
    tails, p = [""], [1.0 - tail_rate]
    for length, p_length in TAIL_LENGTH_P.items():
        for bases in itertools.product(TAIL_BASE_P, repeat=length):
            tails.append("".join(bases))
            p.append(tail_rate * p_length * float(np.prod([TAIL_BASE_P[b] for b in bases])))
    p = np.array(p)
    return tuple(tails), p / p.sum()


ADDITIONS, ADDITION_P = tail_model()

RANDOM_LENGTHS = (16, 40)
TRNA_FRAGMENT_LENGTHS = (28, 40)
# Where tRNA fragments come from: 5' halves, 3' ends (with the CCA tail), internal pieces.
TRNA_FRAGMENT_KIND_P = (0.5, 0.3, 0.2)

_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _CODE[_b] = _i
_MAX_QUALITY = 41
_CHUNK_READS = 200_000

_TRUSEQ_INDEX_AND_P7 = "ATCACG" + "ATCTCGTATGCCGTCTTCTGCTTG"
_TRUSEQ_SMALL_RNA_3P = "TGGAATTCTCGGGTGCCAAGGAACTCCAGTCAC" + _TRUSEQ_INDEX_AND_P7
_TRUSEQ_READ1_3P = "AGATCGGAAGAGCACACGTCTGAACTCCAGTCAC" + _TRUSEQ_INDEX_AND_P7


@dataclass(frozen=True)
class KitLayout:
    """What surrounds the insert on a read of one kit, 5' to 3'.

    Read = 5' random bases + insert + 3' random bases + poly(A) + adapter + UMI + after_umi,
    then poly(A) once the sequencer runs past the end of the molecule.
    """

    name: str
    adapter: str
    five_prime_random: int = 0
    three_prime_random: int = 0
    poly_a: int = 0
    umi_length: int = 0
    after_umi: str = ""
    default_read_length: int = 50


KITS: dict[str, KitLayout] = {
    "illumina": KitLayout("illumina", _TRUSEQ_SMALL_RNA_3P),
    "nextflex": KitLayout(
        "nextflex", _TRUSEQ_SMALL_RNA_3P, five_prime_random=4, three_prime_random=4
    ),
    # QIAseq reads are 75 nt in practice: 50 nt would cut the UMI of most miRNA reads.
    "qiaseq": KitLayout(
        "qiaseq",
        "AACTGTAGGCACCATCAAT",
        umi_length=12,
        after_umi=_TRUSEQ_READ1_3P,
        default_read_length=75,
    ),
    "cats": KitLayout("cats", _TRUSEQ_READ1_3P, five_prime_random=3, poly_a=30),
    "nebnext": KitLayout("nebnext", _TRUSEQ_READ1_3P),
    # GAII-era Illumina small RNA v1.5: the P7 primer follows the insert directly.
    "illumina_v15": KitLayout("illumina_v15", _TRUSEQ_INDEX_AND_P7[6:] + "ATCTCGTATGCC"),
}

# Random bases of real kits are not uniform: the ligases prefer some bases next to the
# insert (NEXTflex 4N: G-rich at the 5' adapter, the 3' 4N A/T-poor), so a 5'-base
# composition test does not see them as random. Rows: positions 5' to 3', columns A, C, G, T.
LIGATION_BIASED_5P = (
    (0.16, 0.14, 0.48, 0.22),
    (0.20, 0.18, 0.40, 0.22),
    (0.24, 0.22, 0.30, 0.24),
    (0.22, 0.26, 0.32, 0.20),
)
LIGATION_BIASED_3P = (
    (0.22, 0.28, 0.30, 0.20),
    (0.20, 0.30, 0.30, 0.20),
    (0.18, 0.32, 0.32, 0.18),
    (0.16, 0.36, 0.32, 0.16),
)
RANDOM_BASE_MODELS = ("biased", "uniform")


@dataclass(frozen=True)
class SimulationResult:
    """What was written, and the miRNA pool the reads were drawn from."""

    fastq: Path
    truth: Path
    kit: str
    seed: int
    reads: int
    molecules: int
    read_length: int
    mirna_pool: tuple[str, ...]


@dataclass(frozen=True)
class _PoolMirna:
    name: str
    loci: tuple[tuple[str, int, int], ...]  # (hairpin sequence, start, end)


class _Templates:
    """Distinct (origin, label, insert) triples; each becomes one template read.

    Truth keys are the truth table's first three columns joined by tabs (so sorting them
    sorts the table). They differ from the template's own insert only for poly(A) kits.
    """

    def __init__(self, max_insert: int, poly_a_tail: bool) -> None:
        self.max_insert = max_insert
        self.poly_a_tail = poly_a_tail
        self.index: dict[str, int] = {}
        self.owners: list[str] = []
        self.inserts: list[str] = []
        self.truth_keys: list[str] = []

    def add(self, origin: str, label: str, insert: str) -> int:
        # Only the part of the insert inside the read exists for the pipeline.
        insert = insert[: self.max_insert]
        owner = f"{origin}\t{label}\t"
        key = owner + insert
        tid = self.index.get(key)
        if tid is None:
            tid = self.index[key] = len(self.inserts)
            self.owners.append(owner)
            self.inserts.append(insert)
            self.truth_keys.append(owner + self.truth_insert(insert))
        return tid

    def truth_insert(self, insert: str) -> str:
        """What a perfect trimmer returns for a read holding ``insert``.

        Before a poly(A) tail (CATS), an insert's own 3' A's cannot be told from the tail.
        """
        if self.poly_a_tail and len(insert) < self.max_insert:
            return insert.rstrip("A")
        return insert


def unambiguous_matures(
    matures: Sequence[FastaRecord],
    placements: Iterable[MaturePlacement],
    lengths: tuple[int, int] = (18, 25),
) -> list[str]:
    """Names of matures whose reads have one right answer, in input order.

    Kept: placed on a hairpin, ACGT only, length within ``lengths`` (isomiRs of these stay
    inside the pipeline's default 16-30 nt window), sequence shared with no other mature,
    and no placement overlapping another mature's placement on the same hairpin.
    """
    sequence_names: dict[str, set[str]] = defaultdict(set)
    for record in matures:
        sequence_names[record.sequence].add(record.name)
    by_hairpin: dict[str, list[MaturePlacement]] = defaultdict(list)
    for placement in placements:
        by_hairpin[placement.hairpin].append(placement)
    placed: set[str] = set()
    overlapping: set[str] = set()
    for spans in by_hairpin.values():
        for a in spans:
            placed.add(a.mature)
            for b in spans:
                if a.mature != b.mature and a.start < b.end and b.start < a.end:
                    overlapping.add(a.mature)
    low, high = lengths
    return [
        r.name
        for r in matures
        if r.name in placed
        and r.name not in overlapping
        and len(sequence_names[r.sequence]) == 1
        and low <= len(r.sequence) <= high
        and set(r.sequence) <= set("ACGT")
    ]


def _normalised_composition(composition: Mapping[str, float] | None) -> np.ndarray:
    given = dict(DEFAULT_COMPOSITION if composition is None else composition)
    unknown = sorted(set(given) - set(ORIGINS))
    if unknown:
        raise ExomirError(
            f"composition: unknown read origin(s) {', '.join(unknown)}; use {', '.join(ORIGINS)}"
        )
    shares = np.array([float(given.get(o, 0.0)) for o in ORIGINS])
    if (shares < 0).any() or not np.isfinite(shares).all() or shares.sum() <= 0:
        raise ExomirError(f"composition: shares must be non-negative with a positive sum: {given}")
    return shares / shares.sum()


def _spikein_sequences(mature_records: Sequence[FastaRecord], names: Sequence[str], path) -> list:
    by_name = {r.name: r.sequence for r in mature_records}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ExomirError(f"{path}: spike-in(s) {', '.join(missing)} not found")
    return [(n, by_name[n]) for n in names]


def _mirna_pool(
    mature_records: Sequence[FastaRecord],
    hairpin_fa,
    mature_fa,
    species: str,
    n_mirnas: int,
    rng: np.random.Generator,
) -> list[_PoolMirna]:
    matures = species_records(mature_records, species)
    hairpins = species_records(read_fasta(hairpin_fa), species)
    if not matures:
        raise ExomirError(f"{mature_fa}: no mature miRNAs of species '{species}'")
    if not hairpins:
        raise ExomirError(f"{hairpin_fa}: no hairpins of species '{species}'")
    placements, _ = locate_matures(matures, hairpins)
    eligible = unambiguous_matures(matures, placements)
    if not eligible:
        raise ExomirError(f"{mature_fa}: no unambiguous mature miRNAs of species '{species}'")
    chosen = sorted(rng.choice(eligible, size=min(n_mirnas, len(eligible)), replace=False))
    hairpin_sequence = {h.name: h.sequence for h in hairpins}
    loci: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    for p in placements:
        loci[p.mature].append((hairpin_sequence[p.hairpin], p.start, p.end))
    return [_PoolMirna(str(name), tuple(loci[name])) for name in chosen]


def _trna_sources(trna_fa, rng: np.random.Generator) -> list[str]:
    if trna_fa is not None:
        sources = [
            r.sequence
            for r in read_fasta(trna_fa)
            if len(r.sequence) >= 50 and set(r.sequence) <= set("ACGT")
        ]
        if not sources:
            raise ExomirError(f"{trna_fa}: no tRNA sequences of at least 50 nt")
        return sources
    # Without a tRNA reference: GC-balanced pseudo-tRNAs, fragmented the same way.
    codes = rng.integers(0, 4, size=(100, 76), dtype=np.uint8)
    return [row.tobytes().decode() for row in _BASES[codes]]


def _draw_mirna(
    n: int, pool: list[_PoolMirna], templates: _Templates, rng, tail_rate: float
) -> np.ndarray:
    weights = rng.lognormal(0.0, 2.0, size=len(pool))
    mature = rng.choice(len(pool), size=n, p=weights / weights.sum())
    n_loci = np.array([len(m.loci) for m in pool])
    locus = (rng.random(n) * n_loci[mature]).astype(np.int64)
    five = rng.choice(len(FIVE_PRIME_OFFSETS), size=n, p=FIVE_PRIME_P)
    three = rng.choice(len(THREE_PRIME_OFFSETS), size=n, p=THREE_PRIME_P)
    additions, addition_p = tail_model(tail_rate)
    addition = rng.choice(len(additions), size=n, p=addition_p)
    key = ((mature * (n_loci.max() + 1) + locus) * len(FIVE_PRIME_OFFSETS) + five) * len(
        THREE_PRIME_OFFSETS
    ) + three
    key = key * len(additions) + addition
    distinct, inverse = np.unique(key, return_inverse=True)
    tids = np.empty(len(distinct), dtype=np.int64)
    for i, k in enumerate(distinct.tolist()):
        k, add = divmod(k, len(additions))
        k, t = divmod(k, len(THREE_PRIME_OFFSETS))
        k, f = divmod(k, len(FIVE_PRIME_OFFSETS))
        m, loc = divmod(k, int(n_loci.max()) + 1)
        hairpin, start, end = pool[m].loci[loc]
        start = max(0, start + FIVE_PRIME_OFFSETS[f])
        end = min(len(hairpin), end + THREE_PRIME_OFFSETS[t])
        tids[i] = templates.add("mirna", pool[m].name, hairpin[start:end] + additions[add])
    return tids[inverse]


def _draw_spikein(n: int, spikeins: list, templates: _Templates, rng) -> np.ndarray:
    tids = np.array([templates.add("spikein", name, seq) for name, seq in spikeins], dtype=np.int64)
    return tids[rng.integers(0, len(spikeins), size=n)]


def _draw_trna(
    n: int, sources: list[str], templates: _Templates, rng, lengths=TRNA_FRAGMENT_LENGTHS
) -> np.ndarray:
    extended = [s + "CCA" for s in sources]
    ext_len = np.array([len(s) for s in extended])
    weights = rng.lognormal(0.0, 1.0, size=len(sources))
    which = rng.choice(len(sources), size=n, p=weights / weights.sum())
    low, high = lengths
    length = rng.integers(low, high + 1, size=n)
    kind = rng.choice(3, size=n, p=TRNA_FRAGMENT_KIND_P)
    room = ext_len[which] - length  # >= 10 since sources are >= 50 nt
    internal = 1 + (rng.random(n) * (room - 1)).astype(np.int64)
    start = np.where(kind == 0, 0, np.where(kind == 1, room, internal))
    key = (which * 1000 + start) * 1000 + length
    distinct, inverse = np.unique(key, return_inverse=True)
    tids = np.empty(len(distinct), dtype=np.int64)
    for i, k in enumerate(distinct.tolist()):
        k, size = divmod(k, 1000)
        t, begin = divmod(k, 1000)
        tids[i] = templates.add("trna", "", extended[t][begin : begin + size])
    return tids[inverse]


def _draw_random(n: int, templates: _Templates, rng) -> np.ndarray:
    low, high = RANDOM_LENGTHS
    letters = _BASES[rng.integers(0, 4, size=(n, high), dtype=np.uint8)].tobytes().decode()
    lengths = rng.integers(low, high + 1, size=n).tolist()
    add = templates.add
    return np.array(
        [add("random", "", letters[i * high : i * high + size]) for i, size in enumerate(lengths)],
        dtype=np.int64,
    )


def _random_bases(n: int, layout: KitLayout, model: str, rng) -> np.ndarray:
    """Per molecule: its 5' random, 3' random and UMI bases (codes 0-3), in that order."""
    n_random = layout.five_prime_random + layout.three_prime_random + layout.umi_length
    bases = rng.integers(0, 4, size=(n, n_random), dtype=np.uint8)
    if model == "uniform":
        return bases
    head, tail = layout.five_prime_random, layout.three_prime_random
    columns = [(i, LIGATION_BIASED_5P[min(i, 3)]) for i in range(head)]
    columns += [(head + i, LIGATION_BIASED_3P[min(i, 3)]) for i in range(tail)]
    for column, shares in columns:
        bases[:, column] = rng.choice(4, size=n, p=np.array(shares) / sum(shares))
    return bases


def _copies_per_molecule(n_reads: int, layout: KitLayout, mean_copies: float, rng) -> np.ndarray:
    """Reads per molecule: 1 without UMIs (duplicates are invisible), else PCR copies >= 1."""
    if not layout.umi_length:
        return np.ones(n_reads, dtype=np.int64)
    blocks, total = [], 0
    while total < n_reads:
        block = rng.geometric(
            1.0 / mean_copies, size=max(1000, int((n_reads - total) / mean_copies))
        )
        blocks.append(block)
        total += int(block.sum())
    copies = np.concatenate(blocks)
    ends = np.cumsum(copies)
    n_molecules = int(np.searchsorted(ends, n_reads)) + 1
    copies = copies[:n_molecules].copy()
    copies[-1] -= int(ends[n_molecules - 1]) - n_reads
    return copies


def _template_reads(templates: _Templates, layout: KitLayout, read_length: int, block=50_000):
    """Per template: read codes (0-3), mask of per-molecule random positions, random count.

    Vectorised over templates (there are as many as random fragments): position p of a
    read is 5' random, insert base p - r5, or tail base p - r5 - len(insert).
    """
    head = layout.five_prime_random
    tail_text = (
        "N" * layout.three_prime_random
        + "A" * layout.poly_a
        + layout.adapter
        + "N" * layout.umi_length
        + layout.after_umi
        + "A" * read_length
    )
    tail = _CODE[np.frombuffer(tail_text.encode(), np.uint8)]
    lengths = np.array([len(i) for i in templates.inserts], dtype=np.int64)
    flat = _CODE[np.frombuffer("".join(templates.inserts).encode() + b"A", np.uint8)]
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    relative = np.arange(read_length) - head
    n = len(lengths)
    rows = np.empty((n, read_length), dtype=np.uint8)
    for lo in range(0, n, block):
        size = lengths[lo : lo + block, None]
        in_insert = (relative >= 0) & (relative < size)
        from_insert = flat[
            np.where(in_insert, starts[lo : lo + block, None] + relative, len(flat) - 1)
        ]
        from_tail = tail[np.clip(relative - size, 0, None)]
        rows[lo : lo + block] = np.where(in_insert, from_insert, from_tail)
        rows[lo : lo + block, :head] = 4
    random_mask = rows == 4
    rows[random_mask] = 0
    return rows, random_mask, random_mask.sum(axis=1), lengths


class _SequencingModel:
    """Phred qualities rising in error along the read; each base errs with its quality's rate.

    Errors are drawn from the qualities written, so the FASTQ qualities are calibrated.
    """

    _NOISE = np.array([-3, -2, -1, 0, 0, 1, 2, 3], dtype=np.int16)

    def __init__(self, error_rate: tuple[float, float] | None, read_length: int) -> None:
        self.enabled = error_rate is not None
        if self.enabled:
            rate = np.clip(np.linspace(*error_rate, read_length), 10 ** (-_MAX_QUALITY / 10), 1.0)
            self.mean_quality = np.rint(-10.0 * np.log10(rate)).astype(np.int16)
        else:
            self.mean_quality = np.full(read_length, _MAX_QUALITY, dtype=np.int16)
        # 16-bit thresholds: P(error | Q) = 10^(-Q/10) with 1.5e-5 resolution.
        qualities = np.arange(_MAX_QUALITY + 1)
        self.threshold = np.rint(65536 * 10.0 ** (-qualities / 10.0)).astype(np.int32)

    def apply(self, codes: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Qualities for the reads and a mask of the bases changed in ``codes`` (in place)."""
        noise = np.frombuffer(rng.bytes(codes.size), np.uint8).reshape(codes.shape) & 7
        quals = np.clip(self.mean_quality + self._NOISE[noise], 2, _MAX_QUALITY).astype(np.uint8)
        if not self.enabled:
            return quals, np.zeros(codes.shape, dtype=bool)
        errors = rng.integers(0, 65536, size=codes.shape, dtype=np.uint16) < self.threshold[quals]
        count = int(errors.sum())
        if count:
            codes[errors] = (codes[errors] + rng.integers(1, 4, size=count, dtype=np.uint8)) % 4
        return quals, errors


def _fastq_records(first_number: int, width: int, codes: np.ndarray, quals: np.ndarray) -> bytes:
    """Fixed-width FASTQ records ``@sim<number>`` built as one byte matrix."""
    n, length = codes.shape
    name = 4 + width
    out = np.empty((n, name + 1 + length + 3 + length + 1), dtype=np.uint8)
    out[:, 0:4] = np.frombuffer(b"@sim", np.uint8)
    numbers = np.arange(first_number, first_number + n, dtype=np.int64)
    for j in range(width):
        out[:, 4 + j] = 48 + (numbers // 10 ** (width - 1 - j)) % 10
    out[:, name] = ord("\n")
    out[:, name + 1 : name + 1 + length] = _BASES[codes]
    sep = name + 1 + length
    out[:, sep : sep + 3] = np.frombuffer(b"\n+\n", np.uint8)
    out[:, sep + 3 : sep + 3 + length] = quals + 33
    out[:, -1] = ord("\n")
    return out.tobytes()


def _mutate_umis(bases, copy_index, umi_offset: int, layout: KitLayout, rate: float, rng) -> None:
    """PCR errors: some duplicate reads carry one substitution in their molecule's UMI."""
    hit = np.flatnonzero((copy_index > 0) & (rng.random(len(copy_index)) < rate))
    if len(hit):
        column = umi_offset + rng.integers(0, layout.umi_length, size=len(hit))
        shift = rng.integers(1, 4, size=len(hit), dtype=np.uint8)
        bases[hit, column] = (bases[hit, column] + shift) % 4


class _TruthCounter:
    """Reads and distinct molecules per (origin, label, insert as sequenced).

    A read whose insert has no sequencing error counts for its template; an erroneous one
    for (its template's origin and label, the insert as read).
    """

    def __init__(self, templates: _Templates, n_molecules: int, umi: bool) -> None:
        self.templates = templates
        self.n_molecules = n_molecules
        self.umi = umi
        self.clean_reads = np.zeros(len(templates.inserts), dtype=np.int64)
        self.clean_pairs: list[np.ndarray] = []
        self.noisy_reads: dict[str, int] = defaultdict(int)
        self.noisy_molecules: dict[str, set[int]] = defaultdict(set)

    def add_chunk(self, tids, molecules, noisy, codes, insert_start: int, insert_length) -> None:
        clean = ~noisy
        self.clean_reads += np.bincount(tids[clean], minlength=len(self.clean_reads))
        if self.umi:
            self.clean_pairs.append(tids[clean] * self.n_molecules + molecules[clean])
        picked = np.flatnonzero(noisy)
        if not len(picked):
            return
        length = codes.shape[1]
        letters = _BASES[codes[picked]].tobytes().decode()
        owners, truth_insert = self.templates.owners, self.templates.truth_insert
        picked_tids = tids[picked].tolist()
        ends = (insert_start + insert_length[tids[picked]]).tolist()
        picked_molecules = molecules[picked].tolist()
        for i, (tid, end) in enumerate(zip(picked_tids, ends, strict=True)):
            key = owners[tid] + truth_insert(letters[i * length + insert_start : i * length + end])
            self.noisy_reads[key] += 1
            if self.umi:
                self.noisy_molecules[key].add(picked_molecules[i])

    def rows(self) -> dict[str, tuple[int, int]]:
        """Truth key (origin, label, insert joined by tabs) -> (reads, molecules)."""
        if self.umi and self.clean_pairs:
            pairs = np.sort(np.concatenate(self.clean_pairs))
            distinct = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
            clean_molecules = np.bincount(
                distinct // self.n_molecules, minlength=len(self.clean_reads)
            )
        else:
            clean_molecules = self.clean_reads
        keys = self.templates.truth_keys
        counts: dict[str, list[int]] = {}
        # Several templates may share a truth key (a noisy insert equal to another template's
        # insert, poly(A) stripping); a molecule has one template, so counts simply add.
        for tid in np.flatnonzero(self.clean_reads).tolist():
            entry = counts.setdefault(keys[tid], [0, 0])
            entry[0] += int(self.clean_reads[tid])
            entry[1] += int(clean_molecules[tid])
        for key, reads in self.noisy_reads.items():
            molecules = len(self.noisy_molecules[key]) if self.umi else reads
            entry = counts.setdefault(key, [0, 0])
            entry[0] += reads
            entry[1] += molecules
        return {key: (reads, molecules) for key, (reads, molecules) in counts.items()}

    def write(self, path: Path) -> None:
        rows = self.rows()
        numbers = {v for pair in rows.values() for v in pair}
        text = {v: format_count(v) for v in numbers}
        with atomic_open(path, "w") as handle:
            handle.write("\t".join(TRUTH_COLUMNS) + "\n")
            handle.writelines(
                f"{key}\t{text[rows[key][0]]}\t{text[rows[key][1]]}\n" for key in sorted(rows)
            )


def simulate_library(
    mature_fa: str | os.PathLike,
    hairpin_fa: str | os.PathLike,
    species: str,
    n_reads: int,
    kit: str,
    seed: int,
    *,
    fastq_out: str | os.PathLike,
    truth_out: str | os.PathLike,
    read_length: int | None = None,
    spikeins: Sequence[str] = DEFAULT_SPIKEINS,
    trna_fa: str | os.PathLike | None = None,
    composition: Mapping[str, float] | None = None,
    n_mirnas: int = 300,
    error_rate: tuple[float, float] | None = DEFAULT_ERROR_RATE,
    mean_pcr_copies: float = 2.5,
    umi_pcr_error_rate: float = 0.03,
    tail_rate: float = DEFAULT_TAIL_RATE,
    adapter: str | None = None,
    random_bases: str = "biased",
    trna_lengths: tuple[int, int] = TRNA_FRAGMENT_LENGTHS,
) -> SimulationResult:
    """Write a simulated FASTQ.gz and its truth TSV; the same seed gives identical bytes.

    ``composition`` gives the share of molecules per origin (see ``ORIGINS``); for UMI kits
    each molecule is read ``k >= 1`` times (geometric, mean ``mean_pcr_copies``) and a
    ``umi_pcr_error_rate`` share of duplicate reads carries one UMI substitution.
    ``error_rate`` is the substitution rate at the first and last base (linear between);
    ``None`` switches sequencing errors off. ``tail_rate`` is the share of miRNA molecules
    with a non-templated 3' tail (see ``tail_model``). ``read_length`` defaults to the kit's
    (50 nt; 75 nt for qiaseq, whose UMI would not fit in 50). ``adapter`` replaces the sequence
    that follows the insert (adapter variants, unknown adapters); ``random_bases`` is
    ``biased`` (the kit's random insert-flanking bases drawn with ligation bias, see
    ``LIGATION_BIASED_5P``; UMIs stay uniform) or ``uniform``; ``trna_lengths`` bounds the
    tRNA fragment lengths (e.g. (31, 40) for tRNA halves).
    """
    if kit not in KITS:
        raise ExomirError(f"simulate: unknown kit '{kit}'; use one of {', '.join(sorted(KITS))}")
    if n_reads < 1:
        raise ExomirError(f"simulate: number of reads must be positive, got {n_reads}")
    if random_bases not in RANDOM_BASE_MODELS:
        raise ExomirError(
            f"simulate: random bases '{random_bases}': use {' or '.join(RANDOM_BASE_MODELS)}"
        )
    layout = KITS[kit]
    if adapter is not None:
        if not adapter or set(adapter) - set("ACGT"):
            raise ExomirError(f"simulate: adapter {adapter!r} must be letters A, C, G, T")
        layout = replace(layout, adapter=adapter)
    if not 1 <= trna_lengths[0] <= trna_lengths[1]:
        raise ExomirError(f"simulate: tRNA fragment lengths {trna_lengths} are not a range")
    read_length = layout.default_read_length if read_length is None else int(read_length)
    if read_length < layout.five_prime_random + 16:
        raise ExomirError(f"simulate: read length {read_length} is too short for kit '{kit}'")
    if n_mirnas < 1:
        raise ExomirError(f"simulate: the miRNA pool needs at least 1 miRNA, got {n_mirnas}")
    if mean_pcr_copies < 1:
        raise ExomirError(f"simulate: mean PCR copies must be at least 1, got {mean_pcr_copies}")
    shares = _normalised_composition(composition)
    rng = np.random.default_rng(seed)

    mature_records = list(read_fasta(mature_fa))
    spikein_seqs = _spikein_sequences(mature_records, list(spikeins), mature_fa)
    if shares[ORIGINS.index("spikein")] > 0 and not spikein_seqs:
        raise ExomirError("simulate: composition has spike-ins but no spike-in names were given")
    pool = _mirna_pool(mature_records, hairpin_fa, mature_fa, species, n_mirnas, rng)
    trna_sources = _trna_sources(trna_fa, rng)

    copies = _copies_per_molecule(n_reads, layout, mean_pcr_copies, rng)
    n_molecules = len(copies)
    origin = rng.choice(len(ORIGINS), size=n_molecules, p=shares)
    templates = _Templates(read_length - layout.five_prime_random, layout.poly_a > 0)
    draws = {
        "mirna": lambda n: _draw_mirna(n, pool, templates, rng, tail_rate),
        "spikein": lambda n: _draw_spikein(n, spikein_seqs, templates, rng),
        "trna": lambda n: _draw_trna(n, trna_sources, templates, rng, trna_lengths),
        "random": lambda n: _draw_random(n, templates, rng),
        "dimer": lambda n: np.full(n, templates.add("dimer", "", ""), dtype=np.int64),
    }
    molecule_template = np.empty(n_molecules, dtype=np.int64)
    for code, name in enumerate(ORIGINS):
        members = np.flatnonzero(origin == code)
        if len(members):
            molecule_template[members] = draws[name](len(members))

    n_random = layout.five_prime_random + layout.three_prime_random + layout.umi_length
    molecule_random = _random_bases(n_molecules, layout, random_bases, rng)
    read_molecule = np.repeat(np.arange(n_molecules, dtype=np.int64), copies)
    copy_index = np.arange(n_reads) - np.repeat(np.cumsum(copies) - copies, copies)
    if layout.umi_length:
        # PCR copies of one molecule are not neighbours in a FASTQ file.
        order = rng.permutation(n_reads)
        read_molecule, copy_index = read_molecule[order], copy_index[order]

    rows, random_mask, random_count, insert_length = _template_reads(templates, layout, read_length)
    sequencer = _SequencingModel(error_rate, read_length)
    truth = _TruthCounter(templates, n_molecules, umi=bool(layout.umi_length))
    positions = np.arange(read_length)
    insert_start = layout.five_prime_random
    umi_offset = layout.five_prime_random + layout.three_prime_random
    width = len(str(n_reads))
    fastq_out, truth_out = Path(fastq_out), Path(truth_out)
    with (
        atomic_path(fastq_out) as tmp,
        igzip_threaded.open(tmp, "wb", compresslevel=1, threads=1) as gz,
    ):
        for lo in range(0, n_reads, _CHUNK_READS):
            molecules = read_molecule[lo : lo + _CHUNK_READS]
            tids = molecule_template[molecules]
            codes = rows[tids]
            if n_random:
                bases = molecule_random[molecules]
                if layout.umi_length and umi_pcr_error_rate > 0:
                    duplicates = copy_index[lo : lo + len(molecules)]
                    _mutate_umis(bases, duplicates, umi_offset, layout, umi_pcr_error_rate, rng)
                take = np.arange(n_random) < random_count[tids][:, None]
                codes[random_mask[tids]] = bases[take]
            quals, errors = sequencer.apply(codes, rng)
            in_insert = (positions >= insert_start) & (
                positions < insert_start + insert_length[tids][:, None]
            )
            noisy = (errors & in_insert).any(axis=1)
            truth.add_chunk(tids, molecules, noisy, codes, insert_start, insert_length)
            gz.write(_fastq_records(lo + 1, width, codes, quals))
    truth.write(truth_out)
    return SimulationResult(
        fastq=fastq_out,
        truth=truth_out,
        kit=kit,
        seed=seed,
        reads=n_reads,
        molecules=n_molecules,
        read_length=read_length,
        mirna_pool=tuple(m.name for m in pool),
    )


def read_truth(path: str | os.PathLike) -> pd.DataFrame:
    """The truth TSV as a DataFrame (empty labels and the dimers' empty insert stay '')."""
    try:
        truth = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ExomirError(f"{path}: cannot read truth table: {error}") from error
    missing = [c for c in TRUTH_COLUMNS if c not in truth.columns]
    if missing:
        raise ExomirError(f"{path}: truth table lacks column(s) {', '.join(missing)}")
    for column in ("reads", "molecules"):
        try:
            truth[column] = pd.to_numeric(truth[column]).astype(np.int64)
        except ValueError as error:
            raise ExomirError(f"{path}: column {column} is not integer: {error}") from error
    return truth[list(TRUTH_COLUMNS)]


def truth_per_mirna(truth: pd.DataFrame, origin: str = "mirna") -> pd.DataFrame:
    """Reads and molecules per label of one origin (default: per mature miRNA), by name.

    Molecules are summed over inserts, i.e. counted as per-insert UMI deduplication sees
    them (a molecule whose copies carry different sequencing errors counts once per insert).
    """
    rows = truth[truth["origin"] == origin]
    summary = rows.groupby("label", sort=True)[["reads", "molecules"]].sum()
    summary.index.name = "label"
    return summary
