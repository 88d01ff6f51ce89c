"""IsomiRs as mirGFF3, the miRTop community format, and mirtop stats' figures of them.

mirGFF3 (https://github.com/miRTop/mirGFF3) is what mirtop, isomiRs (Bioconductor) and
the miRTop tools read. One line per (mature miRNA, read sequence) of the cohort's isomiR
table, all samples in ``Expression`` (``COLDATA`` order):

- seqid/Parent: the hairpin the read sits on; a read on several loci of one mature
  (let-7a-5p on let-7a-1/2/3) is one line on the first, by name, of the loci where its
  templated part has the fewest mismatches, and ``Hits`` is the number of those loci.
- start/end: 1-based, inclusive, on that hairpin, the whole read (tail included), as
  mirtop writes them.
- Variant, in mirtop's notation, comma-separated and sorted as mirtop sorts them:
  ``iso_5p:-N``/``+N`` (the read starts N nt before/after the mature), ``iso_3p:+N``/``-N``
  (its templated end is N nt past/short of the mature's end), ``iso_add3p:N`` (N non-
  templated 3' nt, the ``tail`` column), and the class of each substitution:
  ``iso_snv_seed`` (read positions 2-7), ``iso_snv_central_offset`` (8),
  ``iso_snv_central`` (9-12), ``iso_snv_central_supp`` (13-17) or ``iso_snv`` (elsewhere),
  each class once; ``NA`` for the mature itself (type ``ref_miRNA``; every other line is
  ``isomiR``). A ``collapse`` row (``a/b``, identical matures) sits on their loci.
- Cigar in mirtop's form: ``M`` runs where the read matches the hairpin, the read's base
  elsewhere (``22MAA``: two added bases; a tail base that happens to match is ``M``).
- Expression: counts rounded to whole reads (molecules), as mirtop's tools parse them as
  integers; an isomiR below 0.5 in every sample is left out. UID: mirtop's sequence
  "license plate" (MINTplates). Reads with bases other than ACGT are left out, as mirtop
  leaves them out.
Lines follow the isomiR table's order (miRNA, then sequence), so the file is streamed.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter
from pathlib import Path

import numpy as np

from exomir.atomic import atomic_open
from exomir.counting import NO_TAIL, read_mature_positions
from exomir.errors import ExomirError
from exomir.reference import read_fasta
from exomir.tables import MERGED_ISOMIR_COLUMNS

MIRGFF_VERSION = "1.2"
SOURCE_ONTOLOGY = {
    "mirbase": "doi:10.25504/fairsharing.hmgte8",
    "mirgenedb": "http://mirgenedb.org",
}
_ACGT = frozenset("ACGT")
# More than bowtie's largest -v (config schema): the row was not aligned to this reference.
MAX_SUBSTITUTIONS = 3


def database_name(reference_json: str | os.PathLike) -> str:
    """GFF source column: ``miRBasev{release}`` from reference.json, MirGeneDB kept as such."""
    try:
        summary = json.loads(Path(reference_json).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ExomirError(f"{reference_json}: cannot read reference summary ({error})") from None
    release = str(summary.get("release") or "").strip()
    if "mirgenedb" in release.lower():
        return release.replace(" ", "")
    return f"miRBasev{release}" if release else "miRBase"


def snv_variant(position: int) -> str:
    """mirtop's name for a substitution at 1-based read ``position``."""
    if 2 <= position <= 7:
        return "iso_snv_seed"
    if position == 8:
        return "iso_snv_central_offset"
    if 9 <= position <= 12:
        return "iso_snv_central"
    if 13 <= position <= 17:
        return "iso_snv_central_supp"
    return "iso_snv"


def variant(start_offset: int, end_offset: int, tail: str, substitutions: Iterable[int]) -> str:
    """The Variant attribute (see the module doc); ``substitutions``: 1-based read positions."""
    values = {snv_variant(p) for p in substitutions}
    if tail:
        values.add(f"iso_add3p:{len(tail)}")
    if start_offset:
        values.add(f"iso_5p:{start_offset:+d}")
    if end_offset:
        values.add(f"iso_3p:{end_offset:+d}")
    return ",".join(sorted(values)) if values else "NA"


def mirtop_cigar(read: str, reference: str) -> str:
    """mirtop's Cigar: M runs where the read matches the hairpin, else the read's base.

    ``reference``: the hairpin from the read's start, as far as it goes (up to its length).
    """
    codes = [
        "M" if i < len(reference) and base == reference[i] else base for i, base in enumerate(read)
    ]
    parts = []
    for code, run in itertools.groupby(codes):
        n = len(list(run))
        if code == "M":
            parts.append(f"{n}M" if n > 1 else "M")
        else:
            parts.append(code * n)
    return "".join(parts)


def _license_plate(sequence: str) -> str:
    from mirtop.mirna.mintplates import convert

    return convert(sequence, True, "iso")


