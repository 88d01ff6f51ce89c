"""Library kit presets (exomir/data/kits.yaml) and detecting the kit from the reads.

Kits differ in where the insert sits on a read: the 3' adapter, random or template-switch
bases to clip, and a UMI. Users often do not know (public data), so ``protocol: auto`` looks
for every preset's adapter in the first reads and picks the one found 5'-most in most reads.
Whatever is chosen, the evidence is kept so a wrong call can be seen and overridden.
"""

from __future__ import annotations

import json
import os
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any

import yaml
from cutadapt.adapters import BackAdapter

from exomir import fastq
from exomir.atomic import atomic_open
from exomir.bundled import AUTO, CUSTOM, kits_path
from exomir.errors import ExomirError

TRIMMED = "trimmed"
KIT_FIELDS = ("adapter", "clip5", "clip3_after_adapter", "umi_length", "description")

# Detection thresholds (see detect_kit for how they are used).
MIN_ADAPTER_FRACTION = 0.10
TRIMMED_MAX_MEDIAN_LENGTH = 40
EVIDENCE_MIN_OVERLAP = 10
EVIDENCE_MIN_INSERT = 10
RANDOM_ENDS_MIN_INSERT_MODE = 28
UNIFORM_BASE_FRACTION = (0.15, 0.35)
FAR_MORE_FREQUENT = 5.0


@dataclass(frozen=True)
class Kit:
    """Where the insert is on a read; see exomir/data/kits.yaml for the meaning of each field."""

    name: str
    adapter: str | None
    clip5: int = 0
    clip3_after_adapter: int = 0
    umi_length: int = 0
    description: str = ""


@dataclass
class Detection:
    """The kit to trim with, why, and what the reads looked like."""

    requested: str
    kit: Kit
    evidence: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    # Not in protocol.json (reruns must write identical bytes): how long deciding took.
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self, sample: str) -> dict[str, Any]:
        """The protocol.json document that ``exomir trim`` reads back (see load_protocol)."""
        return {
            "sample": sample,
            "requested": self.requested,
            "protocol": self.kit.name,
            "adapter": self.kit.adapter,
            "clip5": self.kit.clip5,
            "clip3_after_adapter": self.kit.clip3_after_adapter,
            "umi_length": self.kit.umi_length,
            "evidence": self.evidence,
            "warnings": self.warnings,
        }


def default_kits_path() -> Path:
    """The presets shipped inside the package (exomir/data/kits.yaml), in any install."""
    return kits_path()


def load_kits(path: str | os.PathLike | None = None) -> dict[str, Kit]:
    """Presets by name, validated, from ``path`` (default: the presets shipped with exomir)."""
    path = Path(path) if path is not None else default_kits_path()
    try:
        with open(path) as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ExomirError(f"{path}: kit preset file not found") from None
    except yaml.YAMLError as error:
        raise ExomirError(f"{path}: not valid YAML: {' '.join(str(error).split())}") from None
    if not isinstance(data, dict) or not data:
        raise ExomirError(f"{path}: expected a mapping of kit name to preset")
    kits = {}
    for name, entry in data.items():
        if str(name) in (AUTO, CUSTOM):
            raise ExomirError(f"{path}: kit name {name!r} is reserved; rename the preset")
        kits[str(name)] = _kit_from_mapping(str(name), entry, path, strict=True)
    return kits


def detect_for_sample(
    sample: str,
    fastqs: Sequence[str | os.PathLike],
    requested: str,
    adapter: str | None,
    kits: Mapping[str, Kit],
    max_reads: int = 100_000,
) -> Detection:
    """The kit of one sample, decided from its first reads (warnings about them included)."""
    warnings: list[str] = []
    sequences = fastq.first_sequences(fastqs, max_reads, warnings=warnings)
    source = f"sample {sample} ({', '.join(str(path) for path in fastqs)})"
    detection = choose_kit(requested, adapter, sequences, kits, max_reads, source=source)
    detection.warnings[:0] = warnings
    return detection


def write_protocol(detection: Detection, sample: str, path: str | os.PathLike) -> None:
    """Write protocol.json (atomically): the kit ``load_protocol`` reads back, and why."""
    with atomic_open(path, "w") as handle:
        json.dump(detection.to_json(sample), handle, indent=2)
        handle.write("\n")


