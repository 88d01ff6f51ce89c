"""Decide a sample's read structure by test mapping, not by read composition alone.

Adapters cannot tell TruSeq from NEXTflex (same adapter, 4 + 4 random bases), nor say
whether a 5' barcode must go, and composition rules break on real random bases (ligation
makes them skewed). What a wrong structure cannot do is put reads on miRNAs: a sample of
reads (default the first 50,000) is trimmed under each candidate structure, the distinct
inserts of all candidates are aligned together, once, to one bowtie index of the run's
references (hairpins, spike-ins and biotypes: :func:`write_mapping_reference`), and the
structure that assigns the most reads to hairpins wins, total assigned reads (any
reference) breaking ties. An insert with a hairpin hit counts as miRNA even if it also
hits another reference, as in the pipeline, where hairpins come before biotypes.
Counts within 2 % (and 5 reads) of each other are a tie; a tie on both keeps the
composition-based choice (:mod:`exomir.kits`), so the decision depends on the references
only where they tell the structures apart.

Candidates: every preset whose adapter is in >= 10 % of reads, with all presets sharing
that adapter; ``trimmed``; and, when the best preset is found with its first 3 bases
exact in < 90 % of reads, the adapter inferred from the reads
(:mod:`exomir.adapter_inference`: a preset without its first bases, or a de novo adapter;
NEXTflex-like random ends and a 5' barcode as variants) if it explains >= 1.2x and 5
points more reads; it then replaces the preset as the composition's choice.
A declared protocol is scored against the same candidates and kept, with a warning when
another structure puts at least twice as many reads on miRNAs (and 20 reads, 0.1 % of
the sampled reads, more: libraries with ~1 % miRNA are checked too). Shifted forms of
one adapter (same clipping) are not ranked by mapping, which cannot see a 1-4 nt shift;
the adapter evidence (first bases exact) decides between them. Alignment: bowtie
``-v 1 --norc -a`` (every hit within one mismatch: whether one is on a hairpin), run as
``bowtie-align-s`` itself: the ``bowtie`` wrapper script is a Python start-up of ~0.1 CPU s,
most of what one bowtie call cost. UMI kits are scored in reads.
"""

from __future__ import annotations

import os
import resource
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Any

from exomir import adapter_inference
from exomir.atomic import atomic_open
from exomir.bowtie import bowtie_executable
from exomir.config import schema_default
from exomir.errors import ExomirError
from exomir.kits import (
    AUTO,
    MIN_ADAPTER_FRACTION,
    TRIMMED,
    Detection,
    Kit,
    choose_kit,
    gather_evidence,
)
from exomir.trimming import DEFAULT_MAX_LENGTH, DEFAULT_MIN_LENGTH, trim_sequences

DEFAULT_MAPPING_READS = 50_000
INFER_BELOW_FRACTION = 0.90
# "Clearly more": the inferred adapter must explain this many times the preset's reads.
INFERRED_GAIN = 1.2
INFERRED_MIN_GAIN = 0.05
PARTIAL_MIN_FRACTION = 0.02
INFERENCE_READS = 10_000
INFERRED_TIE = 0.01
TIE_FRACTION = 0.02
TIE_READS = 5
DECLARED_WARNING_RATIO = 2.0
DECLARED_WARNING_MIN_FRACTION = 0.001
DECLARED_WARNING_MIN_READS = 20
# bowtie -v of the test mapping: the pipeline's own alignment setting.
MISMATCHES = schema_default("alignment.mismatches")
INFERRED = "inferred"
# Records of the combined index are named "<reference>|<record>"; hits on these are miRNA.
MIRNA_REFERENCE = "hairpin"
REFERENCE_SEPARATOR = "|"


@dataclass(frozen=True)
class MappingReferences:
    """bowtie index prefixes of the test mapping.

    ``combined``: indexes of :func:`write_mapping_reference` (the workflow's, one bowtie
    call): a hit on a ``hairpin|`` record is miRNA, any hit is assigned. ``mirna`` and
    ``other``: separate indexes whose every hit counts as miRNA, or as assigned (one bowtie
    call each; ``exomir detect-kit`` with the pipeline's own hairpin and biotype indexes).
    """

    mirna: tuple[str, ...] = ()
    other: tuple[str, ...] = ()
    combined: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.mirna or self.other or self.combined)


