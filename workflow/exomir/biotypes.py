"""Account for the reads that are not miRNAs: rRNA, tRNA, Y RNA, snoRNA, piRNA fragments.

In EV and plasma libraries miRNAs are often a minority, and the rest tells users how good
the library is and what it holds. Reads left after spike-ins and hairpins (the collapsed
``unassigned.fa``) are aligned to one biotype reference after another in a stated
priority order, each step taking only what the previous one left, so every read gets at
most one biotype and the read-fate partition still sums to the input.

- Alignment: :func:`exomir.align.align` (bowtie v1, ``-v N --norc -a --best --strata``),
  the same parameters as for hairpins; ``--norc`` because these fragments are sense reads
  of their RNA. N is per biotype (config ``biotypes.mismatches``, default 2 for tRNA and
  ``alignment.mismatches`` for the rest): modified tRNA bases (m1A, m1G, m3C) make reverse
  transcriptase misread, and the tRNA reference is small enough (about 26 kb) for two
  mismatches to stay specific.
- References are prepared once (:func:`prepare_reference`): DNA alphabet, other letters
  to N, and each record's *feature* (the name counts are reported under) written as its
  FASTA description, read from the source header by :func:`feature_name`. tRNA records
  get the CCA tail that mature tRNAs carry but tRNA genes do not encode, so 3' fragments
  align end to end.
- Counting: per read (one collapsed record, weight ``_x{count}``), the distinct features it
  hits within the biotype share its weight equally (exact fractions, as for miRNAs).
  tRNA features are split by where the fragment sits on the tRNA: ``_5p`` (starts within
  2 nt of the 5' end), ``_3p`` (ends within 3 nt of the end of the CCA-tailed tRNA, i.e.
  with or without CCA), else ``_internal``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import groupby
from operator import attrgetter
from pathlib import Path

import numpy as np
import pysam

from exomir.align import align
from exomir.atomic import atomic_open
from exomir.collapsed import collapsed_lengths, parse_count, read_collapsed
from exomir.config import resolve_path, schema_default
from exomir.errors import ExomirError
from exomir.fates import COLUMNS as FATE_COLUMNS
from exomir.fates import read_fate_row, split_unassigned, write_fate_row
from exomir.numbers import format_count
from exomir.reference import read_fasta

DEFAULT_ORDER = tuple(schema_default("biotypes.order"))
# Only human has bundled references (resources/smallrna/{biotype}.fa.gz).
BUNDLED_SPECIES = "hsa"
TRNA = "tRNA"
CCA_TAIL = "CCA"
FIVE_PRIME_SLACK = 2
THREE_PRIME_SLACK = 3
COUNTS_HEADER = ("biotype", "feature")
# Per-sample scratch folder (one BAM and FASTA per step), next to the sample's outputs.
SCRATCH_PREFIX = ".biotypes."

_SKIPPED_FLAGS = 0x4 | 0x10
_query_name = attrgetter("query_name")
_NOT_ACGTN = re.compile(r"[^ACGTN]")
_COUNT_SUFFIX = re.compile(rb"_x(\d+)\s*$")
_HEADER_COUNT = re.compile(rb"^>\S*_x(\d+)$", re.MULTILINE)
# A header as write_collapsed writes it, >{rank}_x{count}: rank order is canonical order.
_RANKED_HEADER = re.compile(rb"^>(\d+)_x(\d+)$", re.MULTILINE)

# Header patterns naming the feature, tried in order (see feature_name).
# (``trRNA-`` too: one RNAcentral tRNA description carries that typo.)
_GENE_SYMBOL = re.compile(r"\bgene_symbol:(\S+)")
_TRNA_FAMILY = re.compile(
    r"(?<![A-Za-z])tr?RNA-([A-Za-z]+)(?:-|\s+\((?:anticodon\s+)?)([ACGTUN]{3})(?![A-Za-z])"
)
_PIRNA = re.compile(r"(?<![A-Za-z])piR-[A-Za-z0-9-]*\d")
_Y_RNA = re.compile(r"(?<![A-Za-z0-9])(RNY\d[A-Za-z0-9]*|hY\d)(?![A-Za-z0-9])")
_RIBOSOMAL = re.compile(r"ribosomal|rRNA", re.IGNORECASE)
_RRNA_CLASS = re.compile(r"(?<![\d.])(5\.8|5|12|16|18|28|45)S\b")
_SMALL_SUBUNIT = re.compile(r"\bSSU\b|small subunit", re.IGNORECASE)
_LARGE_SUBUNIT = re.compile(r"\bLSU\b|large subunit", re.IGNORECASE)
_TRAILING_SYMBOL = re.compile(r"\(([A-Za-z0-9][A-Za-z0-9._-]*)[^()]*\)\s*$")
_SNORNA_BOX = re.compile(r"small nucleolar RNA, (C/D|H/ACA) box (\w[\w-]*)", re.IGNORECASE)
_SNORNA_NAMED = re.compile(r"small nucleolar RNA ([A-Za-z0-9][\w./-]*)", re.IGNORECASE)
_SCARNA = re.compile(r"small Cajal body[- ]specific RNA (\w+)", re.IGNORECASE)


@dataclass(frozen=True)
class BiotypeStep:
    """One biotype in the chain: its prepared FASTA, bowtie index prefix and mismatches."""

    name: str
    reference: Path
    index: str
    mismatches: int


@dataclass(frozen=True)
class BiotypeCounts:
    """Reads (integer) that landed in one biotype, their split over its features, and their
    insert lengths (length → reads)."""

    biotype: str
    reads: int
    features: dict[str, float]
    lengths: dict[int, int] = field(default_factory=dict)

    def plus(self, other: BiotypeCounts) -> BiotypeCounts:
        """Both reads' counts (short unassigned and long inserts of one biotype)."""
        features = dict(self.features)
        for feature, value in other.features.items():
            features[feature] = features.get(feature, 0.0) + value
        lengths = Counter(self.lengths)
        lengths.update(other.lengths)
        return BiotypeCounts(
            self.biotype,
            self.reads + other.reads,
            {f: features[f] for f in sorted(features)},
            dict(sorted(lengths.items())),
        )


