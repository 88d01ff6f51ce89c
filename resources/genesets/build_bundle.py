"""Rebuild the bundled human gene sets (reactome.gmt.gz, go_bp.gmt.gz).

Run once by a maintainer (it is not part of the pipeline):

    .venv/bin/python resources/genesets/build_bundle.py /work/shared/data/genesets

Both are written in one layout, ``term_id<TAB>term<TAB>gene...`` (Reactome's own GMT puts
the name first and the R-HSA id second; it is swapped here), genes sorted and unique, sets
sorted by id, gzipped without name or time stamp so a rebuild is byte-identical. No set is
dropped here: the size limits apply at test time, within each run's background.
"""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REACTOME = "ReactomePathways_2024-09-18.gmt"
GO_BP = "GO_BP_propagated_symbols.gmt.gz"


def read_gmt(path: Path, id_column: int) -> list[tuple[str, str, list[str]]]:
    opener = gzip.open if path.suffix == ".gz" else open
    sets = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 3:
                continue
            term_id, term = fields[id_column], fields[1 - id_column]
            genes = sorted({g.strip() for g in fields[2:] if g.strip()})
            sets.append((term_id.strip(), term.strip(), genes))
    return sorted(sets)


def write_gmt(sets: list[tuple[str, str, list[str]]], path: Path) -> None:
    text = "".join("\t".join([term_id, term, *genes]) + "\n" for term_id, term, genes in sets)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode())
    path.write_bytes(buffer.getvalue())


def main(source: str) -> None:
    for name, filename, id_column in (("reactome", REACTOME, 1), ("go_bp", GO_BP, 0)):
        sets = read_gmt(Path(source) / filename, id_column)
        write_gmt(sets, HERE / f"{name}.gmt.gz")
        genes = {g for _, _, members in sets for g in members}
        print(f"{name}: {len(sets)} sets, {len(genes)} genes", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: build_bundle.py GENESETS_DIR")
    main(sys.argv[1])
