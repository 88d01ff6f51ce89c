# The only place that reads config and the sample sheet. Everything is validated here, at
# load time, so a bad sheet or config fails before any job runs, with one line naming the
# file, row/key and problem. Rules get their inputs from the small functions below; what a
# rule needs of the sheet or config reaches it as a file of its own (rules/run.smk), so that
# an edit re-runs exactly what it affects.
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
from exomir.contrasts import pca_columns, validate_de_config
from exomir.cores import per_sample_threads
from exomir.errors import ExomirError
from exomir.runfiles import json_content, metadata_content
from exomir.reference import spikeins_expected
from exomir.samplesheet import read_sample_sheet


envvars:
    "PATH",


# Rules call `exomir`, `multiqc`, `bowtie`...: put this interpreter's bin directory (the
# .venv) first on PATH, so `.venv/bin/snakemake` works without activating the venv, and
# cluster jobs, which re-run this file, find the same tools. Not with --sdm conda: there
# each rule's env (envs/) must provide its tools, never the venv behind it.
if not any(
    method.name == "CONDA" for method in workflow.deployment_settings.deployment_method
):
    os.environ["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), os.environ["PATH"]]
    )
# envs/*.post-deploy.sh install the exomir package of this workflow's source into each env.
os.environ.update(EXOMIR_SOURCE=str(REPO))

# The bundled demo config (workflow/Snakefile) has relative paths into the repository. A
# user's config, or a host workflow's, resolves them against the working directory. User
# paths become absolute, so a module `prefix` (which applies to relative paths) leaves them.
if USING_BUNDLED_CONFIG:
    CONFIG_SOURCE = str(REPO / "config" / "config.yaml")
elif workflow.config_settings.configfiles:
    CONFIG_SOURCE = ", ".join(str(p) for p in workflow.config_settings.configfiles)
else:
    CONFIG_SOURCE = "(given by the workflow that uses exomir as a module)"
PATH_BASE = REPO if USING_BUNDLED_CONFIG else Path.cwd().resolve()

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


def granted_cores():
    try:
        return workflow.cores
    except (WorkflowError, KeyError, AttributeError):  # not given (cluster executors)
        return None


# Threads of the per-sample trim job: 2 when the run has fewer samples than cores.
PER_SAMPLE_THREADS = per_sample_threads(granted_cores(), len(SAMPLE_NAMES))


wildcard_constraints:
    sample=r"[A-Za-z0-9][A-Za-z0-9._-]*",


def run_file(name):
    """Path of a run file (rules/run.smk): what a rule needs of the config or the sheet."""
    return f"results/run/{name}"


def sample_list(table):
    """Path of a sample list (rules/run.smk): `sample<TAB>path` of a merge's inputs."""
    return f"results/run/samples/{table}.tsv"


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
    """A file shipped with the workflow (resources/...), wherever it is deployed."""
    return str(REPO / path)


MULTIQC_CONFIG = bundled("resources/multiqc_config.yaml")


def reference_inputs(wildcards=None):
    """mature/hairpin (and GFF3) files the reference is built from, by reference.source."""
    reference = CONFIG["reference"]
    species = CONFIG["species"]
    if reference["source"] == "bundled":
        inputs = {
            "mature": bundled("resources/mirbase/mature.fa.gz"),
            "hairpin": bundled("resources/mirbase/hairpin.fa.gz"),
        }
        gff3 = REPO / "resources" / "mirbase" / f"{species.lower()}.gff3.gz"
        if reference["use_gff3"] and gff3.exists():
            inputs["gff3"] = str(gff3)
        return inputs
    if reference["source"] == "local":
        # no mature file: a hairpin-only reference (arms placed from each hairpin's fold)
        inputs = {"hairpin": str(resolve_path(reference["hairpin"], PATH_BASE))}
        if reference["mature"]:
            inputs["mature"] = str(resolve_path(reference["mature"], PATH_BASE))
        if reference["use_gff3"]:
            inputs["gff3"] = str(resolve_path(reference["gff3"], PATH_BASE))
        return inputs
    inputs = {
        "mature": "results/reference/download/mature.fa",
        "hairpin": "results/reference/download/hairpin.fa",
    }
    if reference["use_gff3"]:
        inputs["gff3"] = f"results/reference/download/{species.lower()}.gff3"
    return inputs