# ---------------------------------------------------------------- configuration


def resolve_references(
    settings: Mapping,
    species: str,
    *,
    bundled_dir: str | os.PathLike,
    base_dir: str | os.PathLike,
    source: str = "config",
) -> dict[str, Path]:
    """Biotype -> source FASTA, in priority order, for the biotypes that have a reference.

    A biotype listed in ``order`` takes the user's ``references`` entry, else (human only)
    the bundled subset, else it is skipped: only the miRNA step is mandatory.
    """
    order = list(settings.get("order", DEFAULT_ORDER))
    references = dict(settings.get("references", {}))
    for name in order:
        if name in FATE_COLUMNS:
            raise ExomirError(
                f"{source}: key 'biotypes.order': {name!r} is a read-fate column; rename it"
            )
    # A reference outside the order is a typo or a forgotten entry; mismatches are not
    # checked, since their default (tRNA: 2) must not fail a config without tRNA.
    for name in references:
        if name not in order:
            raise ExomirError(
                f"{source}: key 'biotypes.references.{name}': {name} is not in biotypes.order"
            )
    resolved: dict[str, Path] = {}
    for name in order:
        if name in references:
            path = resolve_path(references[name], base_dir)
            if not path.is_file():
                raise ExomirError(
                    f"{source}: key 'biotypes.references.{name}': {path} does not exist"
                )
            resolved[name] = path
        elif species.casefold() == BUNDLED_SPECIES:
            bundled = Path(bundled_dir) / f"{name}.fa.gz"
            if bundled.is_file():
                resolved[name] = bundled
    return resolved


def parse_mismatches(text: str, order: Sequence[str]) -> dict[str, int]:
    """``rRNA=1,tRNA=2`` -> {biotype: mismatches}; every biotype of ``order`` must be given."""
    mismatches: dict[str, int] = {}
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        if not value.isdigit():
            raise ExomirError(f"--mismatches: {item!r} is not biotype=<number>")
        mismatches[name] = int(value)
    missing = [name for name in order if name not in mismatches]
    if missing:
        raise ExomirError(f"--mismatches: no value for {', '.join(missing)}")
    return mismatches


