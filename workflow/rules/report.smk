# Run-level outputs: provenance (what made the numbers, what they mean) and the MultiQC
# report (tool modules plus exomir's read-weighted sections and, with contrasts, DE).


rule provenance:
    input:
        provenance_inputs,
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
    shell:
        "exomir provenance --config-json {params.config} --sample-sheet {params.sheet:q}"
        " {params.options} --out {output:q} 2> {log:q}"


rule report_content:
    input:
        fates="results/qc/read_fates.tsv",
        protocols=per_sample("results/trimmed/{sample}/protocol.json"),
        stats=per_sample("results/trimmed/{sample}/trim_stats.json"),
        mature="results/counts/mature_counts.tsv",
        spikeins="results/counts/spikein_counts.tsv",
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
        " --mature-counts {input.mature:q} --spikein-counts {input.spikeins:q}"
        " --outdir {output:q} 2> {log:q}"


rule report_overview:
    input:
        unpack(report_overview_inputs),
    output:
        warnings="results/report/warnings_mqc.json",
        methods="results/report/methods_mqc.json",
        order="results/report/multiqc_order.yaml",
    log:
        "logs/report/report_overview.log",
    conda:
        "../../envs/report.yaml"
    params:
        sheet=SHEET_PATH,
        quality=lambda wildcards, input: " ".join(
            f"--quality {shlex.quote(path)}" for path in input.quality
        ),
        summaries=lambda wildcards, input: " ".join(
            f"--contrast-summary {shlex.quote(path)}" for path in input.summaries
        ),
    shell:
        "exomir report-overview --provenance {input.provenance:q}"
        " --sample-sheet {params.sheet:q} {params.quality} {params.summaries}"
        " --warnings-out {output.warnings:q} --methods-out {output.methods:q}"
        " --order-out {output.order:q} 2> {log:q}"


rule multiqc:
    input:
        reads=multiqc_read_inputs,
        de=multiqc_de_inputs,
        warnings=rules.report_overview.output.warnings,
        methods=rules.report_overview.output.methods,
        order=rules.report_overview.output.order,
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
        "multiqc --force --no-data-dir --config {input.config:q} --config {input.order:q}"
        " --outdir results/multiqc --filename multiqc_report.html {params.search}"
        " {input.warnings:q} {input.methods:q}"
        " > {log:q} 2>&1"