def _rows(path: Path) -> Iterator[list[str]]:
    """The isomiR table's rows as field lists (plain splits: cohorts have millions)."""
    with open(path) as handle:
        if tuple(handle.readline().rstrip("\n").split("\t")) != MERGED_ISOMIR_COLUMNS:
            expected = " ".join(MERGED_ISOMIR_COLUMNS)
            raise ExomirError(f"{path}: header must be the tab-separated columns {expected}")
        for line_number, line in enumerate(handle, start=2):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != len(MERGED_ISOMIR_COLUMNS):
                raise ExomirError(
                    f"{path}: line {line_number} does not have {len(MERGED_ISOMIR_COLUMNS)} columns"
                )
            yield fields


def _whole(count: float) -> int:
    return math.floor(count + 0.5)


def isomir_lines(
    isomir_counts: str | os.PathLike,
    hairpins: dict[str, str],
    placements: dict[str, list[tuple[str, int, int]]],
    samples: Sequence[str],
    database: str,
) -> Iterator[str]:
    """The body lines of the mirGFF3 file, in the isomiR table's order."""
    path = Path(isomir_counts)
    column = {sample: i for i, sample in enumerate(samples)}
    for (mirna, sequence), group in itertools.groupby(_rows(path), key=itemgetter(0, 1)):
        group = list(group)
        first = group[0]
        counts = [0.0] * len(samples)
        for row in group:
            if row[5] not in column:
                raise ExomirError(f"{path}: sample {row[5]} is not in the count matrix")
            try:
                counts[column[row[5]]] += float(row[6])
            except ValueError:
                raise ExomirError(f"{path}: count {row[6]!r} is not a number") from None
        expression = [_whole(c) for c in counts]
        if not any(expression) or not set(sequence) <= _ACGT:
            continue
        loci_of = [p for name in mirna.split("/") for p in placements.get(name, ())]
        if not loci_of:
            raise ExomirError(f"{path}: miRNA {mirna} is not placed on any hairpin")
        try:
            start_offset, end_offset = int(first[2]), int(first[3])
        except ValueError:
            raise ExomirError(f"{path}: offsets of {mirna} {sequence} are not integers") from None
        tail = "" if first[4] == NO_TAIL else first[4]
        templated = sequence[: len(sequence) - len(tail)]
        best, loci = None, []
        for hairpin, mature_start, _ in sorted(loci_of):
            start = mature_start + start_offset
            reference = hairpins[hairpin][max(start, 0) : start + len(templated)]
            if start < 0 or len(reference) != len(templated):
                continue
            substitutions = [
                i + 1 for i, (a, b) in enumerate(zip(templated, reference, strict=True)) if a != b
            ]
            if best is None or len(substitutions) < len(best[2]):
                best, loci = (hairpin, start, substitutions, reference), []
            if len(substitutions) == len(best[2]):
                loci.append(hairpin)
        if best is None or len(best[2]) > MAX_SUBSTITUTIONS:
            raise ExomirError(
                f"{path}: {mirna} {sequence} (offsets {start_offset}, {end_offset}) does not fit "
                "on its hairpins (isomiR table from another reference?)"
            )
        hairpin, start, substitutions, _ = best
        kind = variant(start_offset, end_offset, tail, substitutions)
        # mirtop's Cigar compares the tail with the hairpin too (M where they agree).
        reference = hairpins[hairpin][start : start + len(sequence)]
        attributes = "; ".join(
            [
                f"Read={sequence}",
                f"UID={_license_plate(sequence)}",
                f"Name={mirna}",
                f"Parent={hairpin}",
                f"Variant={kind}",
                f"Cigar={mirtop_cigar(sequence, reference)}",
                f"Expression={','.join(map(str, expression))}",
                "Filter=Pass",
                f"Hits={len(loci)}",
            ]
        )
        feature = "ref_miRNA" if kind == "NA" else "isomiR"
        yield (
            f"{hairpin}\t{database}\t{feature}\t{start + 1}\t{start + len(sequence)}\t.\t+\t.\t"
            f"{attributes}\n"
        )


def header(samples: Sequence[str], database: str) -> str:
    ontology = next((v for k, v in SOURCE_ONTOLOGY.items() if k in database.lower()), "Custom.")
    return (
        f"## mirGFF3. VERSION {MIRGFF_VERSION}\n"
        f"## source-ontology: {database} {ontology}\n"
        "## TOOLS: exomir\n"
        f"## COLDATA: {','.join(samples)}\n"
    )


def write_mirgff(
    isomir_counts: str | os.PathLike,
    hairpin_fa: str | os.PathLike,
    mature_positions: str | os.PathLike,
    samples: Sequence[str],
    out: str | os.PathLike,
    *,
    database: str,
) -> int:
    """Write the cohort's isomiRs as mirGFF3 to ``out`` (atomically); return the lines."""
    if not samples:
        raise ExomirError(f"{out}: no samples to write")
    if any("," in s for s in samples):
        raise ExomirError("mirGFF3: sample names must not contain ',' (COLDATA is comma-separated)")
    hairpins = {r.name: r.sequence for r in read_fasta(hairpin_fa)}
    placements: dict[str, list[tuple[str, int, int]]] = {}
    for hairpin, mature, start, end, _region in read_mature_positions(mature_positions):
        placements.setdefault(mature, []).append((hairpin, start, end))
    n = 0
    with atomic_open(out, "w") as handle:
        handle.write(header(samples, database))
        for line in isomir_lines(isomir_counts, hairpins, placements, samples, database):
            handle.write(line)
            n += 1
    return n