def load_protocol(path: str | os.PathLike) -> Kit:
    """The kit recorded in a protocol.json (see ``write_protocol``)."""
    try:
        with open(path) as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise ExomirError(f"{path}: protocol file not found") from None
    except json.JSONDecodeError as error:
        raise ExomirError(f"{path}: not valid JSON: {error}") from None
    if not isinstance(data, dict) or "protocol" not in data:
        raise ExomirError(f"{path}: missing key 'protocol' (not a detect-kit output?)")
    return _kit_from_mapping(str(data["protocol"]), data, path, strict=False)


def _kit_from_mapping(name: str, entry: Any, path: str | os.PathLike, *, strict: bool) -> Kit:
    """Validate one preset; ``strict`` also rejects unknown keys (typos in kits.yaml)."""
    where = f"{path}: kit {name!r}"
    if not isinstance(entry, dict):
        raise ExomirError(f"{where}: expected a mapping with keys {', '.join(KIT_FIELDS)}")
    unknown = sorted(set(entry) - set(KIT_FIELDS))
    if strict and unknown:
        raise ExomirError(f"{where}: unknown key(s) {', '.join(unknown)}")
    if "adapter" not in entry:
        raise ExomirError(f"{where}: missing key 'adapter' (null for already-trimmed reads)")
    adapter = entry["adapter"]
    if adapter is not None and not isinstance(adapter, str):
        raise ExomirError(f"{where}: adapter must be a sequence or null, got {adapter!r}")
    numbers: dict[str, int] = {}
    for key in ("clip5", "clip3_after_adapter", "umi_length"):
        value = entry.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ExomirError(f"{where}: {key} must be a whole number ≥ 0, got {value!r}")
        numbers[key] = value
    if adapter is None and (numbers["umi_length"] or numbers["clip3_after_adapter"]):
        raise ExomirError(
            f"{where}: umi_length and clip3_after_adapter need an adapter (they are read at it)"
        )
    return Kit(
        name=name,
        adapter=normalise_adapter(adapter, where) if adapter is not None else None,
        description=str(entry.get("description", "")),
        **numbers,
    )


def normalise_adapter(adapter: str, source: str = "adapter") -> str:
    """Adapters may be given in RNA or lower case; matching needs upper-case DNA."""
    sequence = adapter.strip().upper().replace("U", "T")
    if len(sequence) < 3 or set(sequence) - set("ACGTN"):
        raise ExomirError(
            f"{source}: adapter {adapter!r} must be at least 3 letters of A, C, G, T (or U, N)"
        )
    return sequence


def resolve_kit(
    protocol: str, adapter: str | None = None, kits: Mapping[str, Kit] | None = None
) -> Kit:
    """The kit for a declared protocol; an explicit ``adapter`` overrides the preset's.

    ``custom`` (or ``auto`` with an adapter) means: this adapter, no clipping, no UMI.
    """
    kits = load_kits() if kits is None else kits
    if protocol in (CUSTOM, AUTO):
        if adapter is None:
            if protocol == AUTO:
                raise ValueError("protocol 'auto' must go through detect_kit")
            raise ExomirError("protocol 'custom' needs an adapter: set adapter: in the config")
        return Kit(CUSTOM, normalise_adapter(adapter), description="custom 3' adapter")
    if protocol not in kits:
        known = ", ".join(sorted([*kits, AUTO, CUSTOM]))
        raise ExomirError(f"unknown protocol {protocol!r}; known: {known}")
    kit = kits[protocol]
    if adapter is not None:
        kit = replace(kit, adapter=normalise_adapter(adapter))
    return kit


