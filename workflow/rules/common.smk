# The only place that reads config and the sample sheet. Everything is validated here, at
# load time, so a bad sheet or config fails before any job runs, with one line naming the
# file, row/key and problem. Rules get their inputs from the small functions below.
import json
import os
import re
import shlex
import sys
from pathlib import Path
from urllib.parse import urljoin

import pandas as pd
from snakemake.exceptions import WorkflowError

from exomir.biotypes import resolve_references
from exomir.config import PROTOCOLS, resolve_path, validate_config
from exomir.contrasts import validate_de_config
from exomir.errors import ExomirError
from exomir.samplesheet import read_sample_sheet


envvars:
    "PATH",


# Rules call `exomir`, `multiqc`, `bowtie`...: put this interpreter's bin directory (the
# .venv) first on PATH, so `.venv/bin/snakemake` works without activating the venv, and
# cluster jobs, which re-run this file, find the same tools.
os.environ["PATH"] = os.pathsep.join(
    [str(Path(sys.executable).parent), os.environ["PATH"]]
)

# Without --configfile the bundled demo config is in use: its relative paths point into the
# repository. A user's config resolves its relative paths against the working directory.
USING_BUNDLED_CONFIG = not workflow.config_settings.configfiles
CONFIG_SOURCE = (
    str(REPO / "config" / "config.yaml")
    if USING_BUNDLED_CONFIG
    else ", ".join(str(p) for p in workflow.config_settings.configfiles)
)
PATH_BASE = REPO if USING_BUNDLED_CONFIG else Path.cwd()

try:
    CONFIG = validate_config(config, source=f"config {CONFIG_SOURCE}")
    COUNTS_MATRIX = (
        resolve_path(CONFIG["counts_matrix"], PATH_BASE)
        if CONFIG["counts_matrix"]
        else None
    )
    # `geo:` without `samples:` is step 1 of a GEO reanalysis: only propose a sheet.
    GEO_SHEET_ONLY = "samples" not in CONFIG
    SHEET_PATH = None if GEO_SHEET_ONLY else resolve_path(CONFIG["samples"], PATH_BASE)
    SHEET = (
        None
        if GEO_SHEET_ONLY
        else read_sample_sheet(
            SHEET_PATH,
            base_dir=PATH_BASE,
            need_fastq=COUNTS_MATRIX is None,
            protocols=PROTOCOLS,
        )
    )
    # Small-RNA biotypes checked after miRNAs (exomir/biotypes.py): source FASTA per
    # biotype in priority order; empty for species without bundled or given references.
    BIOTYPE_REFERENCES = (
        {}
        if GEO_SHEET_ONLY or COUNTS_MATRIX is not None
        else resolve_references(
            CONFIG["biotypes"],
            CONFIG["species"],
            bundled_dir=REPO / "resources" / "smallrna",
            base_dir=PATH_BASE,
            source=f"config {CONFIG_SOURCE}",
        )
    )
except ExomirError as error:
    raise WorkflowError(str(error)) from None

BIOTYPES = list(BIOTYPE_REFERENCES)
BIOTYPE_PATTERN = "|".join(re.escape(name) for name in BIOTYPES) or "(?!)"
# With biotypes, the fate table splits `unassigned` into them (rule classify_biotypes).
FATES_FILE = "fates_biotypes.tsv" if BIOTYPES else "fates.tsv"
# bowtie -v per biotype, e.g. "rRNA=1,tRNA=2"; unlisted biotypes use alignment.mismatches.
BIOTYPE_MISMATCHES = ",".join(
    f"{name}={CONFIG['biotypes']['mismatches'].get(name, CONFIG['alignment']['mismatches'])}"
    for name in BIOTYPES
)

SAMPLES = {} if GEO_SHEET_ONLY else SHEET.by_name()
SAMPLE_NAMES = [] if GEO_SHEET_ONLY else SHEET.names
# Samples given as run accessions (GEO reanalysis) get their FASTQ from rule fetch_fastq.
RUNS = {name: s.runs for name, s in SAMPLES.items() if s.runs and not s.fastq}


wildcard_constraints:
    sample=r"[A-Za-z0-9][A-Za-z0-9._-]*",


def quoted_json(value):
    """A config fragment as one shell-quoted JSON argument (rules pass specs this way)."""
    return shlex.quote(json.dumps(value, sort_keys=True))


