"""miRNA and precursor names as miRBase and MirGeneDB write them.

The two databases name the same things differently:

- miRBase: ``hsa-mir-21`` (hairpin, lower-case ``mir``), ``hsa-miR-21-5p`` (mature arm),
  species code in lower case;
- MirGeneDB: ``Hsa-Mir-21_pre`` (precursor), ``Hsa-Mir-21_5p`` / ``_3p`` (mature arms),
  paralogues and variants in the locus (``Hsa-Let-7-P2a1``, ``Cin-Let-7-P2o1-v1_5p``),
  ``*`` after the arm for a star (less abundant) form, species code capitalised (``Cgi``).

Both start with the species code and a ``-``; exomir matches that code case-insensitively,
so ``species: cgi`` and ``species: Cgi`` select the same records. Names are never
rewritten: count rows carry the database's own names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ARMS = ("5p", "3p")

# MirGeneDB: <Species>-<locus>_<pre|5p|3p>[*]
_MIRGENEDB = re.compile(r"^(?P<locus>.+)_(?P<kind>pre|5p|3p)(?P<star>\*?)$")
# miRBase mature: <species>-<locus>-<5p|3p>[*] (older releases: miR-21*)
_MIRBASE_ARM = re.compile(r"^(?P<locus>.+)-(?P<kind>5p|3p)(?P<star>\*?)$")


@dataclass(frozen=True)
class MirnaName:
    """One parsed name. ``arm`` is ``5p``, ``3p`` or None (a precursor or an arm-less mature)."""

    name: str
    species: str
    locus: str
    arm: str | None
    precursor: bool
    star: bool
    style: str  # "mirgenedb" or "mirbase"


def species_code(name: str) -> str:
    """The species code a name starts with (``hsa`` of ``hsa-miR-21-5p``, ``Cgi`` of ``Cgi-…``)."""
    return name.split("-", 1)[0] if "-" in name else ""


def is_species(name: str, species: str) -> bool:
    """Whether ``name`` belongs to ``species``, the code compared case-insensitively."""
    return "-" in name and species_code(name).casefold() == species.casefold()


def parse_name(name: str) -> MirnaName:
    """Species, locus, arm and kind of a miRBase- or MirGeneDB-style name."""
    species = species_code(name)
    match = _MIRGENEDB.match(name)
    if match:
        kind = match.group("kind")
        return MirnaName(
            name,
            species,
            match.group("locus"),
            None if kind == "pre" else kind,
            kind == "pre",
            bool(match.group("star")),
            "mirgenedb",
        )
    star = name.endswith("*")
    match = _MIRBASE_ARM.match(name)
    if match:
        return MirnaName(
            name, species, match.group("locus"), match.group("kind"), False, star, "mirbase"
        )
    body = name.rstrip("*")
    # miRBase hairpins say "mir" (hsa-mir-21), matures "miR" (hsa-miR-21); let-7, lin-4,
    # bantam ... are written alike for both, so only "mir" marks a hairpin.
    precursor = "-mir-" in f"{body}-" and "-miR-" not in f"{body}-"
    return MirnaName(name, species, body, None, precursor, star, "mirbase")


def arm_name(precursor: str, arm: str) -> str:
    """One arm's name: ``X_pre`` -> ``X_5p`` (MirGeneDB), ``hsa-mir-21`` -> ``hsa-mir-21-5p``.

    Arms placed from the hairpin alone keep the precursor's locus (miRBase's ``mir``, not
    ``miR``), so they are never mistaken for miRBase's curated mature names.
    """
    if arm not in ARMS:
        raise ValueError(f"arm must be one of {ARMS}, got {arm!r}")
    if precursor.endswith("_pre"):
        return f"{precursor[: -len('_pre')]}_{arm}"
    return f"{precursor}-{arm}"
