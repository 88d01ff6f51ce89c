# From DE miRNAs to pathways (target genes tested in gene sets) and to published findings
# (does each contrast agree with the literature comparison it names). Logic: exomir/
# enrichment.py and literature.py; inputs (bundled or the user's) are resolved at load.
from exomir.enrichment_sources import enrichment_inputs, literature_table_path
from exomir.literature import check_comparisons, read_findings

try:
    ENRICHMENT_INPUTS = enrichment_inputs(CONFIG, REPO / "resources", PATH_BASE)
    LITERATURE_TABLE = literature_table_path(CONFIG, REPO / "resources", PATH_BASE)
    LITERATURE_OF = {
        name: spec["literature"]
        for name, spec in CONFIG["contrasts"].items()
        if spec.get("literature")
    }
    if LITERATURE_OF and not GEO_SHEET_ONLY:
        check_comparisons(
            read_findings(LITERATURE_TABLE), LITERATURE_OF, str(LITERATURE_TABLE)
        )
except ExomirError as error:
    raise WorkflowError(str(error)) from None

ENRICHMENT_SPEC = {"alpha": CONFIG["alpha"], "enrichment": CONFIG["enrichment"]}
LITERATURE_PATTERN = "|".join(re.escape(name) for name in LITERATURE_OF) or "(?!)"


def enrichment_files(wildcards=None):
    """Target table and GMT files the enrichment reads (none when it is skipped)."""
    if ENRICHMENT_INPUTS.skip_reason:
        return {}
    return {
        "targets": str(ENRICHMENT_INPUTS.targets),
        "genesets": [str(p) for p in ENRICHMENT_INPUTS.genesets],
    }


def enrichment_outputs():
    if not CONTRAST_NAMES or GEO_SHEET_ONLY:
        return []
    outputs = expand("results/enrichment/{contrast}.tsv", contrast=CONTRAST_NAMES)
    outputs += expand("results/literature/{contrast}.tsv", contrast=list(LITERATURE_OF))
    return outputs


def enrichment_multiqc_inputs(wildcards):
    if not CONTRAST_NAMES:
        return []
    inputs = expand(
        "results/enrichment/multiqc/{c}_enrichment_mqc.yaml", c=CONTRAST_NAMES
    )
    inputs += expand(
        "results/literature/multiqc/{c}_literature_mqc.tsv", c=list(LITERATURE_OF)
    )
    return inputs


def enrichment_search_dirs():
    if not CONTRAST_NAMES:
        return []
    dirs = ["results/enrichment/multiqc"]
    if LITERATURE_OF:
        dirs.append("results/literature/multiqc")
    return dirs


def enrichment_provenance_inputs(wildcards):
    """Files provenance records checksums of (enrichment and literature inputs)."""
    if not CONTRAST_NAMES:
        return {}
    files = enrichment_files()
    if LITERATURE_OF:
        files["literature"] = str(LITERATURE_TABLE)
    return files


def enrichment_provenance_options(wildcards, input):
    options = []
    if "targets" in input.keys():
        options.append(f"--targets {shlex.quote(input.targets)}")
        options.append("--genesets " + " ".join(shlex.quote(p) for p in input.genesets))
    if "literature" in input.keys():
        options.append(f"--literature-table {shlex.quote(input.literature)}")
    return " ".join(options)


rule enrichment:
    input:
        unpack(enrichment_files),
        table="results/de/{contrast}.tsv",
    output:
        table="results/enrichment/{contrast}.tsv",
        summary="results/enrichment/{contrast}.json",
        multiqc="results/enrichment/multiqc/{contrast}_enrichment_mqc.yaml",
    log:
        "logs/enrichment/{contrast}.log",
    wildcard_constraints:
        contrast=CONTRAST_PATTERN,
    conda:
        "../../envs/de.yaml"
    params:
        spec=quoted_json(ENRICHMENT_SPEC),
        sources=lambda wildcards, input: (
            f"--targets {shlex.quote(input.targets)} --genesets "
            + " ".join(shlex.quote(p) for p in input.genesets)
            if "targets" in input.keys()
            else f"--skip-reason {shlex.quote(ENRICHMENT_INPUTS.skip_reason)}"
        ),
    shell:
        "exomir enrich --name {wildcards.contrast} --de-table {input.table:q}"
        " {params.sources} --spec {params.spec} --out {output.table:q}"
        " --summary {output.summary:q} --multiqc {output.multiqc:q} 2> {log:q}"


rule literature:
    input:
        table="results/de/{contrast}.tsv",
        findings=str(LITERATURE_TABLE),
    output:
        table="results/literature/{contrast}.tsv",
        summary="results/literature/{contrast}.json",
        multiqc="results/literature/multiqc/{contrast}_literature_mqc.tsv",
    log:
        "logs/literature/{contrast}.log",
    wildcard_constraints:
        contrast=LITERATURE_PATTERN,
    conda:
        "../../envs/de.yaml"
    params:
        comparison=lambda wildcards: LITERATURE_OF[wildcards.contrast],
        alpha=CONFIG["alpha"],
    shell:
        "exomir literature --name {wildcards.contrast} --de-table {input.table:q}"
        " --findings {input.findings:q} --comparison {params.comparison:q}"
        " --alpha {params.alpha} --out {output.table:q} --summary {output.summary:q}"
        " --multiqc {output.multiqc:q} 2> {log:q}"