def get_fastq(wildcards):
    if wildcards.sample in RUNS:
        return [f"results/fastq/{wildcards.sample}.fastq.gz"]
    return [str(p) for p in SAMPLES[wildcards.sample].fastq]


def get_protocol(wildcards):
    return SAMPLES[wildcards.sample].protocol or CONFIG["protocol"]


def get_adapter_option(wildcards):
    adapter = SAMPLES[wildcards.sample].adapter or CONFIG["adapter"]
    return f"--adapter {adapter}" if adapter else ""


def bundled(path):
    return str(REPO / path)


def reference_inputs(wildcards=None):
    """mature/hairpin (and GFF3) files the reference is built from, by reference.source."""
    reference = CONFIG["reference"]
    species = CONFIG["species"]
    if reference["source"] == "bundled":
        inputs = {
            "mature": bundled("resources/mirbase/mature.fa.gz"),
            "hairpin": bundled("resources/mirbase/hairpin.fa.gz"),
        }
        gff3 = REPO / "resources" / "mirbase" / f"{species}.gff3.gz"
        if reference["use_gff3"] and gff3.exists():
            inputs["gff3"] = str(gff3)
        return inputs
    if reference["source"] == "local":
        inputs = {
            "mature": str(resolve_path(reference["mature"], PATH_BASE)),
            "hairpin": str(resolve_path(reference["hairpin"], PATH_BASE)),
        }
        if reference["use_gff3"]:
            inputs["gff3"] = str(resolve_path(reference["gff3"], PATH_BASE))
        return inputs
    inputs = {
        "mature": "results/reference/download/mature.fa",
        "hairpin": "results/reference/download/hairpin.fa",
    }
    if reference["use_gff3"]:
        inputs["gff3"] = f"results/reference/download/{species}.gff3"
    return inputs


def download_url(wildcards):
    base = CONFIG["reference"]["base_url"]
    if not base.endswith("/"):
        base = f"{base}/"
    return urljoin(base, wildcards.file)


def download_md5_option(wildcards):
    md5 = CONFIG["reference"]["md5"].get(wildcards.file)
    return f"--md5 {md5}" if md5 else ""


def spikein_options():
    if not CONFIG["spikeins"]:
        return "--no-spikeins"
    return " ".join(f"--spikein {shlex.quote(s)}" for s in CONFIG["spikeins"])


def spikein_fasta_option(wildcards=None):
    if CONFIG["spikein_fasta"]:
        path = resolve_path(CONFIG["spikein_fasta"], PATH_BASE)
        return f"--spikein-fasta {shlex.quote(str(path))}"
    return ""


def per_sample(pattern):
    return expand(pattern, sample=SAMPLE_NAMES)


BOWTIE_INDEX_SUFFIXES = (
    ".1.ebwt",
    ".2.ebwt",
    ".3.ebwt",
    ".4.ebwt",
    ".rev.1.ebwt",
    ".rev.2.ebwt",
)
# Per-sample rules depend on one file of each index: the index rule makes all six in one
# job, and listing six inputs per index per sample slows DAG building for large cohorts.
BOWTIE_INDEX = BOWTIE_INDEX_SUFFIXES[0]


def get_final_output():
    if GEO_SHEET_ONLY:
        return ["results/geo/samples.tsv"]
    outputs = []
    if COUNTS_MATRIX is None:
        outputs += [
            "results/counts/mature_counts.tsv",
            "results/counts/mature_cpm.tsv",
            "results/counts/hairpin_counts.tsv",
            "results/counts/spikein_counts.tsv",
            "results/counts/isomir_counts.tsv",
            "results/qc/read_fates.tsv",
        ]
        if BIOTYPES:
            outputs.append("results/counts/biotype_counts.tsv")
        outputs += per_sample("results/align/{sample}/hairpin.bam.bai")
    if COUNTS_MATRIX is None or CONTRAST_NAMES:
        outputs.append("results/multiqc/multiqc_report.html")
    outputs.append("results/provenance.yaml")
    outputs += de_outputs()
    return outputs


def provenance_inputs(wildcards):
    if COUNTS_MATRIX is not None:
        return [str(COUNTS_MATRIX)]
    return ["results/reference/reference.json"] + per_sample(
        "results/trimmed/{sample}/protocol.json"
    )


