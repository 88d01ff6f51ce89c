# Run-level outputs: provenance (what made the numbers, what they mean) and the MultiQC
# report (tool modules plus exomir's read-weighted sections and, with contrasts, DE).


rule provenance:
    input:
        provenance_inputs,
        unpack(enrichment_provenance_inputs),
    output:
        "results/provenance.yaml",
    log:
        "logs/provenance.log",
    conda:
        "../../envs/report.yaml"
    params:
        config=quoted_json(CONFIG),
        sheet=SHEET_PATH,
        options=provenance_options,
        enrichment=enrichment_provenance_options,
    shell:
        "exomir provenance --config-json {params.config} --sample-sheet {params.sheet:q}"
        " {params.options} {params.enrichment} --out {output:q} 2> {log:q}"


rule report_content:
    input:
        fates="results/qc/read_fates.tsv",
        protocols=per_sample("results/trimmed/{sample}/protocol.json"),
        stats=per_sample("results/trimmed/{sample}/trim_stats.json"),
    output:
        directory("results/qc/multiqc"),
    log:
        "logs/report/report_content.log",
    conda:
        "../../envs/report.yaml"
    params:
        sheet=SHEET_PATH,
    shell:
        "exomir report-content --read-fates {input.fates:q} --sample-sheet {params.sheet:q}"
        " --outdir {output:q} 2> {log:q}"


rule multiqc:
    input:
        reads=multiqc_read_inputs,
        de=multiqc_de_inputs,
        enrichment=enrichment_multiqc_inputs,
        config=bundled("resources/multiqc_config.yaml"),
    output:
        "results/multiqc/multiqc_report.html",
    log:
        "logs/report/multiqc.log",
    conda:
        "../../envs/report.yaml"
    params:
        search=multiqc_search_dirs,
    shell:
        "multiqc --force --no-data-dir --config {input.config:q} --outdir results/multiqc"
        " --filename multiqc_report.html {params.search} > {log:q} 2>&1"