def write_mapping_reference(
    hairpin: str | os.PathLike, others: Sequence[str | os.PathLike], out: str | os.PathLike
) -> dict[str, int]:
    """One FASTA of all references the test mapping assigns reads to; records per reference.

    Each record is renamed ``<reference>|<name>`` (``hairpin`` for the hairpins, the file
    name without ``.fa`` for the others: ``spikein``, ``tRNA``...), so a hit says where.
    The inputs are the pipeline's own DNA FASTAs: lines are copied, headers renamed.
    """
    sources = [(MIRNA_REFERENCE, Path(hairpin))]
    for path in map(Path, others):
        name = path.name.split(".")[0]
        if name in {n for n, _ in sources}:
            raise ExomirError(f"{path}: a second reference named {name!r} for the test mapping")
        sources.append((name, path))
    counts: dict[str, int] = {}
    with atomic_open(out) as handle:
        for name, path in sources:
            counts[name] = 0
            with open(path) as fasta:
                for number, line in enumerate(fasta, 1):
                    if line.startswith(">"):
                        record = line[1:].split(None, 1)
                        if not record:
                            raise ExomirError(f"{path}: line {number}: a '>' header without a name")
                        handle.write(f">{name}{REFERENCE_SEPARATOR}{record[0]}\n")
                        counts[name] += 1
                    elif line.strip():
                        if not counts[name]:
                            raise ExomirError(
                                f"{path}: not FASTA (a sequence line comes before any '>' header)"
                            )
                        handle.write(line if line.endswith("\n") else line + "\n")
        if not counts[MIRNA_REFERENCE]:
            raise ExomirError(f"{hairpin}: no hairpin sequences for the test mapping")
    return counts


@dataclass
class CandidateScore:
    """One candidate structure's test-mapping result, in sampled reads."""

    kit: Kit
    reads: int
    passed: int
    mirna: int
    assigned: int | None  # None: no reference but hairpins was given

    def to_json(self) -> dict[str, Any]:
        share = (lambda n: round(n / self.reads, 4)) if self.reads else (lambda n: 0.0)
        return {
            "protocol": self.kit.name,
            "adapter": self.kit.adapter,
            "clip5": self.kit.clip5,
            "clip3_after_adapter": self.kit.clip3_after_adapter,
            "umi_length": self.kit.umi_length,
            "passed_fraction": share(self.passed),
            "mirna_fraction": share(self.mirna),
            "assigned_fraction": None if self.assigned is None else share(self.assigned),
        }