def download_url(wildcards):
    base = CONFIG["reference"]["base_url"]
    if not base.endswith("/"):
        base = f"{base}/"
    return urljoin(base, wildcards.file)


def download_md5_option(wildcards):
    md5 = CONFIG["reference"]["md5"].get(wildcards.file)
    return f"--md5 {md5}" if md5 else ""


# Spike-ins the user listed must exist; the schema's default ones are used where the
# reference has them (build-reference warns about the others).
SPIKEINS_LISTED = "spikeins" in config


def spikein_options():
    if not SPIKEINS_LISTED:
        return ""
    if not CONFIG["spikeins"]:
        return "--no-spikeins"
    return " ".join(f"--spikein {shlex.quote(s)}" for s in CONFIG["spikeins"])


# No spike-ins (`spikeins: []`, or a reference without the default ones): no spike-in
# index and no spike-in stage; spikein.bam is written empty and counts have no rows.
try:
    HAS_SPIKEINS = COUNTS_MATRIX is None and spikeins_expected(
        CONFIG["spikeins"] if SPIKEINS_LISTED else None,
        reference_inputs().get("mature"),
        (
            resolve_path(CONFIG["spikein_fasta"], PATH_BASE)
            if CONFIG["spikein_fasta"]
            else None
        ),
    )
except ExomirError as error:
    raise WorkflowError(str(error)) from None


def build_reference_inputs(wildcards):
    """reference_inputs plus the user's spike-in FASTA, if any."""
    inputs = reference_inputs(wildcards)
    if CONFIG["spikein_fasta"]:
        inputs["spikein_fasta"] = str(resolve_path(CONFIG["spikein_fasta"], PATH_BASE))
    return inputs


def optional_input(flag, name):
    """`--flag path` for an optional named input, else nothing (a params function)."""

    def option(wildcards, input):
        return (
            f"{flag} {shlex.quote(getattr(input, name))}"
            if name in input.keys()
            else ""
        )

    return option


mature_option = optional_input("--mature", "mature")


def index_prefix(name):
    """A bowtie index's prefix from the one index file a rule takes as input."""

    def prefix(wildcards, input):
        return getattr(input, name)[: -len(BOWTIE_INDEX)]

    return prefix


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
            "results/isomirs/isomirs.gff",
            "results/qc/read_fates.tsv",
        ]
        if BIOTYPES:
            outputs.append("results/counts/biotype_counts.tsv")
        outputs += per_sample("results/align/{sample}/hairpin.bam.bai")
    if COUNTS_MATRIX is None or CONTRAST_NAMES:
        outputs.append("results/multiqc/multiqc_report.html")
    outputs.append("results/provenance.yaml")
    outputs += de_outputs()
    outputs += enrichment_outputs()  # workflow/rules/enrichment.smk
    return outputs


def provenance_inputs(wildcards):
    inputs = {"config": run_file("config/run.json")}
    if SHEET_PATH is not None:
        inputs["sheet"] = str(SHEET_PATH)
    if COUNTS_MATRIX is not None:
        inputs["counts_matrix"] = str(COUNTS_MATRIX)
    else:
        inputs["reference"] = "results/reference/reference.json"
        inputs["protocols"] = sample_list("protocols")
    return inputs