def count_matrix_samples(path: str | os.PathLike) -> list[str]:
    """Sample columns of a count matrix (``mirna`` then samples in sheet order)."""
    with open(path) as handle:
        columns = handle.readline().rstrip("\n").split("\t")
    if len(columns) < 2 or columns[0] != "mirna":
        raise ExomirError(f"{path}: count matrix must start with a 'mirna' column, then samples")
    return columns[1:]


def _stat_categories(feature: str, kind: str) -> list[str]:
    """What one line counts for in ``mirtop stats``: its type, then each variant's name."""
    if kind.find("iso") == -1:
        return [feature]
    return [feature] + [v.split(":")[0] for v in kind.split(",")]


def isomir_stats(gff: str | os.PathLike) -> dict[str, dict[str, float]]:
    """``mirtop stats`` of a mirGFF3 file: per sample, ``{category}_sum/_count/_mean``.

    The same figures as mirtop's own (``mirtop.gff.stats``; a test compares them), but
    vectorised over samples: mirtop holds one Python row per line, sample and variant,
    ~10 GB and many minutes for a 1,000-sample cohort. Categories are the line type
    (``ref_miRNA``, ``isomiR``) and each variant name; per sample, ``_sum`` adds the counts
    of the lines with a count, ``_count`` is the number of such lines, ``_mean`` their
    mean. Lines whose Filter is not Pass, and repeats of a UID, Variant and Name, are
    skipped, as mirtop skips them. Unlike mirtop 0.4.30, the first sample's
    ``isomiR_sum`` is not overwritten with 0 (mirtop pads its count and mean tables with
    zero ``isomiR_sum`` and ``ref_miRNA_mean`` rows for the first sample, and its last row
    wins); the first sample keeps those two keys, 0 when it has no such lines.
    """
    gff = Path(gff)
    samples: list[str] | None = None
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    seen: set[str] = set()
    with open(gff) as handle:
        for line_number, line in enumerate(handle, start=1):
            if line.startswith("## COLDATA"):
                samples = line.strip().split(": ")[1].strip().split(",")
                continue
            if line.startswith("#"):
                continue
            if samples is None:
                raise ExomirError(f"{gff}: no '## COLDATA' header before the first line")
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 9:
                raise ExomirError(f"{gff}: line {line_number} does not have 9 columns")
            attributes = dict(
                item.strip().split("=", 1) for item in fields[8].split(";") if "=" in item
            )
            if not attributes.get("Filter", "").lower().startswith("pass"):
                continue
            key = "-".join([attributes["UID"], attributes["Variant"], attributes["Name"]])
            if key in seen:
                continue
            seen.add(key)
            values = np.array(attributes["Expression"].split(","), dtype=np.int64)
            if len(values) != len(samples):
                raise ExomirError(f"{gff}: line {line_number}: Expression is not one per sample")
            present = values > 0
            for category in _stat_categories(fields[2], attributes["Variant"]):
                if category not in sums:
                    sums[category] = np.zeros(len(samples), dtype=np.int64)
                    counts[category] = np.zeros(len(samples), dtype=np.int64)
                sums[category] += np.where(present, values, 0)
                counts[category] += present
    metrics: dict[str, dict[str, float]] = {s: {} for s in samples or []}
    for statistic in ("sum", "count", "mean"):
        for category in sorted(sums):
            for i, sample in enumerate(samples or []):
                n = int(counts[category][i])
                if not n:
                    continue
                total = float(sums[category][i])
                value = {"sum": total, "count": float(n), "mean": total / n}[statistic]
                metrics[sample][f"{category}_{statistic}"] = value
    if samples:
        for padded in ("ref_miRNA_mean", "isomiR_sum"):
            metrics[samples[0]].setdefault(padded, 0.0)
    return {sample: figures for sample, figures in metrics.items() if figures}


def mirtop_stats(gff: str | os.PathLike, log_out: str | os.PathLike, table_out: str | os.PathLike):
    """Write :func:`isomir_stats` of ``gff`` as mirtop does: a JSON log and a CSV table.

    MultiQC's mirtop module reads the log (``*_mirtop_stats.log``): ``meta`` and, per
    sample, the figures. The table has mirtop's columns (category, sample, counts).
    """
    metrics = isomir_stats(gff)
    log = {
        "meta": {
            "tool": "mirtop",
            "homepage": "https://github.com/miRTop/mirtop",
            "written_by": "exomir (mirtop stats figures, see exomir/mirgff.py)",
        },
        "metrics": metrics,
    }
    with atomic_open(log_out, "w") as handle:
        json.dump(log, handle)
    with atomic_open(table_out, "w") as handle:
        handle.write("# mirtop stats figures, written by exomir\n")
        handle.write(",category,sample,counts\n")
        rows = [
            (category, sample, value)
            for sample, figures in metrics.items()
            for category, value in figures.items()
        ]
        handle.writelines(f"{i},{c},{s},{v}\n" for i, (c, s, v) in enumerate(rows))