def decide_structure(
    sequences: Iterable[str],
    requested: str,
    adapter: str | None,
    kits: Mapping[str, Kit],
    references: MappingReferences,
    *,
    max_reads: int = 100_000,
    mapping_reads: int = DEFAULT_MAPPING_READS,
    min_length: int = DEFAULT_MIN_LENGTH,
    max_length: int = DEFAULT_MAX_LENGTH,
    threads: int = 1,
    source: str = "input reads",
) -> Detection:
    """The kit to trim with: composition, adapter inference, then test mapping (see above)."""
    reads = list(islice(sequences, max_reads))
    if not reads:
        raise ExomirError(f"{source}: contains no reads")
    declared = not (requested == AUTO and adapter is None)
    try:
        prior = choose_kit(requested, adapter, reads, kits, max_reads, source=source)
        evidence = prior.evidence
    except ExomirError as error:
        if declared:
            raise
        prior, no_adapter = None, error
        evidence = gather_evidence(reads, list(kits.values()))
    inferred, inference = _inferred_kits(reads, kits, evidence)
    if prior is None:
        if not inferred:
            raise no_adapter
        prior = Detection(requested, inferred[0], evidence)
        prior.evidence["reason"] = (
            f"no preset adapter in >= {MIN_ADAPTER_FRACTION:.0%} of reads; "
            f"inferred adapter {inferred[0].adapter} ({inference['source']}) explains "
            f"{inference['fraction']:.1%}"
        )
    if inference:
        prior.evidence["inferred_adapter"] = inference
        if declared and inference["adapter"] != prior.kit.adapter:
            prior.evidence["adapter_mismatch"] = inference["adapter"]
            prior.warnings.append(
                f"protocol {requested!r} declared, but the reads carry the adapter "
                f"{inference['adapter']} ({inference['source']}) in "
                f"{inference['fraction']:.1%} of reads, the best preset in "
                f"{inference['best_preset_fraction']:.1%}; check adapter: "
                f"(adapter: {inference['adapter']}?)"
            )
    if inferred and not declared and prior.kit is not inferred[0]:
        # The inferred adapter explains clearly more reads than the preset: it is the
        # composition's choice now (a preset's adapter matched one or two bases into the
        # insert still maps, so the test mapping alone would not see the difference).
        composition = prior.evidence["reason"]
        prior.kit = _same_structure(inferred, prior.kit)
        prior.evidence["reason"] = (
            f"inferred adapter {prior.kit.adapter} ({inference['source']}) explains "
            f"{inference['fraction']:.1%} of reads against "
            f"{inference['best_preset_fraction']:.1%} for the best preset ({composition})"
        )
        prior.warnings = [w for w in prior.warnings if "share the 3' adapter" not in w]
    if not references:
        return prior
    candidates = _candidates(prior.kit, evidence, kits, inferred)
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    sample = Counter(reads[:mapping_reads])
    scores = score_candidates(sample, candidates, references, min_length, max_length, threads)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    by_name = {score.kit.name: score for score in scores}
    prior_score = by_name[prior.kit.name]
    best = prior_score
    for score in sorted(scores, key=lambda s: (-s.mirna, -(s.assigned or 0), s.kit.name)):
        if _better(score, best) and not _adapter_variants(score.kit, prior_score.kit):
            best = score
    prior.timings.update(mapping_seconds=seconds, mapping_cpu_seconds=cpu)
    prior.evidence["mapping"] = {
        "reads_sampled": sum(sample.values()),
        "mismatches": MISMATCHES,
        "best": best.kit.name,
        "candidates": [score.to_json() for score in scores],
    }
    if declared:
        _warn_if_another_maps_better(prior, prior_score, scores, requested)
        return prior
    if best is not prior_score:
        prior.warnings = [w for w in prior.warnings if "share the 3' adapter" not in w]
        prior.warnings.append(
            f"read composition suggested {prior.kit.name}, but {best.kit.name} puts "
            f"{_share(best.mirna, best.reads)} of sampled reads on miRNAs against "
            f"{_share(prior_score.mirna, prior_score.reads)}; using {best.kit.name}"
        )
        prior.kit = best.kit
    runner_up = max(
        (s for s in scores if s is not best),
        key=lambda s: (s.mirna, s.assigned or 0),
        default=None,
    )
    prior.evidence["reason"] = (
        f"test mapping: {best.kit.name} puts {_share(best.mirna, best.reads)} of "
        f"{best.reads} sampled reads on miRNAs"
        + (
            f" (next: {runner_up.kit.name}, {_share(runner_up.mirna, runner_up.reads)} "
            f"on miRNAs); composition: {prior.evidence['reason']}"
            if runner_up is not None
            else ""
        )
    )
    return prior


def score_candidates(
    reads: Counter[str],
    candidates: Sequence[Kit],
    references: MappingReferences,
    min_length: int = DEFAULT_MIN_LENGTH,
    max_length: int = DEFAULT_MAX_LENGTH,
    threads: int = 1,
) -> list[CandidateScore]:
    """Trim ``reads`` (sequence → reads) under each candidate; map all inserts once."""
    trimmed = []
    for kit in candidates:
        # UMIs do not change where an insert maps; scores are in reads for every kit.
        result = trim_sequences(reads, replace(kit, umi_length=0), min_length, max_length)
        trimmed.append((kit, result))
    # Distinct inserts of all candidates, aligned together: one bowtie call an index.
    inserts = sorted(set().union(*(result.inserts for _, result in trimmed)))
    mirna, assigned = _aligned(inserts, references, threads)
    total = sum(reads.values())
    has_other = bool(references.other or references.combined)
    scores = []
    for kit, result in trimmed:
        on_mirna = sum(n for insert, n in result.inserts.items() if insert in mirna)
        on_any = sum(n for insert, n in result.inserts.items() if insert in assigned)
        scores.append(
            CandidateScore(kit, total, result.passed, on_mirna, on_any if has_other else None)
        )
    return scores


