"""Scale benchmark for cohorts of 1,000+ samples (not a test: it prints a Markdown table).

    .venv/bin/python tests/bench/scale.py --samples 10 100 1000 [--merge-only 10000]
        [--steps dry-run merge report de] [--isomirs 2000] [--threads 1] [--workdir DIR]

For each N it writes N synthetic samples and runs, each as its own process with the
arguments the workflow's rules use, timing wall clock and peak memory (RSS of the
process and its children, from ``wait4``):

- ``dry-run``: ``snakemake -n`` of the whole workflow (a DE contrast included) on a sheet
  of N tiny FASTQ files: DAG construction, input functions, expand(); once printing
  every job (the default) and once with ``--quiet``;
- ``merge``: ``exomir merge`` (mature + CPM, hairpin), ``merge-isomirs`` and
  ``merge-fates`` on per-sample tables in ``results/counts/per_sample/{sample}/``;
- ``report``: ``exomir report-content`` and MultiQC over N samples' bowtie logs, kit
  detections and trim statistics;
- ``de``: ``exomir de-normalize`` and ``de-contrast`` on the merged N-sample mature matrix;
- ``full-report``: the whole report as a run makes it (quality gate, DE summary and watch
  list, provenance, report-content with library complexity, report-overview, MultiQC over
  every section), then its size and the time headless Chromium takes to load it and run
  its scripts (against a blank page, to show the browser's own start-up).

``--merge-only`` sizes (e.g. 10,000) run the merge step alone. The report and de steps
use the merge step's outputs. Counts are negative binomial around log-normal miRNA means
with per-sample depth and a 2-group effect, so pydeseq2 does real work; fixed seeds make
every run write the same files. Without ``--workdir`` the cohorts are deleted at the end.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from exomir.config import schema_default
from exomir.fates import COLUMNS as FATE_COLUMNS
from exomir.numbers import format_count

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STEPS = ("dry-run", "merge", "report", "de", "full-report")
CONTRAST = "b_vs_a"
TEMPLATE = "results/counts/per_sample/{sample}/{feature}.tsv"
# the fate columns that partition the input: between `input` and `no_adapter`
FATE_PARTITION = FATE_COLUMNS[FATE_COLUMNS.index("input") + 1 : -1]
SPIKEINS = tuple(schema_default("spikeins"))


@dataclass
class Measurement:
    samples: int
    step: str
    seconds: float
    cpu_seconds: float
    peak_mb: float
    note: str = ""


# Runs the command in a child of its own and writes that child's resource use. A direct
# child of this (large) process would report this process's RSS as its own peak: Linux
# carries the peak of the memory image replaced by exec() into the child's ru_maxrss.
LAUNCHER = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump([usage.ru_utime + usage.ru_stime, usage.ru_maxrss], out)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measure(command: Sequence[str], cwd: Path, log: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of ``command`` and its children.

    CPU time is reported next to wall time because the 2-core machine is shared: wall
    time moves with other people's jobs, CPU time much less. Exits if the command fails.
    """
    usage_file = log.with_suffix(".usage.json")
    started = time.perf_counter()
    with open(log, "w") as out:
        launched = [sys.executable, "-c", LAUNCHER, str(usage_file), *command]
        result = subprocess.run(launched, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        tail = log.read_text()[-3000:]
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}\n{tail}")
    cpu_seconds, peak_kib = json.loads(usage_file.read_text())
    return seconds, cpu_seconds, peak_kib / 1024  # Linux reports KiB


def size_note(*paths: Path) -> str:
    total = sum(p.stat().st_size for p in paths)
    return f"{total / 1e6:.1f} MB written"


# ---------------------------------------------------------------- synthetic cohort


@functools.cache
def feature_means(n_features: int) -> np.ndarray:
    """Mean counts of n miRNAs at depth 1: log-normal, many near zero, a few huge."""
    return np.random.default_rng(n_features).lognormal(1.0, 2.5, n_features)


