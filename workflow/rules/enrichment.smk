# From DE miRNAs to pathways (their target genes tested in gene sets) and to published
# findings (does each contrast agree with the literature comparison it names); one job per
# contrast each. Inputs: workflow/rules/enrichment_common.smk; logic: exomir/enrichment.py,
# exomir/literature.py.


rule enrichment:
    input:
        unpack(enrichment_files),
        table="results/de/{contrast}.tsv",
        config=run_file("config/enrichment.json"),
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
        sources=lambda wildcards, input: (
            f"--targets {shlex.quote(input.targets)} --genesets "
            + " ".join(shlex.quote(p) for p in input.genesets)
            if "targets" in input.keys()
            else f"--skip-reason {shlex.quote(ENRICHMENT_INPUTS.skip_reason)}"
        ),
    shell:
        "exomir enrich --name {wildcards.contrast} --de-table {input.table:q}"
        " {params.sources} --config {input.config:q} --out {output.table:q}"
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