def choose_kit(
    requested: str,
    adapter: str | None,
    sequences: Iterable[str],
    kits: Mapping[str, Kit],
    max_reads: int = 100_000,
    *,
    source: str = "input reads",
) -> Detection:
    """Detect the kit (``auto``) or take the declared one, checking it against the reads."""
    if requested == AUTO and adapter is None:
        return detect_kit(sequences, kits, max_reads, source=source)
    kit = resolve_kit(requested, adapter, kits)
    evidence_kits = list(kits.values())
    declared_key = kit.name
    if kit.adapter is not None and kits.get(kit.name) != kit:
        # A custom or overriding adapter is measured under its own name.
        declared_key = CUSTOM if kit.name == CUSTOM else f"{kit.name}+adapter"
        evidence_kits.append(replace(kit, name=declared_key))
    reads = list(islice(sequences, max_reads))
    if not reads:
        raise ExomirError(f"{source}: contains no reads")
    evidence = gather_evidence(reads, evidence_kits)
    detection = Detection(requested, kit, evidence)
    detection.evidence["reason"] = f"protocol {requested!r} declared in the config"
    declared_fraction = evidence["adapters"].get(declared_key, {}).get("fraction", 0.0)
    rival = _most_frequent_adapter(evidence, exclude=kit.adapter)
    if rival is not None:
        rival_fraction = rival[1]["fraction"]
        if rival_fraction >= MIN_ADAPTER_FRACTION and (
            rival_fraction >= FAR_MORE_FREQUENT * declared_fraction
        ):
            detection.warnings.append(
                f"protocol {requested!r} declared, but the {rival[0]} adapter "
                f"({rival[1]['adapter']}) is in {rival_fraction:.1%} of reads against "
                f"{declared_fraction:.1%} for the declared one; check protocol:"
            )
    return detection


def detect_kit(
    sequences: Iterable[str],
    kits: Mapping[str, Kit],
    max_reads: int = 100_000,
    *,
    source: str = "input reads",
) -> Detection:
    """Pick the preset whose adapter is the 5'-most adapter in most of the first reads.

    A kit needs its adapter in at least 10 % of reads. With no such adapter, short reads
    (median ≤ 40 nt) are taken as already trimmed; long ones are an error, because
    guessing would silently produce garbage counts.
    """
    reads = list(islice(sequences, max_reads))
    if not reads:
        raise ExomirError(f"{source}: contains no reads")
    evidence = gather_evidence(reads, list(kits.values()))
    warnings: list[str] = []
    best = _most_frequent_adapter(evidence)
    if best is not None and best[1]["fraction"] >= MIN_ADAPTER_FRACTION:
        adapter = best[1]["adapter"]
        sharing = [kits[name] for name in sorted(kits) if kits[name].adapter == adapter]
        if len(sharing) == 1:
            kit = sharing[0]
            reason = (
                f"{kit.name} adapter {adapter} is the 5'-most adapter in "
                f"{best[1]['fraction']:.1%} of reads"
            )
        else:
            kit, reason = _split_shared_adapter(sharing, best[1])
            others = ", ".join(k.name for k in sharing if k is not kit)
            warnings.append(
                f"kits {', '.join(k.name for k in sharing)} share the 3' adapter {adapter}; "
                f"chose {kit.name} because {reason}; if that is wrong, declare protocol: "
                f"{others} in the config"
            )
    elif evidence["read_length"]["median"] <= TRIMMED_MAX_MEDIAN_LENGTH:
        kit = kits[TRIMMED] if TRIMMED in kits else Kit(TRIMMED, None)
        reason = (
            f"no known adapter in ≥ {MIN_ADAPTER_FRACTION:.0%} of reads and median read length "
            f"{evidence['read_length']['median']} nt ≤ {TRIMMED_MAX_MEDIAN_LENGTH}"
        )
        warnings.append(
            "reads appear already adapter-trimmed (no known adapter found, short reads); "
            "using protocol trimmed — set protocol: or adapter: if that is wrong"
        )
    else:
        found = f"most frequent: {best[0]} in {best[1]['fraction']:.1%}" if best else "none"
        raise ExomirError(
            f"{source}: no known 3' adapter in ≥ {MIN_ADAPTER_FRACTION:.0%} of the first "
            f"{len(reads)} reads ({found}) and reads are long (median "
            f"{evidence['read_length']['median']} nt); set adapter: in the config"
        )
    evidence["reason"] = reason
    return Detection(AUTO, kit, evidence, warnings)