COUNT_TEXT: dict[float, str] = {}


def count_text(value: float) -> str:
    """Counts as exomir writes them (integers bare), memoised: values repeat a lot."""
    text = COUNT_TEXT[value] = format_count(value)
    return text


class Cohort:
    """N synthetic samples: sheet, tiny FASTQs and per-sample tables, in ``root``."""

    def __init__(self, root: Path, n: int, mirnas: int, hairpins: int, isomirs: int, seed: int):
        self.root = root
        self.samples = [f"S{i:05d}" for i in range(n)]
        self.conditions = ["a" if i % 2 == 0 else "b" for i in range(n)]
        self.rng = np.random.default_rng(seed)
        self.mirnas = [f"hsa-miR-{i}-{'5p' if i % 2 else '3p'}" for i in range(mirnas)]
        self.hairpins = [f"hsa-mir-{i}" for i in range(hairpins)]
        self.isomirs_per_sample = isomirs
        root.mkdir(parents=True, exist_ok=True)

    def write_sheet(self, with_fastq: bool) -> Path:
        lines = ["sample\tfastq\tcondition\tbatch" if with_fastq else "sample\tcondition\tbatch"]
        for i, (sample, condition) in enumerate(zip(self.samples, self.conditions, strict=True)):
            fastq = f"fastq/{sample}.fastq.gz\t" if with_fastq else ""
            lines.append(f"{sample}\t{fastq}{condition}\tb{i % 4}")
        path = self.root / "samples.tsv"
        path.write_text("\n".join(lines) + "\n")
        return path

    def write_fastqs(self) -> None:
        reads = "".join(
            f"@r{i}\nTGAGGTAGTAGGTTGTATAGTTTGGAATTCTCGGGTGCCAAGG\n+\n{'I' * 42}\n" for i in range(4)
        )
        data = gzip.compress(reads.encode(), mtime=0)
        directory = self.root / "fastq"
        directory.mkdir(exist_ok=True)
        for sample in self.samples:
            (directory / f"{sample}.fastq.gz").write_bytes(data)

    def write_config(self) -> Path:
        contrast = {CONTRAST: {"variable": "condition", "level": "b", "reference": "a"}}
        config = {
            "samples": "samples.tsv",
            "protocol": "illumina",
            "contrasts": contrast,
            "quality_gate": {"min_mirna_reads": 1000},
        }
        path = self.root / "config.yaml"
        path.write_text(json.dumps(config, indent=1) + "\n")  # JSON is YAML
        return path

    def _count_texts(self, n_features: int, depth: float, effect: np.ndarray) -> list[str]:
        """One sample's counts as text: NB around log-normal means, some fractional."""
        means = feature_means(n_features) * depth * effect
        dispersion = 0.2
        counts = self.rng.negative_binomial(1 / dispersion, 1 / (1 + means * dispersion))
        counts = counts.astype(float)
        # multi-mapper splitting leaves fractions on a few miRNAs
        counts[self.rng.random(n_features) < 0.03] += 0.5
        return [COUNT_TEXT.get(v) or count_text(v) for v in counts.tolist()]

    def write_per_sample_tables(self) -> None:
        """mature, hairpin, spikein, isomirs and fates of every sample, as ``exomir count``."""
        effect = np.ones(len(self.mirnas))
        changed = np.random.default_rng(7).choice(len(effect), len(effect) // 10, replace=False)
        effect[changed] = 4.0
        no_effect = np.ones(len(self.hairpins))
        abundance = feature_means(len(self.mirnas))
        pool = IsomirPool(self.mirnas, 4 * self.isomirs_per_sample, abundance)
        for sample, condition in zip(self.samples, self.conditions, strict=True):
            directory = self.root / "results" / "counts" / "per_sample" / sample
            directory.mkdir(parents=True, exist_ok=True)
            depth = float(self.rng.lognormal(0, 0.5)) * 20
            mature = self._count_texts(
                len(self.mirnas), depth, effect if condition == "b" else np.ones(len(effect))
            )
            self._write_column(directory / "mature.tsv", sample, self.mirnas, mature)
            hairpin = self._count_texts(len(self.hairpins), depth, no_effect)
            self._write_column(directory / "hairpin.tsv", sample, self.hairpins, hairpin)
            spikein = [str(v) for v in self.rng.poisson(50, len(SPIKEINS))]
            self._write_column(directory / "spikein.tsv", sample, list(SPIKEINS), spikein)
            rows = pool.sample_rows(self.rng, self.isomirs_per_sample)
            (directory / "isomirs.tsv").write_text(rows)
            partition = self.rng.integers(0, 100_000, len(FATE_PARTITION))
            fates = [sample, str(int(partition.sum())), *map(str, partition), "12"]
            header = ["sample", "input", *FATE_PARTITION, "no_adapter"]
            (directory / "fates.tsv").write_text("\t".join(header) + "\n" + "\t".join(fates) + "\n")

    @staticmethod
    def _write_column(path: Path, sample: str, names: list[str], texts: list[str]) -> None:
        body = "".join(f"{n}\t{t}\n" for n, t in zip(names, texts, strict=True))
        path.write_text(f"mirna\t{sample}\n{body}")

    def write_report_inputs(self) -> None:
        """What report-content and MultiQC read: kit detections, trim stats, bowtie logs."""
        logs = self.root / "logs" / "align"
        logs.mkdir(parents=True, exist_ok=True)
        lengths = {str(length): int(1000 * np.exp(-abs(length - 22))) for length in range(15, 36)}
        for sample in self.samples:
            trimmed = self.root / "results" / "trimmed" / sample
            trimmed.mkdir(parents=True, exist_ok=True)
            protocol = {"sample": sample, "requested": "illumina", "protocol": "illumina"}
            protocol.update(adapter="TGGAATTCTCGGGTGCCAAGG", warnings=[])
            (trimmed / "protocol.json").write_text(json.dumps(protocol))
            stats = {"sample": sample, "unit": "reads", "input": 10000, "no_adapter": 86}
            stats.update(insert_lengths=lengths, warnings=[])
            (trimmed / "trim_stats.json").write_text(json.dumps(stats))
            for target, aligned in (("spikein", 3), ("hairpin", 523)):
                (logs / f"{sample}.{target}.log").write_text(
                    "# reads processed: 1811\n"
                    f"# reads with at least one alignment: {aligned} ({aligned / 18.11:.2f}%)\n"
                    f"# reads that failed to align: {1811 - aligned} "
                    f"({100 - aligned / 18.11:.2f}%)\n"
                    f"Reported {aligned} alignments\n"
                )


class IsomirPool:
    """Distinct isomiRs a cohort shares; each sample shows a random subset of them.

    Abundant miRNAs own more isomiRs (in proportion to the square root of their mean),
    as in real libraries. Rows are kept as text prefixes in mirna-then-sequence order,
    so a sample's file is a selection, a count per row and one sort, written as
    ``exomir count`` writes it (by mirna, then decreasing count).
    """

    def __init__(self, mirnas: list[str], size: int, abundance: np.ndarray):
        rng = np.random.default_rng(size)
        bases = np.array(list("ACGT"))
        weights = np.sqrt(abundance) / np.sqrt(abundance).sum()
        owner = np.sort(rng.choice(len(mirnas), size, p=weights))
        sequences = ["".join(s) for s in bases[rng.integers(0, 4, (size, 22))]]
        ordered = sorted(zip((mirnas[i] for i in owner), sequences, strict=True))
        self.mirna_rank = np.array([rank for rank, _ in _ranks([m for m, _ in ordered])])
        self.prefixes = [
            f"{m}\t{s}\t{rng.integers(-2, 3)}\t{rng.integers(-3, 6)}\t.\t{rng.integers(0, 2)}\t"
            for m, s in ordered
        ]

    def sample_rows(self, rng: np.random.Generator, n: int) -> str:
        chosen = rng.choice(len(self.prefixes), min(n, len(self.prefixes)), replace=False)
        counts = rng.geometric(0.05, len(chosen))
        order = np.lexsort((chosen, -counts, self.mirna_rank[chosen]))
        header = "mirna\tsequence\tstart_offset\tend_offset\ttail\tmismatches\tcount\n"
        rows = "".join(
            f"{self.prefixes[i]}{c}\n"
            for i, c in zip(chosen[order].tolist(), counts[order].tolist(), strict=True)
        )
        return header + rows


def _ranks(names: list[str]) -> list[tuple[int, str]]:
    """Dense rank of each name in sorted order (names arrive sorted)."""
    ranks, rank, previous = [], -1, None
    for name in names:
        if name != previous:
            rank, previous = rank + 1, name
        ranks.append((rank, name))
    return ranks


# ---------------------------------------------------------------- steps


def exomir(*args: str) -> list[str]:
    return [str(BIN / "exomir"), *args]


def dry_run(cohort: Cohort, n: int, threads: int) -> list[Measurement]:
    cohort.write_sheet(with_fastq=True)
    cohort.write_fastqs()
    config = cohort.write_config()
    command = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(cohort.root)]
    command += ["--configfile", str(config), "-n", "--cores", "2"]
    results = []
    for step, extra in (("dry-run (snakemake -n)", []), ("dry-run, --quiet", ["--quiet"])):
        log = cohort.root / f"dry_run{len(results)}.log"
        seconds, cpu, peak = measure(command + extra, cohort.root, log)
        jobs = _job_count(cohort.root / "dry_run0.log")
        results.append(Measurement(n, step, seconds, cpu, peak, f"{jobs} jobs"))
    # Snakemake's own cost for as many jobs: a chain of four trivial rules per item.
    trivial = cohort.root / "trivial"
    trivial.mkdir(exist_ok=True)
    (trivial / "Snakefile").write_text(TRIVIAL_SNAKEFILE)
    items = max(1, int(jobs) // 4) if jobs.isdigit() else n
    command = [str(BIN / "snakemake"), "-s", "Snakefile", "-n", "--quiet", "--cores", "2"]
    command += ["--config", f"items={items}"]
    seconds, cpu, peak = measure(command, trivial, trivial / "dry_run.log")
    ratio = results[-1].seconds / seconds
    results.append(
        Measurement(
            n,
            "dry-run, --quiet, trivial 4-rule workflow",
            seconds,
            cpu,
            peak,
            f"{4 * items + 1} jobs; exomir's --quiet dry run is {ratio:.2f}x this",
        )
    )
    return results


TRIVIAL_SNAKEFILE = """\
ITEMS = range(int(config["items"]))


rule all:
    input:
        expand("d/{i}.txt", i=ITEMS),


rule a:
    output:
        "a/{i}.txt",
    shell:
        "touch {output}"


rule b:
    input:
        "a/{i}.txt",
    output:
        "b/{i}.txt",
    shell:
        "cp {input} {output}"


rule c:
    input:
        "b/{i}.txt",
    output:
        "c/{i}.txt",
    shell:
        "cp {input} {output}"


rule d:
    input:
        "c/{i}.txt",
    output:
        "d/{i}.txt",
    shell:
        "cp {input} {output}"
"""


def _job_count(log: Path) -> str:
    for line in log.read_text().splitlines():
        if line.startswith("total"):
            return line.split()[-1]
    return "?"


def merge(cohort: Cohort, n: int, threads: int) -> list[Measurement]:
    cohort.write_sheet(with_fastq=False)
    cohort.write_per_sample_tables()
    root = cohort.root
    counts = root / "results" / "counts"
    steps = {
        "merge mature + CPM": exomir(
            "merge",
            *_list_options(cohort, "mature"),
            "--out",
            "results/counts/mature_counts.tsv",
            "--cpm-out",
            "results/counts/mature_cpm.tsv",
        ),
        "merge hairpin": exomir(
            "merge", *_list_options(cohort, "hairpin"), "--out", "results/counts/hairpin_counts.tsv"
        ),
        "merge-isomirs": exomir(
            "merge-isomirs",
            *_list_options(cohort, "isomirs"),
            "--out",
            "results/counts/isomirs.tsv",
        ),
        "merge-fates": exomir(
            "merge-fates", *_list_options(cohort, "fates"), "--out", "results/qc/read_fates.tsv"
        ),
    }
    outputs = {
        "merge mature + CPM": [counts / "mature_counts.tsv", counts / "mature_cpm.tsv"],
        "merge hairpin": [counts / "hairpin_counts.tsv"],
        "merge-isomirs": [counts / "isomirs.tsv"],
        "merge-fates": [root / "results" / "qc" / "read_fates.tsv"],
    }
    results = []
    for step, command in steps.items():
        seconds, cpu, peak = measure(command, root, root / f"{step.split()[0]}_{len(results)}.log")
        results.append(Measurement(n, step, seconds, cpu, peak, size_note(*outputs[step])))
    return results


def _list_options(cohort: Cohort, feature: str, template: str = TEMPLATE) -> list[str]:
    """``--list`` of a sample list as rule sample_list writes it (results/run/samples/)."""
    from exomir.runfiles import write_sample_list

    paths = [template.replace("{feature}", feature).replace("{sample}", s) for s in cohort.samples]
    out = cohort.root / "results" / "run" / "samples" / f"{feature}.tsv"
    write_sample_list(cohort.samples, paths, out)
    return ["--list", str(out.relative_to(cohort.root))]


def report(cohort: Cohort, n: int, threads: int) -> list[Measurement]:
    """report-content then MultiQC, as rules report_content and multiqc run them."""
    root = cohort.root
    if not (root / "results" / "qc" / "read_fates.tsv").exists():
        raise SystemExit("the report step needs the merge step's read_fates.tsv")
    cohort.write_report_inputs()
    protocols = _list_options(cohort, "protocol", "results/trimmed/{sample}/{feature}.json")
    stats = _list_options(cohort, "trim_stats", "results/trimmed/{sample}/{feature}.json")
    content = exomir(
        "report-content",
        "--read-fates",
        "results/qc/read_fates.tsv",
        "--protocols",
        protocols[1],
        "--trim-stats",
        stats[1],
        "--outdir",
        "results/qc/multiqc",
    )
    seconds, cpu, peak = measure(content, root, root / "report_content.log")
    results = [Measurement(n, "report-content", seconds, cpu, peak)]
    multiqc = [str(BIN / "multiqc"), "--force", "--no-data-dir", "--config"]
    multiqc += [str(REPO / "resources" / "multiqc_config.yaml"), "--outdir", "results/multiqc"]
    multiqc += ["--filename", "multiqc_report.html", "results/qc/multiqc", "logs/align"]
    seconds, cpu, peak = measure(multiqc, root, root / "multiqc.log")
    html = root / "results" / "multiqc" / "multiqc_report.html"
    results.append(Measurement(n, "multiqc", seconds, cpu, peak, size_note(html)))
    return results


def de(cohort: Cohort, n: int, threads: int) -> list[Measurement]:
    root = cohort.root
    counts = root / "results" / "counts" / "mature_counts.tsv"
    if not counts.exists():
        raise SystemExit("the de step needs the merge step's mature_counts.tsv")
    spec = root / "results" / "run" / "config" / "de.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(json.dumps(_de_spec(), sort_keys=True))
    common = ["--counts", str(counts), "--samples", "samples.tsv", "--config", str(spec)]
    common += ["--threads", str(threads)]
    normalize = ["--size-factors-out", "results/de/size_factors.tsv"]
    normalize += ["--normalized-out", "results/de/normalized_counts.tsv"]
    normalize += ["--vst-out", "results/de/vst_counts.tsv", "--plot-dir", "results/de/plots"]
    normalize += ["--pca-section-out", "results/de/multiqc/pca_mqc.yaml"]
    threads_note = f"{threads} thread" if threads == 1 else f"{threads} threads"
    results = []
    seconds, cpu, peak = measure(
        exomir("de-normalize", *common, *normalize), root, root / "de_normalize.log"
    )
    results.append(Measurement(n, f"de-normalize ({threads_note})", seconds, cpu, peak))
    contrast = exomir("de-contrast", "--name", CONTRAST, "--size-factors")
    contrast += [
        "results/de/size_factors.tsv",
        *common,
        "--table-out",
        f"results/de/{CONTRAST}.tsv",
    ]
    contrast += ["--plot-dir", "results/de/plots", "--multiqc-dir", "results/de/multiqc"]
    seconds, cpu, peak = measure(contrast, root, root / "de_contrast.log")
    results.append(Measurement(n, f"de-contrast ({threads_note})", seconds, cpu, peak))
    return results


def full_report(cohort: Cohort, n: int, threads: int) -> list[Measurement]:
    """Every report section, as rules quality_gate ... multiqc make them; size and render."""
    root = cohort.root
    if not (root / "results" / "de" / f"{CONTRAST}.json").exists():
        raise SystemExit("the full-report step needs the de step's outputs")
    cohort.write_report_inputs()
    config = cohort.write_config()
    spec = json.dumps(_de_spec(), sort_keys=True)
    steps = {
        "quality-gate": exomir(
            "quality-gate", "--read-fates", "results/qc/read_fates.tsv", "--spec", spec,
            "--out", "results/qc/ev_quality.tsv",
            "--multiqc", "results/de/multiqc/ev_quality_mqc.tsv",
        ),
        "de-summary": exomir(
            "de-summary", "--tables", f"results/de/{CONTRAST}.tsv", "--spec", spec,
            "--outdir", "results/de",
        ),
        "provenance": exomir(
            "provenance", "--config-json", json.dumps(json.loads(config.read_text())),
            "--sample-sheet", "samples.tsv", "--out", "results/provenance.yaml",
        ),
        "report-content (complexity)": exomir(
            "report-content", "--read-fates", "results/qc/read_fates.tsv",
            "--sample-sheet", "samples.tsv",
            "--mature-counts", "results/counts/mature_counts.tsv", "--outdir", "results/qc/multiqc",
        ),
        "report-overview": exomir(
            "report-overview", "--provenance", "results/provenance.yaml",
            "--sample-sheet", "samples.tsv", "--quality", "results/qc/ev_quality.tsv",
            "--contrast-summary", f"results/de/{CONTRAST}.json",
            "--warnings-out", "results/report/warnings_mqc.json",
            "--methods-out", "results/report/methods_mqc.json",
            "--order-out", "results/report/multiqc_order.yaml",
        ),
    }  # fmt: skip
    results = []
    for name, command in steps.items():
        seconds, cpu, peak = measure(command, root, root / f"{name.split()[0]}.log")
        results.append(Measurement(n, name, seconds, cpu, peak))
    multiqc = [str(BIN / "multiqc"), "--force", "--no-data-dir"]
    multiqc += ["--config", str(REPO / "resources" / "multiqc_config.yaml")]
    multiqc += ["--config", "results/report/multiqc_order.yaml", "--outdir", "results/multiqc"]
    multiqc += ["--filename", "multiqc_report.html", "results/qc/multiqc", "logs/align"]
    multiqc += ["results/de/multiqc", "results/report"]
    seconds, cpu, peak = measure(multiqc, root, root / "multiqc_full.log")
    html = root / "results" / "multiqc" / "multiqc_report.html"
    results.append(Measurement(n, "multiqc (full report)", seconds, cpu, peak, size_note(html)))
    sys.path.insert(0, str(REPO / "tests"))
    import browser

    if browser.chromium() is None:
        return results
    blank = root / "blank.html"
    blank.write_text("<html><body>blank</body></html>")
    profile = root / "chromium-profile"
    baseline, baseline_cpu = browser.render_seconds(blank, profile)
    loaded, loaded_cpu = browser.render_seconds(html, profile)
    note = f"to the load event, start-up included (blank page: {baseline:.1f} s)"
    results.append(Measurement(n, "load in Chromium", loaded, loaded_cpu, 0.0, note))
    drawn, svgs = browser.time_to_plots(html, profile)
    note = f"navigation to last plot drawn ({svgs} plot SVGs); {html.stat().st_size / 1e6:.1f} MB"
    results.append(Measurement(n, "render in Chromium", drawn, 0.0, 0.0, note))
    return results


def _de_spec() -> dict:
    """The DE part of a validated config, as rule de_normalize passes it."""
    from exomir.config import validate_config

    config = {
        "samples": "samples.tsv",
        "contrasts": {CONTRAST: {"variable": "condition", "level": "b", "reference": "a"}},
    }
    resolved = validate_config(config)
    keys = ("design", "contrasts", "continuous_covariates", "alpha", "lfc_shrink")
    keys += ("normalization", "watchlist", "quality_gate")
    return {key: resolved[key] for key in keys}


STEP_FUNCTIONS = {
    "dry-run": dry_run,
    "merge": merge,
    "report": report,
    "de": de,
    "full-report": full_report,
}


# ---------------------------------------------------------------- main


def markdown(results: list[Measurement]) -> str:
    lines = [
        "| samples | step | wall time (s) | CPU time (s) | peak memory (MB) | notes |",
        "|---:|---|---:|---:|---:|---|",
    ]
    lines += [
        f"| {r.samples:,} | {r.step} | {r.seconds:.1f} | {r.cpu_seconds:.1f} | {r.peak_mb:.0f} "
        f"| {r.note} |"
        for r in results
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--merge-only", type=int, nargs="*", default=[], help="merge step alone")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--mirnas", type=int, default=3000, help="mature rows (default 3000)")
    parser.add_argument("--hairpins", type=int, default=1900, help="hairpin rows (default 1900)")
    parser.add_argument("--isomirs", type=int, default=2000, help="isomiR rows per sample")
    parser.add_argument(
        "--threads", type=int, default=1, help="DE threads (default 1, as the DE rules)"
    )
    parser.add_argument("--workdir", type=Path, help="keep the cohorts here (default: temporary)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="exomir-scale-"))
    runs = [(n, args.steps) for n in args.samples] + [(n, ["merge"]) for n in args.merge_only]
    results: list[Measurement] = []
    try:
        for n, steps in runs:
            for step in (s for s in STEPS if s in steps):
                # the dry run gets a directory of its own: per-sample tables would change its DAG
                place = "dry_run" if step == "dry-run" else "cohort"
                root = workdir / f"n{n}" / place
                cohort = Cohort(root, n, args.mirnas, args.hairpins, args.isomirs, args.seed)
                started = time.perf_counter()
                for m in STEP_FUNCTIONS[step](cohort, n, args.threads):
                    print(
                        f"N={n:>6} {m.step:<28} {m.seconds:8.2f} s {m.cpu_seconds:8.2f} s CPU"
                        f" {m.peak_mb:8.0f} MB  {m.note}",
                        file=sys.stderr,
                        flush=True,
                    )
                    results.append(m)
                total = time.perf_counter() - started
                print(f"N={n:>6} {step}: {total:.1f} s with data generation", file=sys.stderr)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