# ---------------------------------------------------------------- references


def feature_name(name: str, description: str) -> str:
    """What a reference record is counted as, read from its FASTA header.

    In order: Ensembl ``gene_symbol:X``; a tRNA family ``tRNA-Gly-GCC`` (GtRNAdb
    ``tRNA-Gly-GCC-2-1`` or RNAcentral ``tRNA-Gly (anticodon GCC)``), so isodecoder copies
    count as one; ``piR-...``; ``RNY1``...; an rRNA class (``rRNA-18S``; SSU/LSU as 18S/28S,
    or 12S/16S when mitochondrial); a symbol in final parentheses (``(SNORD3A, ...)``);
    RNAcentral's snoRNA wordings (``C/D box 3A`` -> SNORD3A, ``Small nucleolar RNA U13``,
    ``Small Cajal body specific RNA 2`` -> SCARNA2); a one-word description; else the
    record name.
    """
    text = f"{name} {description}"
    if match := _GENE_SYMBOL.search(text):
        return match.group(1)
    if match := _TRNA_FAMILY.search(text):
        return f"tRNA-{match.group(1)}-{match.group(2).replace('U', 'T')}"
    if match := _PIRNA.search(text):
        return match.group(0)
    if match := _Y_RNA.search(text):
        return match.group(1)
    if _RIBOSOMAL.search(text):
        mitochondrial = "mitochondri" in text.lower()
        if match := _RRNA_CLASS.search(text):
            return f"rRNA-{match.group(1)}S"
        if _SMALL_SUBUNIT.search(text):
            return "rRNA-12S" if mitochondrial else "rRNA-18S"
        if _LARGE_SUBUNIT.search(text):
            return "rRNA-16S" if mitochondrial else "rRNA-28S"
    match = _TRAILING_SYMBOL.search(description)
    if match and not match.group(1).islower():
        return match.group(1)
    if match := _SNORNA_BOX.search(text):
        return f"{'SNORD' if match.group(1) == 'C/D' else 'SNORA'}{match.group(2)}"
    if match := _SCARNA.search(text):
        return f"SCARNA{match.group(1)}"
    if match := _SNORNA_NAMED.search(text):
        return match.group(1)
    if len(description.split()) == 1:
        return description
    return name


def prepare_reference(biotype: str, fasta: str | os.PathLike, out: str | os.PathLike) -> int:
    """Write the alignment FASTA of one biotype (``>record feature``); return its size."""
    seen: set[str] = set()
    tail = CCA_TAIL if biotype == TRNA else ""
    with atomic_open(out) as handle:
        for record in read_fasta(fasta):
            if record.name in seen:
                raise ExomirError(f"{fasta}: record {record.name} appears twice ({biotype})")
            seen.add(record.name)
            if not record.sequence:
                raise ExomirError(f"{fasta}: record {record.name} has no sequence ({biotype})")
            sequence = _NOT_ACGTN.sub("N", record.sequence) + tail
            feature = feature_name(record.name, record.description)
            handle.write(f">{record.name} {feature}\n{sequence}\n")
        if not seen:
            raise ExomirError(f"{fasta}: no sequences in the {biotype} reference")
    return len(seen)


def load_features(reference: str | os.PathLike) -> dict[str, tuple[str, int]]:
    """Record name -> (feature, length) of a FASTA written by :func:`prepare_reference`."""
    path = Path(reference)
    if not path.is_file():
        raise ExomirError(f"{path}: prepared biotype reference is missing")
    return {
        r.name: (r.description.split()[0] if r.description else r.name, len(r.sequence))
        for r in read_fasta(path)
    }


# ---------------------------------------------------------------- counting


def trna_region(start: int, end: int, length: int) -> str:
    """5'/3'/internal position of a fragment [start, end) on a CCA-tailed tRNA."""
    if start <= FIVE_PRIME_SLACK:
        return "5p"
    if end >= length - THREE_PRIME_SLACK:
        return "3p"
    return "internal"


