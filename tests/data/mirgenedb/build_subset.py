"""Rebuild the MirGeneDB-style guinea pig (Cpo) test reference in this folder.

    .venv/bin/python tests/data/mirgenedb/build_subset.py MIRGENEDB_MATURE MIRBASE_HAIRPIN

MirGeneDB's mature file (all species) gives the mature records, verbatim; MirGeneDB
precursors are not available offline, so each locus' precursor is the one miRBase hairpin
of the species (``cpo-``) that holds the locus' mature sequence(s), renamed in MirGeneDB
style (``Cpo-Mir-21_pre``), sequence verbatim (RNA). Loci are taken in file order when
every mature of the locus is on exactly one hairpin and that hairpin holds no mature of an
earlier locus, until 40 loci.
"""

import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOCI = 40


def read(path):
    name, chunks = None, []
    for line in open(path):
        line = line.strip()
        if line.startswith(">"):
            if name:
                yield name, "".join(chunks)
            name, chunks = line[1:].split()[0], []
        elif line:
            chunks.append(line)
    if name:
        yield name, "".join(chunks)


def main(mature_path, hairpin_path):
    matures = [(n, s) for n, s in read(mature_path) if n.startswith("Cpo-")]
    hairpins = [(n, s) for n, s in read(hairpin_path) if n.startswith("cpo-")]
    by_locus = defaultdict(list)
    for name, sequence in matures:
        by_locus[name.rsplit("_", 1)[0]].append((name, sequence))
    used, chosen = set(), []
    for locus, records in by_locus.items():
        homes = {
            h for name, seq in records for h, hs in hairpins if seq.replace("T", "U") in hs
        }
        single = all(
            sum(seq.replace("T", "U") in hs for _, hs in hairpins) == 1 for _, seq in records
        )
        if len(homes) != 1 or not single or homes & used:
            continue
        used |= homes
        chosen.append((locus, records, homes.pop()))
        if len(chosen) == LOCI:
            break
    hairpin_sequence = dict(hairpins)
    with open(HERE / "Cpo-mat.fa", "w") as out:
        for _, records, _ in chosen:
            out.writelines(f">{name}\n{sequence}\n" for name, sequence in records)
    with open(HERE / "Cpo-pre.fa", "w") as out:
        out.writelines(f">{locus}_pre\n{hairpin_sequence[h]}\n" for locus, _, h in chosen)
    with open(HERE / "sources.tsv", "w") as out:
        out.write("precursor\tmirbase_hairpin\n")
        out.writelines(f"{locus}_pre\t{h}\n" for locus, _, h in chosen)


if __name__ == "__main__":
    main(*sys.argv[1:])