def _aligned(
    inserts: Sequence[str], references: MappingReferences, threads: int
) -> tuple[set[str], set[str]]:
    """The inserts with a hit on a hairpin, and those with a hit on any reference."""
    mirna: set[str] = set()
    assigned: set[str] = set()
    if not inserts:
        return mirna, assigned
    indexes = (
        [(prefix, "combined") for prefix in references.combined]
        + [(prefix, "mirna") for prefix in references.mirna]
        + [(prefix, "other") for prefix in references.other]
    )
    with tempfile.TemporaryDirectory(prefix="exomir_kit_mapping.") as tmp:
        fasta = Path(tmp) / "inserts.fa"
        fasta.write_text("".join(f">{i}\n{s}\n" for i, s in enumerate(inserts)))
        for prefix, kind in indexes:
            for line in _bowtie(fasta, prefix, threads, every_hit=kind == "combined"):
                number, _, reference = line.partition("\t")
                insert = inserts[int(number)]
                assigned.add(insert)
                if kind == "mirna" or (
                    kind == "combined"
                    and reference.partition(REFERENCE_SEPARATOR)[0] == MIRNA_REFERENCE
                ):
                    mirna.add(insert)
    return mirna, assigned


def _bowtie(fasta: Path, prefix: str, threads: int, *, every_hit: bool) -> list[str]:
    """bowtie ``-v 1 --norc`` output lines ``<insert number>[\t<reference record>]``.

    ``every_hit``: all hits (``-a``) with their reference, else the first hit's number.
    """
    command = [
        bowtie_executable(prefix), "-f", "-v", str(MISMATCHES), "--norc",
        *(["-a"] if every_hit else ["-k", "1"]),
        "--suppress", "2,4,5,6,7,8" if every_hit else "2,3,4,5,6,7,8",
        "-p", str(threads), "-x", prefix, str(fasta),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        message = " ".join(done.stderr.split())[-300:]
        raise ExomirError(
            f"test mapping against {prefix} failed (bowtie exit {done.returncode}): {message}"
        )
    return done.stdout.splitlines()


def _candidates(
    chosen: Kit, evidence: Mapping[str, Any], kits: Mapping[str, Kit], inferred: Sequence[Kit]
) -> list[Kit]:
    found = {
        summary["adapter"]
        for summary in evidence["adapters"].values()
        if summary["fraction"] >= MIN_ADAPTER_FRACTION
    }
    if chosen.adapter:
        found.add(chosen.adapter)
    candidates = {chosen.name: chosen}
    for name in sorted(kits):
        if kits[name].adapter in found or name == TRIMMED:
            candidates.setdefault(name, kits[name])
    for kit in inferred:
        candidates.setdefault(kit.name, kit)
    return list(candidates.values())


def _inferred_kits(
    reads: Sequence[str], kits: Mapping[str, Kit], evidence: Mapping[str, Any]
) -> tuple[list[Kit], dict[str, Any]]:
    """Kits with an adapter inferred from the reads, best first, when presets explain few."""
    fractions = {name: summary["fraction"] for name, summary in evidence["adapters"].items()}
    sample = Counter(reads[:INFERENCE_READS])
    presets = {
        name: kits[name].adapter
        for name, fraction in fractions.items()
        if fraction >= PARTIAL_MIN_FRACTION and name in kits and kits[name].adapter
    }
    # What the best preset explains with its own first bases (see explained_fraction).
    best_name = max(sorted(presets), key=fractions.__getitem__, default=None)
    best_fraction = (
        adapter_inference.explained_fraction(sample, presets[best_name]) if best_name else 0.0
    )
    if best_fraction >= INFER_BELOW_FRACTION:
        return [], {}
    found = adapter_inference.partial_presets(sample, presets)
    de_novo = adapter_inference.infer_adapter(sample)
    if de_novo is not None:
        found.append(de_novo)
    if not found:
        return [], {}
    # A preset without its first 4 bases also matches reads carrying it without 3: among
    # those explaining as many reads (within 1 point), the de novo one, else the longest.
    top = max(item.fraction for item in found)
    best = max(
        (item for item in found if item.fraction >= top - INFERRED_TIE),
        key=lambda item: (item.source == "de novo", len(item.sequence), item.fraction),
    )
    if best.fraction < max(
        INFERRED_GAIN * best_fraction, best_fraction + INFERRED_MIN_GAIN, MIN_ADAPTER_FRACTION
    ):
        return [], {}
    barcode = adapter_inference.five_prime_barcode_length(sample)
    if best.source == "de novo":
        # Unknown kit: plain, NEXTflex-like random ends, or a 5' barcode; mapping decides.
        base = Kit(INFERRED, best.sequence, description="adapter inferred de novo")
        inferred = [base, replace(base, name=f"{INFERRED}+random4", clip5=4, clip3_after_adapter=4)]
    else:
        sharing = [n for n in sorted(presets) if best.source.startswith(f"{n} adapter")]
        shared = {kits[n].adapter for n in sharing}
        inferred = [
            replace(kits[n], name=f"{n}+inferred_adapter", adapter=best.sequence)
            for n in sorted(kits)
            if kits[n].adapter in shared
        ]
        inferred = [replace(k, description=f"{k.description}; {best.source}") for k in inferred]
    if barcode:
        plain = next((k for k in inferred if not k.clip5), None)
        if plain is not None:
            inferred.append(
                replace(
                    plain,
                    name=f"{plain.name}+barcode{barcode}",
                    clip5=barcode,
                    description=f"{plain.description}; {barcode}-nt 5' barcode clipped",
                )
            )
    inference = {
        "adapter": best.sequence,
        "fraction": best.fraction,
        "source": best.source,
        "best_preset_fraction": best_fraction,
        "five_prime_barcode_length": barcode,
        "reads_examined": sum(sample.values()),
    }
    return inferred, inference


def _same_structure(inferred: Sequence[Kit], kit: Kit) -> Kit:
    """The inferred kit with ``kit``'s clipping and UMI if there is one, else the first."""
    for candidate in inferred:
        if (candidate.clip5, candidate.clip3_after_adapter, candidate.umi_length) == (
            kit.clip5,
            kit.clip3_after_adapter,
            kit.umi_length,
        ):
            return candidate
    return inferred[0]


def _adapter_variants(a: Kit, b: Kit) -> bool:
    """Same clipping, adapters shifted forms of each other (one missing its first bases).

    Mapping cannot tell these apart: an adapter matched a base or two into the insert
    leaves a shorter insert that still maps (often better: it loses the 3' additions).
    Between them the adapter evidence decides (its own first bases found in the reads).
    """
    if (a.clip5, a.clip3_after_adapter, a.umi_length) != (
        b.clip5,
        b.clip3_after_adapter,
        b.umi_length,
    ):
        return False
    if not (a.adapter and b.adapter) or a.adapter == b.adapter:
        return False
    return any(
        x[shift : shift + 10] == y[:10]
        for x, y in ((a.adapter, b.adapter), (b.adapter, a.adapter))
        for shift in range(0, 5)
    )


def _tied(a: int, b: int) -> bool:
    return abs(a - b) <= max(TIE_READS, TIE_FRACTION * max(a, b))


def _better(a: CandidateScore, b: CandidateScore) -> bool:
    """Clearly more reads on miRNAs, or as many and clearly more assigned."""
    if not _tied(a.mirna, b.mirna):
        return a.mirna > b.mirna
    if a.assigned is None or b.assigned is None:
        return False
    return not _tied(a.assigned, b.assigned) and a.assigned > b.assigned


def _warn_if_another_maps_better(
    detection: Detection,
    declared: CandidateScore,
    scores: Sequence[CandidateScore],
    requested: str,
) -> None:
    rival = max(
        (s for s in scores if s is not declared),
        key=lambda s: (s.mirna, s.assigned or 0),
        default=None,
    )
    if rival is None:
        return
    margin = rival.mirna - declared.mirna
    if rival.mirna >= DECLARED_WARNING_RATIO * declared.mirna and margin >= max(
        DECLARED_WARNING_MIN_READS, DECLARED_WARNING_MIN_FRACTION * declared.reads
    ):
        detection.warnings.append(
            f"protocol {requested!r} declared, but test mapping puts "
            f"{_share(rival.mirna, rival.reads)} of sampled reads on miRNAs with "
            f"{rival.kit.name} (adapter {rival.kit.adapter}, clip5 {rival.kit.clip5}, "
            f"clip3 {rival.kit.clip3_after_adapter}) against "
            f"{_share(declared.mirna, declared.reads)} with the declared one; "
            f"check protocol: (protocol: {rival.kit.name}?)"
        )
        detection.evidence["mapping"]["better_than_declared"] = rival.kit.name


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (bowtie)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "0%"