def count_alignments(
    bam_path: str | os.PathLike, biotype: str, features: Mapping[str, tuple[str, int]]
) -> BiotypeCounts:
    """Reads in one biotype's BAM (bowtie order) and their fractional split over features."""
    bam_path = Path(bam_path)
    weights_by_features: Counter = Counter()
    lengths: Counter = Counter()
    split_by_region = biotype == TRNA
    with pysam.AlignmentFile(str(bam_path), "rb", check_sq=False) as bam:
        unknown = [name for name in bam.references if name not in features]
        if unknown:
            raise ExomirError(
                f"{bam_path}: reference sequence {unknown[0]} is not in the {biotype} reference"
            )
        target = [features[name] for name in bam.references]
        for name, alignments in groupby(bam, key=_query_name):
            hit: set[str] = set()
            length_of_read = 0
            for alignment in alignments:
                if alignment.flag & _SKIPPED_FLAGS:
                    continue
                length_of_read = alignment.query_length
                feature, length = target[alignment.reference_id]
                if split_by_region:
                    region = trna_region(alignment.reference_start, alignment.reference_end, length)
                    feature = f"{feature}_{region}"
                hit.add(feature)
            if hit:
                try:
                    weight = parse_count(name)
                except ExomirError as error:
                    raise ExomirError(f"{bam_path}: {error}") from None
                weights_by_features[tuple(sorted(hit))] += weight
                lengths[length_of_read] += weight
    shares: dict[str, Fraction] = {}
    for hit_features in sorted(weights_by_features):
        share = Fraction(weights_by_features[hit_features], len(hit_features))
        for feature in hit_features:
            shares[feature] = shares.get(feature, Fraction(0)) + share
    return BiotypeCounts(
        biotype=biotype,
        reads=sum(weights_by_features.values()),
        features={feature: float(shares[feature]) for feature in sorted(shares)},
        lengths=dict(sorted(lengths.items())),
    )


def collapsed_total(path: str | os.PathLike) -> int:
    """Reads (or molecules) behind a collapsed FASTA, from its ``_x{count}`` headers only."""
    data = Path(path).read_bytes()
    counts = _HEADER_COUNT.findall(data)
    if len(counts) == data.count(b">"):  # every header is a plain `>name_x{count}` line
        return sum(map(int, counts))
    total = 0
    with open(path, "rb") as handle:
        for line_number, line in enumerate(handle, start=1):
            if line.startswith(b">"):
                match = _COUNT_SUFFIX.search(line)
                if match is None:
                    raise ExomirError(
                        f"{path}: line {line_number}: read name has no '_x<count>' suffix "
                        "(not collapsed)"
                    )
                total += int(match.group(1))
    return total


def write_sorted_collapsed(source: str | os.PathLike, out: str | os.PathLike) -> int:
    """Copy a collapsed FASTA in canonical order (count down, then sequence); return reads.

    bowtie -p writes its unaligned reads in varying order; sorting keeps reruns identical.
    What :func:`exomir.align.align` leaves is in rank order already, which is canonical
    order (ranks are given in it): such a file is copied as it is, without a Python object
    per record.
    """
    data = Path(source).read_bytes()
    headers = _RANKED_HEADER.findall(data)
    if headers and 2 * len(headers) == data.count(b"\n") and data.endswith(b"\n"):
        numbers = np.array(headers, dtype=bytes).astype(np.int64)
        if bool(np.all(np.diff(numbers[:, 0]) > 0)):
            with atomic_open(out, "wb") as handle:
                handle.write(data)
            return int(numbers[:, 1].sum())
    del data, headers
    records = sorted(read_collapsed(source), key=lambda r: (-r[2], r[1]))
    with atomic_open(out) as handle:
        handle.writelines(f">{name}\n{sequence}\n" for name, sequence, _ in records)
    return sum(count for _, _, count in records)


def write_sample_counts(
    path: str | os.PathLike, sample: str, counts: Sequence[BiotypeCounts]
) -> None:
    """``biotype feature <sample>``: non-zero features, biotypes in priority order."""
    with atomic_open(path) as handle:
        handle.write("\t".join([*COUNTS_HEADER, sample]) + "\n")
        for biotype in counts:
            handle.writelines(
                f"{biotype.biotype}\t{feature}\t{format_count(value)}\n"
                for feature, value in biotype.features.items()
                if value
            )