def multiqc_inputs(wildcards):
    """Everything MultiQC reads: exomir's sections, bowtie's hairpin logs, DE sections."""
    inputs = []
    if COUNTS_MATRIX is None:
        inputs += ["results/qc/multiqc", "results/isomirs/isomirs_mirtop_stats.log"]
        if BIOTYPES:
            inputs.append("results/qc/lengths_by_fate/insert_lengths_by_fate_mqc.json")
        inputs += per_sample("logs/align/{sample}.hairpin.log")
    if CONTRAST_NAMES or COUNTS_MATRIX is None:
        inputs += [
            "results/report/warnings_mqc.json",
            "results/report/methods_mqc.json",
        ]
    inputs += multiqc_de_inputs(wildcards)
    return inputs + enrichment_multiqc_inputs(wildcards)  # rules/enrichment_common.smk


def report_overview_inputs(wildcards):
    """The report's warnings and methods read provenance, the gate and each contrast."""
    return {
        "provenance": "results/provenance.yaml",
        "samples": run_file("samples/metadata.tsv"),
        "summaries": expand("results/de/{c}.json", c=CONTRAST_NAMES),
        "quality": quality_gate_input(wildcards),
    }


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
# What de-normalize reads: the normalisation and the contrasts' variables (PCA colours).
NORMALIZATION_SPEC = {key: CONFIG[key] for key in ("normalization", "contrasts")}
# pydeseq2's peak memory grows with the cohort: 0.5 GB at 1,000 samples and 3.4 GB at 10,000
# (3,000 miRNAs, tests/bench/scale.py), ~0.35 MB a sample; asked for with headroom, doubled
# on a retry.
DE_MEM_MB = max(4000, 1000 + len(SAMPLE_NAMES) // 2)


def de_mem_mb(wildcards, attempt):
    return DE_MEM_MB * attempt


CONTRAST_NAMES = list(CONFIG["contrasts"])
# Sheet columns PCA plots are coloured by (each a declared output of de_normalize).
PCA_COLUMNS = [] if GEO_SHEET_ONLY else pca_columns(CONFIG, SHEET.columns)
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


# --- run files and sample lists (rules/run.smk) ---------------------------------------
# Sheet columns that are not sample metadata: they say where reads are and how to trim them
# (`protocol` stays: the report checks contrasts against it; a changed protocol re-runs
# everything downstream of trimming anyway).
READ_COLUMNS = ("sample", "fastq", "runs", "adapter")


def sample_metadata_content():
    if GEO_SHEET_ONLY:
        return ""
    columns = [c for c in SHEET.columns if c not in READ_COLUMNS]
    rows = [{"sample": s.name, **s.metadata} for s in SHEET.samples]
    return metadata_content(rows, columns)


RUN_FILES = {
    "config/run.json": json_content(CONFIG),
    "config/quality_gate.json": json_content({"quality_gate": CONFIG["quality_gate"]}),
    "config/normalization.json": json_content(NORMALIZATION_SPEC),
    "config/de.json": json_content(DE_SPEC),
    "config/enrichment.json": json_content(
        {"alpha": CONFIG["alpha"], "enrichment": CONFIG["enrichment"]}
    ),
    "samples/metadata.tsv": sample_metadata_content(),
}

# Per-sample files of each merge, by table name: {sample} is filled per sample.
SAMPLE_LISTS = {
    "mature": "results/counts/per_sample/{sample}/mature.tsv",
    "hairpin": "results/counts/per_sample/{sample}/hairpin.tsv",
    "spikein": "results/counts/per_sample/{sample}/spikein.tsv",
    "isomirs": "results/counts/per_sample/{sample}/isomirs.tsv",
    "fates": f"results/counts/per_sample/{{sample}}/{FATES_FILE}",
    "biotypes": "results/counts/per_sample/{sample}/biotypes.tsv",
    "lengths_by_fate": "results/counts/per_sample/{sample}/insert_lengths_by_fate.tsv",
    "protocols": "results/trimmed/{sample}/protocol.json",
    "trim_stats": "results/trimmed/{sample}/trim_stats.json",
}
