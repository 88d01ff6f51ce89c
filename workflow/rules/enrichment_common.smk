# Inputs of the enrichment and literature rules (workflow/rules/enrichment.smk), resolved
# at load: the target table, gene sets and literature table (bundled or the user's), which
# contrasts name a literature comparison (checked to exist), and the report / provenance
# hooks. Logic: exomir/enrichment_sources.py, exomir/literature.py.
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