def gather_evidence(sequences: list[str], kits: Iterable[Kit]) -> dict[str, Any]:
    """Per kit adapter: share of reads where it is the 5'-most adapter, and where it sits.

    Matching is cutadapt's (10 % errors) with at least 10 nt of adapter, so sequencing
    errors do not hide an adapter and short chance matches at the read end do not count.
    The insert statistics use inserts of ≥ 10 nt so adapter dimers do not decide them.
    """
    kits = [kit for kit in kits if kit.adapter]
    adapters = sorted({kit.adapter for kit in kits})
    matchers = [
        (
            adapter,
            BackAdapter(
                adapter, max_errors=0.1, min_overlap=min(EVIDENCE_MIN_OVERLAP, len(adapter))
            ),
        )
        for adapter in adapters
    ]
    reads_with = Counter()
    positions: dict[str, Counter[int]] = {adapter: Counter() for adapter in adapters}
    first_bases: dict[str, Counter[str]] = {adapter: Counter() for adapter in adapters}
    distinct = Counter(sequences)
    for sequence, reads in distinct.items():
        best = None
        for adapter, matcher in matchers:
            match = matcher.match_to(sequence)
            if match is not None and (best is None or match.rstart < best[1]):
                best = (adapter, match.rstart)
        if best is None:
            continue
        adapter, position = best
        reads_with[adapter] += reads
        positions[adapter][position] += reads
        if position >= EVIDENCE_MIN_INSERT:
            first_bases[adapter][sequence[0]] += reads
    n_reads = len(sequences)
    lengths = sorted(len(sequence) for sequence in sequences)
    per_adapter = {
        adapter: _adapter_summary(
            adapter, reads_with[adapter], positions[adapter], first_bases[adapter], n_reads
        )
        for adapter in adapters
    }
    return {
        "reads_examined": n_reads,
        "read_length": {
            "min": lengths[0],
            "median": statistics.median_low(lengths),
            "max": lengths[-1],
        },
        "no_adapter_fraction": round(1 - sum(reads_with.values()) / n_reads, 4),
        "adapters": {
            kit.name: per_adapter[kit.adapter] for kit in sorted(kits, key=lambda k: k.name)
        },
    }


def _adapter_summary(
    adapter: str, reads: int, positions: Counter[int], first_bases: Counter[str], n_reads: int
) -> dict[str, Any]:
    inserts = Counter({p: n for p, n in positions.items() if p >= EVIDENCE_MIN_INSERT})
    n_inserts = sum(first_bases.values())
    return {
        "adapter": adapter,
        "reads": reads,
        "fraction": round(reads / n_reads, 4),
        "position_mode": _mode(positions),
        "insert_length_mode": _mode(inserts),
        "insert_first_base": {
            base: round(first_bases[base] / n_inserts, 4) if n_inserts else 0.0 for base in "ACGTN"
        },
    }


def _mode(counts: Counter[int]) -> int | None:
    # Ties go to the shorter length so the result does not depend on input order.
    if not counts:
        return None
    return min(counts, key=lambda value: (-counts[value], value))


def _most_frequent_adapter(
    evidence: dict[str, Any], exclude: str | None = None
) -> tuple[str, dict[str, Any]] | None:
    candidates = [
        (name, summary)
        for name, summary in evidence["adapters"].items()
        if summary["adapter"] != exclude
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda item: (-item[1]["reads"], item[0]))


def _split_shared_adapter(sharing: list[Kit], summary: dict[str, Any]) -> tuple[Kit, str]:
    """TruSeq vs NEXTflex: same adapter, but NEXTflex inserts carry 4 + 4 random bases.

    Those random bases make inserts ~8 nt longer (mode ≥ 28 instead of ~22) and their 5'
    base near-uniform, whereas miRNAs start with U far more often than with G.
    """
    random_ends = [kit for kit in sharing if kit.clip5 or kit.clip3_after_adapter]
    plain = [kit for kit in sharing if not (kit.clip5 or kit.clip3_after_adapter)]
    mode = summary["insert_length_mode"]
    composition = {base: summary["insert_first_base"][base] for base in "ACGT"}
    low, high = UNIFORM_BASE_FRACTION
    uniform = all(low <= fraction <= high for fraction in composition.values())
    long_inserts = mode is not None and mode >= RANDOM_ENDS_MIN_INSERT_MODE
    shown = ", ".join(f"{base} {fraction:.0%}" for base, fraction in composition.items())
    facts = f"insert length mode {mode} nt and 5' bases {shown}"
    if long_inserts and uniform and random_ends:
        return random_ends[0], (
            f"{facts}: long inserts with near-uniform 5' bases suggest random bases at both ends"
        )
    if plain:
        return plain[0], f"{facts}: no sign of random bases at the insert ends"
    return random_ends[0], facts
