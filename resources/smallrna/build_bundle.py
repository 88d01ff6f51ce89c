"""Rebuild the bundled human small-RNA biotype references from the RNAcentral-derived files.

Run once by a maintainer (it is not part of the pipeline):

    .venv/bin/python resources/smallrna/build_bundle.py /work/shared/data/smallrna

It writes tRNA.fa.gz, snoRNA.fa.gz, rRNA.fa.gz and piRNA.fa.gz next to itself,
gzipped without name or time stamp (as ``gzip -n -9``), so a rebuild is byte-identical.
How each subset is made, and why, is in README.md beside this file.
"""

from __future__ import annotations

import collections
import gzip
import io
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from exomir.reference import FastaRecord, read_fasta

HERE = Path(__file__).resolve().parent
HAIRPINS = HERE.parent / "mirbase" / "hairpin.fa.gz"
KMER = 20
# rRNA: 20-mers seen in at least this many records are the "shared" sequence to cover...
MIN_KMER_RECORDS = 3
# ...and records are added while each still brings at least this many new shared 20-mers.
MIN_NEW_KMERS = 300
PIRNA_NAME = re.compile(r"\bpiR-[A-Za-z0-9-]*\d")


def write_gzipped_fasta(path: Path, records: list[tuple[str, str]]) -> None:
    text = "".join(f">{header}\n{sequence}\n" for header, sequence in records)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode())
    path.write_bytes(buffer.getvalue())


def header(record: FastaRecord) -> str:
    return f"{record.name} {record.description}".strip()


def kmers(sequence: str) -> set[str]:
    return {sequence[i : i + KMER] for i in range(len(sequence) - KMER + 1)}


def rrna_subset(records: list[FastaRecord]) -> list[FastaRecord]:
    """Curated 18S/28S records, then a greedy cover of the 20-mers shared by >= 3 records.

    Most of the 1,127 records are SILVA SSU/LSU variants with sequencing noise; covering
    only 20-mers seen in several records keeps their common sequence and drops the noise.
    """
    by_name = {r.name: r for r in records}
    content = {r.name: kmers(r.sequence) for r in records}
    seen_in = collections.Counter(k for ks in content.values() for k in ks)
    shared = {k for k, n in seen_in.items() if n >= MIN_KMER_RECORDS}
    chosen = [r.name for r in records if re.search(r"\b(18S|28S)\b", r.description)]
    covered = set().union(*(content[name] & shared for name in chosen))
    while True:
        gains = {n: len((ks & shared) - covered) for n, ks in content.items() if n not in chosen}
        best = max(sorted(gains), key=gains.__getitem__)
        if gains[best] < MIN_NEW_KMERS:
            break
        chosen.append(best)
        covered |= content[best] & shared
    return [by_name[name] for name in chosen]


def unreachable_pirnas(pirnas: list[FastaRecord], earlier: list[tuple[str, str]]) -> set[str]:
    """piRNAs that bowtie (-v 1, sense) places on a reference searched before piRNAs."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "earlier.fa").write_text("".join(f">{n}\n{s}\n" for n, s in earlier))
        (root / "pirna.fa").write_text("".join(f">{r.name}\n{r.sequence}\n" for r in pirnas))
        subprocess.run(
            ["bowtie-build", "-q", str(root / "earlier.fa"), str(root / "earlier")], check=True
        )
        hits = subprocess.run(
            ["bowtie", "-f", "-v", "1", "--norc", "-k", "1", "-x", str(root / "earlier")]
            + [str(root / "pirna.fa")],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    return {line.split("\t", 1)[0] for line in hits.splitlines()}


def contained_in_longer(pirnas: list[FastaRecord]) -> set[str]:
    """piRNAs whose sequence lies inside a longer piRNA: every read on them is on it too."""
    by_seed: dict[str, list[FastaRecord]] = collections.defaultdict(list)
    for record in pirnas:
        for i in range(len(record.sequence) - 15):
            by_seed[record.sequence[i : i + 16]].append(record)
    contained = set()
    for record in pirnas:
        for other in by_seed.get(record.sequence[:16], ()):
            if len(other.sequence) > len(record.sequence) and record.sequence in other.sequence:
                contained.add(record.name)
                break
    return contained


def pirna_subset(
    records: list[FastaRecord], earlier: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    named = [r for r in records if PIRNA_NAME.search(r.description)]
    dropped = unreachable_pirnas(named, earlier) | contained_in_longer(named)
    kept, used = [], set()
    for record in named:
        if record.name in dropped:
            continue
        name = PIRNA_NAME.search(record.description).group(0)
        # Two RNAcentral entries share a piR name: keep both, told apart by their id.
        label = name if name not in used else f"{name}_{record.name}"
        used.add(label)
        kept.append((label, record.sequence))
    return kept


def main(source: Path) -> None:
    trna = list(read_fasta(source / "tRNA.fasta"))
    snorna = list(read_fasta(source / "snoRNA.fasta"))
    rrna = rrna_subset(list(read_fasta(source / "rRNA.fa")))
    pirna = list(read_fasta(source / "piRNA.fasta"))
    human_hairpins = [r for r in read_fasta(HAIRPINS) if r.name.startswith("hsa-")]

    write_gzipped_fasta(HERE / "tRNA.fa.gz", [(header(r), r.sequence) for r in trna])
    write_gzipped_fasta(HERE / "snoRNA.fa.gz", [(header(r), r.sequence) for r in snorna])
    write_gzipped_fasta(HERE / "rRNA.fa.gz", [(header(r), r.sequence) for r in rrna])
    earlier = [(r.name, r.sequence) for r in rrna + snorna + human_hairpins]
    earlier += [(r.name, r.sequence + "CCA") for r in trna]
    kept = pirna_subset(pirna, earlier)
    write_gzipped_fasta(HERE / "piRNA.fa.gz", kept)
    print(
        f"tRNA {len(trna)}, snoRNA {len(snorna)}, rRNA {len(rrna)} "
        f"({sum(len(r.sequence) for r in rrna)} nt), piRNA {len(kept)} of {len(pirna)}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
