"""A sample's sequencing runs fetched as one FASTQ.gz, complete and verified, or not at all.

Public small-RNA samples often have several runs (lanes, resequencing) and are sometimes
sequenced paired-end although only R1 matters (R2 repeats the short insert in reverse).
Runs come from ENA over HTTPS with the MD5s ENA publishes (default), or from SRA with
``fasterq-dump``; each is checked and its library kit detected, then the runs are joined
in the order given (gzip members concatenate into a valid gzip file). Everything happens
in a scratch directory next to the output, so a failed or killed fetch leaves no output.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from xopen import xopen

from exomir import fastq, kits
from exomir.atomic import atomic_open, atomic_path
from exomir.download import download
from exomir.errors import ExomirError
from exomir.geo import DEFAULT_RETRIES, RUN, Run, RunFile, Services, ena_runs

log = logging.getLogger(__name__)

ENA = "ena"
FASTERQ_DUMP = "fasterq-dump"
METHODS = (ENA, FASTERQ_DUMP)
CHUNK_SIZE = 1 << 20
KIT_READS = 100_000
# fasterq-dump messages that no retry will fix.
PERMANENT_SRA_ERRORS = ("invalid accession", "not found", "no such accession")

# Indirection so tests can record back-off delays instead of sleeping through them.
sleep: Callable[[float], None] = time.sleep


@dataclass
class FetchedRun:
    """What was fetched for one run and what its reads look like."""

    run: str
    method: str
    source: str
    layout: str
    file: str
    bytes: int
    md5: str
    md5_verified: bool
    read_count_ena: int | None = None
    kit: str | None = None
    kit_reason: str = ""
    kit_warnings: list[str] = field(default_factory=list)


def check_runs(runs: Sequence[str]) -> list[str]:
    """Run accessions as given, refusing non-run accessions and repeats."""
    if not runs:
        raise ExomirError("no run accessions given")
    seen: set[str] = set()
    for run in runs:
        if not RUN.match(run):
            raise ExomirError(f"run {run!r}: not an SRA/ENA/DDBJ run accession (SRR/ERR/DRR…)")
        if run in seen:
            raise ExomirError(f"run {run}: listed twice")
        seen.add(run)
    return list(runs)


def select_r1(run: Run) -> tuple[RunFile, str | None]:
    """The file holding R1 of ``run`` and, for paired runs, a note that R2 is dropped."""
    if not run.files:
        raise ExomirError(
            f"run {run.accession}: ENA lists no FASTQ files for it; "
            "try fastq_download: {method: fasterq-dump}"
        )
    first = [f for f in run.files if f.name.endswith("_1.fastq.gz")]
    second = [f for f in run.files if f.name.endswith("_2.fastq.gz")]
    if first:
        if second or run.layout == "PAIRED":
            return first[0], (
                f"run {run.accession} is paired-end: using R1 only ({first[0].name}); "
                "R2 repeats the small-RNA insert and is not downloaded"
            )
        return first[0], None
    if len(run.files) == 1:
        if run.layout == "PAIRED":
            raise ExomirError(
                f"run {run.accession}: library_layout is PAIRED but ENA has one file "
                f"({run.files[0].name}), so R1 cannot be told from R2; download it yourself "
                "and give its R1 reads in the sheet's fastq column"
            )
        return run.files[0], None
    names = ", ".join(f.name for f in run.files)
    raise ExomirError(
        f"run {run.accession}: {len(run.files)} FASTQ files ({names}) and none is *_1.fastq.gz; "
        "cannot tell which holds R1"
    )


def fetch_from_ena(accession: str, dest: Path, services: Services) -> tuple[FetchedRun, list[str]]:
    """Download R1 of ``accession`` from ENA to ``dest`` (MD5-checked); also return notes."""
    listed = [run for run in ena_runs(accession, services) if run.accession == accession]
    if not listed:
        raise ExomirError(f"run {accession}: unknown to ENA (its file report is empty)")
    run = listed[0]
    chosen, note = select_r1(run)
    download(chosen.url, dest, md5=chosen.md5, retries=services.retries, backoff=services.backoff)
    read_count = run.fields.get("read_count", "")
    fetched = FetchedRun(
        run=accession,
        method=ENA,
        source=chosen.url,
        layout=run.layout,
        file=chosen.name,
        bytes=dest.stat().st_size,
        md5=chosen.md5 or _md5(dest),
        md5_verified=chosen.md5 is not None,
        read_count_ena=int(read_count) if read_count.isdigit() else None,
    )
    return fetched, [note] if note else []


def fetch_with_fasterq_dump(
    accession: str,
    dest: Path,
    *,
    threads: int = 2,
    retries: int = DEFAULT_RETRIES,
    backoff: float = 1.0,
) -> tuple[FetchedRun, list[str]]:
    """Extract R1 of ``accession`` with fasterq-dump and gzip it (ISA-L) to ``dest``."""
    executable = shutil.which(FASTERQ_DUMP)
    if executable is None:
        raise ExomirError(
            f"run {accession}: fasterq-dump is not on PATH; install sra-tools "
            "or use fastq_download: {method: ena}"
        )
    outdir = dest.parent / f"{accession}.fasterq"
    command = [executable, "--split-files", "-e", str(threads), "-O", str(outdir), accession]
    for attempt in range(retries + 1):
        shutil.rmtree(outdir, ignore_errors=True)
        outdir.mkdir(parents=True)
        # cwd: fasterq-dump's scratch files land in the scratch directory, not in the run dir.
        result = subprocess.run(command, cwd=outdir, capture_output=True, text=True)
        if result.returncode == 0:
            break
        reason = _last_line(result.stderr) or f"exit status {result.returncode}"
        permanent = any(text in reason.lower() for text in PERMANENT_SRA_ERRORS)
        if permanent or attempt == retries:
            raise ExomirError(
                f"run {accession}: fasterq-dump failed after {attempt + 1} attempts: {reason}"
            )
        delay = backoff * 2**attempt
        log.warning(
            "run %s: fasterq-dump failed (%s); retrying in %.1f s", accession, reason, delay
        )
        sleep(delay)
    first, second, single = (outdir / f"{accession}{s}.fastq" for s in ("_1", "_2", ""))
    source = first if first.exists() else single
    if not source.exists() or source.stat().st_size == 0:
        raise ExomirError(f"run {accession}: fasterq-dump wrote no reads to {outdir}")
    notes = []
    layout = "PAIRED" if second.exists() else "SINGLE"
    if second.exists():
        notes.append(
            f"run {accession} is paired-end: using R1 only ({source.name}); "
            "R2 repeats the small-RNA insert and is discarded"
        )
    with open(source, "rb") as plain, xopen(dest, "wb", threads=max(0, threads - 1)) as packed:
        shutil.copyfileobj(plain, packed, CHUNK_SIZE)
    shutil.rmtree(outdir, ignore_errors=True)
    fetched = FetchedRun(
        run=accession,
        method=FASTERQ_DUMP,
        source=f"{FASTERQ_DUMP} --split-files {accession}",
        layout=layout,
        file=source.name,
        bytes=dest.stat().st_size,
        md5=_md5(dest),
        md5_verified=False,
    )
    return fetched, notes


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def detect_run_kit(
    path: Path, accession: str, presets: Mapping[str, kits.Kit], max_reads: int
) -> tuple[str | None, str, list[str]]:
    """Kit name, reason and warnings for one run's first reads; None when undecidable."""
    try:
        sequences = fastq.first_sequences([path], max_reads)
        detection = kits.detect_kit(sequences, presets, max_reads, source=f"run {accession}")
    except ExomirError as error:
        return None, str(error), [f"run {accession}: library kit not detected: {error}"]
    return detection.kit.name, str(detection.evidence.get("reason", "")), detection.warnings