# ---------------------------------------------------------------- one sample


def classify_sample(
    sample: str,
    reads: str | os.PathLike,
    fates: str | os.PathLike,
    steps: Sequence[BiotypeStep],
    *,
    fates_out: str | os.PathLike,
    counts_out: str | os.PathLike,
    unannotated_out: str | os.PathLike,
    log: str | os.PathLike,
    threads: int = 1,
    long_reads: str | os.PathLike | None = None,
    lengths: LengthInputs | None = None,
) -> list[BiotypeCounts]:
    """Align one sample's unassigned reads through the biotype chain; write its tables.

    Checks that ``reads`` holds exactly the ``unassigned`` reads of ``fates`` (both from the
    same run) and that every read ends in one biotype or in ``unannotated_out``.
    ``long_reads`` (the trim step's inserts longer than max_length, exactly ``too_long``)
    go through the same chain; what no biotype takes stays ``too_long``. With ``lengths``,
    the insert-length distribution by fate is written too (see :func:`lengths_by_fate`).
    """
    row = read_fate_row(fates, sample)
    total = collapsed_total(reads)
    if total != row["unassigned"]:
        raise ExomirError(
            f"{reads}: sample {sample}: holds {total} reads but {fates} says "
            f"{row['unassigned']} are unassigned (files from different runs?)"
        )
    if long_reads is not None and collapsed_total(long_reads) != row["too_long"]:
        raise ExomirError(
            f"{long_reads}: sample {sample}: holds {collapsed_total(long_reads)} reads but "
            f"{fates} says {row['too_long']} are too long (files from different runs?)"
        )
    unannotated_out = Path(unannotated_out)
    unannotated_out.parent.mkdir(parents=True, exist_ok=True)
    # A killed (SIGKILL) earlier attempt of this job cannot have removed its scratch folder.
    for stale in unannotated_out.parent.glob(f"{SCRATCH_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=unannotated_out.parent) as tmp:
        scratch = Path(tmp)
        long_counts: list[BiotypeCounts] = []
        long_left: Counter[int] = Counter()
        if long_reads is None:
            counts, current, log_parts = _run_chain(Path(reads), steps, scratch / "short", threads)
        else:
            # The two chains are independent: with 2 threads they run side by side, one
            # bowtie thread each (most of a call is loading the index, which -p does not
            # share out), instead of one after the other.
            chain_threads = max(1, threads // 2)
            with ThreadPoolExecutor(2 if threads >= 2 else 1) as pool:
                short = pool.submit(
                    _run_chain, Path(reads), steps, scratch / "short", chain_threads
                )
                long = pool.submit(
                    _run_chain, Path(long_reads), steps, scratch / "long", chain_threads
                )
                counts, current, log_parts = short.result()
                long_counts, long_current, long_log = long.result()
            log_parts += [part.replace("## ", "## long inserts, ", 1) for part in long_log]
            long_left = collapsed_lengths(long_current)
        left = write_sorted_collapsed(current, unannotated_out)
        short_left = collapsed_lengths(unannotated_out)
    if sum(c.reads for c in counts) + left != total:
        raise ExomirError(
            f"{reads}: sample {sample}: biotype reads plus {left} unannotated do not add up "
            f"to the {total} unassigned reads"
        )
    biotype_reads = [(c.biotype, c.reads) for c in counts]
    long_reads = [(c.biotype, c.reads) for c in long_counts]
    write_fate_row(
        fates_out, sample, split_unassigned(row, biotype_reads, str(fates), sample, long_reads)
    )
    merged = (
        [c.plus(x) for c, x in zip(counts, long_counts, strict=True)] if long_counts else counts
    )
    write_sample_counts(counts_out, sample, merged)
    if lengths is not None:
        table = lengths_by_fate(lengths, merged, short_left, long_left)
        write_lengths_by_fate(lengths.out, sample, table)
    with atomic_open(log) as handle:
        handle.write("".join(log_parts) + f"## unannotated: {left} reads\n")
    return merged


def _run_chain(
    reads: Path, steps: Sequence[BiotypeStep], scratch: Path, threads: int
) -> tuple[list[BiotypeCounts], Path, list[str]]:
    """Each step aligns what the previous left; (counts, what is left, log parts)."""
    scratch.mkdir(parents=True, exist_ok=True)
    counts: list[BiotypeCounts] = []
    log_parts: list[str] = []
    current = reads
    for step in steps:
        bam = scratch / f"{step.name}.bam"
        unaligned = scratch / f"after_{step.name}.fa"
        step_log = scratch / f"{step.name}.log"
        align(
            current,
            step.index,
            step.reference,
            bam,
            unaligned,
            step_log,
            mismatches=step.mismatches,
            threads=threads,
        )
        result = count_alignments(bam, step.name, load_features(step.reference))
        counts.append(result)
        log_parts.append(
            f"## {step.name} (bowtie -v {step.mismatches}): {result.reads} reads\n"
            + step_log.read_text()
        )
        current = unaligned
    return counts, current, log_parts


# ---------------------------------------------------------------- insert lengths by fate


@dataclass(frozen=True)
class LengthInputs:
    """What the insert-length-by-fate table is made from, and where it goes."""

    inserts: Path  # the trim step's inserts.fa (every passing insert)
    unassigned: Path  # what spike-ins and hairpins left (the classify input)
    spikein_bam: Path
    out: Path


LENGTH_FATES_FIXED = ("spikein", "mirna_hairpin")


def _bam_lengths(path: Path) -> Counter[int]:
    lengths: Counter[int] = Counter()
    with pysam.AlignmentFile(str(path), "rb", check_sq=False) as bam:
        for name, alignments in groupby(bam, key=_query_name):
            first = next(alignments)
            lengths[first.query_length] += parse_count(name)
    return lengths


def lengths_by_fate(
    inputs: LengthInputs,
    counts: Sequence[BiotypeCounts],
    unannotated: Counter[int],
    long_unannotated: Counter[int],
) -> dict[str, Counter[int]]:
    """Reads by insert length for each fate: spike-in, miRNA hairpin, each biotype, unassigned
    (passing inserts no reference took) and too_long (long inserts no biotype took).

    Hairpin = passing − unassigned − spike-in: the reads that aligned to hairpins (mature
    and hairpin_only). Units are those of the read fates (molecules for UMI kits).
    """
    passing = collapsed_lengths(inputs.inserts)
    left = collapsed_lengths(inputs.unassigned)
    spikein = _bam_lengths(inputs.spikein_bam)
    hairpin = Counter(passing)
    hairpin.subtract(left)
    hairpin.subtract(spikein)
    table = {"spikein": spikein, "mirna_hairpin": +hairpin}
    for biotype in counts:
        table[biotype.biotype] = Counter(biotype.lengths)
    table["unassigned"] = Counter(unannotated)
    table["too_long"] = Counter(long_unannotated)
    return table


def write_lengths_by_fate(
    path: str | os.PathLike, sample: str, table: Mapping[str, Counter[int]]
) -> None:
    """``sample fate length reads`` rows, fates in table order, lengths ascending."""
    with atomic_open(path) as handle:
        handle.write("sample\tfate\tlength\treads\n")
        for fate, lengths in table.items():
            handle.writelines(
                f"{sample}\t{fate}\t{length}\t{lengths[length]}\n"
                for length in sorted(lengths)
                if lengths[length]
            )


# ---------------------------------------------------------------- cohort


def merge_lengths_by_fate(
    samples: Sequence[str],
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    multiqc_out: str | os.PathLike,
) -> None:
    """Concatenate per-sample length tables; write a MultiQC line graph of the cohort.

    The line graph has one line per fate: reads at each insert length summed over samples
    (per-sample rows are in ``out``).
    """
    if len(samples) != len(inputs):
        raise ExomirError(f"{len(samples)} sample names but {len(inputs)} input files")
    header = "sample\tfate\tlength\treads"
    totals: dict[str, Counter[int]] = {}
    with atomic_open(out) as handle:
        handle.write(header + "\n")
        for sample, path in zip(samples, map(Path, inputs), strict=True):
            try:
                lines = path.read_text().splitlines()
            except FileNotFoundError:
                raise ExomirError(f"{path}: input file is missing") from None
            if not lines or lines[0] != header:
                raise ExomirError(f"{path}: header must be {header!r}")
            for line_number, line in enumerate(lines[1:], start=2):
                fields = line.split("\t")
                if len(fields) != 4 or fields[0] != sample:
                    raise ExomirError(
                        f"{path}: line {line_number}: expected sample {sample}, fate, length, reads"
                    )
                try:
                    length, reads = int(fields[2]), int(fields[3])
                except ValueError:
                    raise ExomirError(f"{path}: line {line_number}: not whole numbers") from None
                totals.setdefault(fields[1], Counter())[length] += reads
                handle.write(line + "\n")
    section = {
        "id": "exomir_lengths_by_fate",
        "section_name": "Insert length by fate",
        "description": (
            "Reads at each insert length (after adapter and kit clipping) by where they went: "
            "spike-ins, miRNA hairpins, each small-RNA biotype, unassigned (passed trimming, "
            "no reference took them) and too_long (longer than max_length, no biotype took "
            "them); summed over samples. Per-sample rows: results/qc/insert_lengths_by_fate.tsv."
        ),
        "plot_type": "linegraph",
        "pconfig": {
            "id": "exomir_lengths_by_fate_plot",
            "title": "exomir: insert length by fate",
            "xlab": "insert length (nt)",
            "ylab": "reads",
        },
        "data": {
            fate: {str(n): lengths[n] for n in sorted(lengths)} for fate, lengths in totals.items()
        },
    }
    with atomic_open(multiqc_out) as handle:
        json.dump(section, handle, indent=1)
        handle.write("\n")


def merge_biotype_counts(
    samples: Sequence[str],
    inputs: Sequence[str | os.PathLike],
    order: Sequence[str],
    out: str | os.PathLike,
) -> int:
    """One wide table ``biotype feature <samples...>``; return its number of rows.

    Rows: biotypes in priority order, then features sorted by name; a feature absent from
    a sample's file is 0 there. Samples are columns in the given (sheet) order.
    """
    if len(samples) != len(inputs):
        raise ExomirError(f"{len(samples)} sample names but {len(inputs)} input files")
    rank = {name: i for i, name in enumerate(order)}
    columns: list[dict[tuple[str, str], str]] = []
    for sample, path in zip(samples, map(Path, inputs), strict=True):
        columns.append(_read_sample_counts(path, sample, rank))
    rows = sorted(set().union(*columns), key=lambda key: (rank[key[0]], key[1]))
    with atomic_open(out) as handle:
        handle.write("\t".join([*COUNTS_HEADER, *samples]) + "\n")
        for key in rows:
            values = (column.get(key, "0") for column in columns)
            handle.write(f"{key[0]}\t{key[1]}\t" + "\t".join(values) + "\n")
    return len(rows)


def _read_sample_counts(
    path: Path, sample: str, rank: Mapping[str, int]
) -> dict[tuple[str, str], str]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise ExomirError(f"{path}: input file is missing") from None
    expected = "\t".join([*COUNTS_HEADER, sample])
    if not lines or lines[0] != expected:
        raise ExomirError(f"{path}: header must be {expected!r}")
    column: dict[tuple[str, str], str] = {}
    for line_number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 3:
            raise ExomirError(f"{path}: line {line_number} does not have 3 columns")
        biotype, feature, value = fields
        if biotype not in rank:
            raise ExomirError(
                f"{path}: line {line_number}: biotype {biotype} is not in the order "
                f"{', '.join(rank)}"
            )
        if (biotype, feature) in column:
            raise ExomirError(f"{path}: line {line_number}: {biotype} {feature} appears twice")
        try:
            float(value)
        except ValueError:
            raise ExomirError(f"{path}: line {line_number}: {value!r} is not a count") from None
        column[(biotype, feature)] = value
    return column