def provenance_options(wildcards):
    if COUNTS_MATRIX is not None:
        return f"--counts-matrix {shlex.quote(str(COUNTS_MATRIX))}"
    return (
        "--reference-json results/reference/reference.json"
        " --protocol-template 'results/trimmed/{sample}/protocol.json'"
    )


def multiqc_read_inputs(wildcards):
    if COUNTS_MATRIX is not None:
        return []
    return ["results/qc/multiqc"] + per_sample("logs/align/{sample}.hairpin.log")


def report_overview_inputs(wildcards):
    """The report's warnings and methods read provenance, the gate and each contrast."""
    return {
        "provenance": "results/provenance.yaml",
        "summaries": expand("results/de/{c}.json", c=CONTRAST_NAMES),
        "quality": quality_gate_input(wildcards),
    }


def multiqc_search_dirs(wildcards):
    dirs = [] if COUNTS_MATRIX is not None else ["results/qc/multiqc", "logs/align"]
    if CONTRAST_NAMES:
        dirs.append("results/de/multiqc")
    return " ".join(dirs)


# --- differential expression -------------------------------------------------------
DE_KEYS = (
    "design",
    "contrasts",
    "continuous_covariates",
    "alpha",
    "lfc_shrink",
    "normalization",
    "watchlist",
    "quality_gate",
)
DE_SPEC = {key: CONFIG[key] for key in DE_KEYS}
# pydeseq2's peak memory grows with the cohort: 0.5 GB at 1,000 samples and 3.4 GB at 10,000
# (3,000 miRNAs, tests/bench/scale.py), ~0.35 MB a sample; asked for with headroom, doubled
# on a retry.
DE_MEM_MB = max(4000, 1000 + len(SAMPLE_NAMES) // 2)


def de_mem_mb(wildcards, attempt):
    return DE_MEM_MB * attempt


CONTRAST_NAMES = list(CONFIG["contrasts"])
CONTRAST_PATTERN = "|".join(re.escape(name) for name in CONTRAST_NAMES) or "(?!)"

if CONTRAST_NAMES and not GEO_SHEET_ONLY:
    try:
        validate_de_config(
            CONFIG,
            pd.DataFrame(
                [{"sample": s.name, **s.metadata} for s in SHEET.samples], dtype=str
            ),
            str(SHEET_PATH),
        )
    except ExomirError as error:
        raise WorkflowError(str(error)) from None


def de_count_inputs(wildcards):
    inputs = {"counts": str(COUNTS_MATRIX or "results/counts/mature_counts.tsv")}
    if CONFIG["normalization"]["method"] == "spikein":
        if COUNTS_MATRIX is None:
            inputs["spikeins"] = "results/counts/spikein_counts.tsv"
        elif CONFIG["spikein_counts_matrix"]:
            inputs["spikeins"] = str(
                resolve_path(CONFIG["spikein_counts_matrix"], PATH_BASE)
            )
    return inputs


def quality_gate_input(wildcards):
    # A user count matrix has no read fates, so no quality gate.
    return [] if COUNTS_MATRIX is not None else ["results/qc/ev_quality.tsv"]


def de_outputs():
    if not CONTRAST_NAMES:
        return []
    outputs = [
        "results/de/size_factors.tsv",
        "results/de/normalized_counts.tsv",
        "results/de/watchlist.tsv",
        "results/de/summary.tsv",
    ]
    outputs += expand("results/de/{contrast}.tsv", contrast=CONTRAST_NAMES)
    return outputs


def multiqc_de_inputs(wildcards):
    if not CONTRAST_NAMES:
        return []
    inputs = [
        "results/de/multiqc/pca_mqc.json",
        "results/de/multiqc/sample_correlation_mqc.json",
        "results/de/multiqc/de_summary_mqc.tsv",
    ]
    inputs += expand(
        "results/de/multiqc/de_{c}{part}",
        c=CONTRAST_NAMES,
        part=["_mqc.tsv", "_volcano_mqc.json", "_ma_mqc.json", "_heatmap_mqc.json"],
    )
    inputs += expand("results/de/multiqc/watchlist_{c}_mqc.tsv", c=CONTRAST_NAMES)
    if COUNTS_MATRIX is None:
        inputs.append("results/de/multiqc/ev_quality_mqc.tsv")
    return inputs