def fetch_sample(
    sample: str,
    runs: Sequence[str],
    out: str | os.PathLike,
    report: str | os.PathLike,
    *,
    method: str = ENA,
    services: Services | None = None,
    threads: int = 2,
    kit_reads: int = KIT_READS,
    kits_path: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Fetch ``runs`` of ``sample`` into ``out`` (one FASTQ.gz) and write the ``report`` JSON.

    ``kit_reads`` reads of each run are used to detect its library kit (0: skip).
    Returns the report document.
    """
    runs = check_runs(runs)
    if method not in METHODS:
        raise ExomirError(f"fastq_download method {method!r}: use one of {', '.join(METHODS)}")
    services = services or Services()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    presets = kits.load_kits(kits_path) if kit_reads > 0 else {}
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".runs", dir=out.parent))
    try:
        fetched: list[FetchedRun] = []
        parts: list[Path] = []
        notes: list[str] = []
        for accession in runs:
            part = scratch / f"{accession}.fastq.gz"
            if method == ENA:
                run, run_notes = fetch_from_ena(accession, part, services)
            else:
                run, run_notes = fetch_with_fasterq_dump(
                    accession,
                    part,
                    threads=threads,
                    retries=services.retries,
                    backoff=services.backoff,
                )
            if kit_reads > 0:
                run.kit, run.kit_reason, run.kit_warnings = detect_run_kit(
                    part, accession, presets, kit_reads
                )
            for note in run_notes:
                log.warning("sample %s: %s", sample, note)
            notes.extend(run_notes)
            fetched.append(run)
            parts.append(part)
        warnings = _kit_warnings(sample, fetched)
        for warning in warnings:
            log.warning("%s", warning)
        with atomic_path(out) as tmp:
            md5 = _concatenate(parts, tmp, fetched[0].md5 if len(parts) == 1 else None)
            size = tmp.stat().st_size
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    document = {
        "sample": sample,
        "method": method,
        "output": str(out),
        "bytes": size,
        "md5": md5,
        "layout": _sample_layout(fetched),
        "kit": _sample_kit(fetched),
        "runs": [asdict(run) for run in fetched],
        "notes": notes,
        "warnings": warnings,
    }
    with atomic_open(report, "w") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    return document


def _kit_warnings(sample: str, fetched: Sequence[FetchedRun]) -> list[str]:
    """Undetected kits and runs that disagree; per-run detection remarks stay with the run."""
    warnings = [warning for run in fetched if run.kit is None for warning in run.kit_warnings]
    called = {run.kit for run in fetched if run.kit is not None}
    if len(called) > 1:
        calls = ", ".join(f"{run.run}: {run.kit or 'undetected'}" for run in fetched)
        warnings.append(
            f"sample {sample}: its runs look like different library kits ({calls}); "
            "they are trimmed as one sample with one protocol — check them, or split the sample"
        )
    return warnings


def _sample_layout(fetched: Sequence[FetchedRun]) -> str:
    layouts = sorted({run.layout for run in fetched})
    if "PAIRED" in layouts:
        return "PAIRED (R1 only)" if len(layouts) == 1 else "mixed: " + ";".join(layouts)
    return ";".join(layouts)


def _sample_kit(fetched: Sequence[FetchedRun]) -> str | None:
    called = {run.kit for run in fetched}
    return called.pop() if len(called) == 1 else None


def _concatenate(parts: Sequence[Path], target: Path, known_md5: str | None) -> str:
    """Join gzip files in order and return the MD5 of the result.

    One part is moved, not copied (a run can be gigabytes), and keeps its known MD5.
    """
    if len(parts) == 1:
        os.replace(parts[0], target)
        return known_md5 or _md5(target)
    digest = hashlib.md5()
    with open(target, "wb") as out:
        for part in parts:
            with open(part, "rb") as source:
                while chunk := source.read(CHUNK_SIZE):
                    digest.update(chunk)
                    out.write(chunk)
    return digest.hexdigest()


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()
