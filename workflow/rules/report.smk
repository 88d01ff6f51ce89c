# Run-level outputs: provenance (what made the numbers, what they mean) and the MultiQC
# report (tool modules plus exomir's read-weighted sections and, with contrasts, DE).


rule provenance:
    input:
        unpack(provenance_inputs),
        unpack(enrichment_provenance_inputs),
    output:
        "results/provenance.yaml",
    log:
        "logs/provenance.log",
    conda:
        "../../envs/report.yaml"
    params:
        sheet=optional_input("--sample-sheet", "sheet"),
        reference=optional_input("--reference-json", "reference"),
        protocols=optional_input("--protocols", "protocols"),
        counts_matrix=optional_input("--counts-matrix", "counts_matrix"),
        enrichment=enrichment_provenance_options,
    shell:
        "exomir provenance --config {input.config:q} {params.sheet} {params.reference}"
        " {params.protocols} {params.counts_matrix} {params.enrichment}"
        " --out {output:q} 2> {log:q}"


rule report_content:
    input:
        fates="results/qc/read_fates.tsv",
        protocols=sample_list("protocols"),
        stats=sample_list("trim_stats"),
        mature="results/counts/mature_counts.tsv",
        spikeins="results/counts/spikein_counts.tsv",
    output:
        directory("results/qc/multiqc"),
    log:
        "logs/report/report_content.log",
    conda:
        "../../envs/report.yaml"
    shell:
        "exomir report-content --read-fates {input.fates:q} --protocols {input.protocols:q}"
        " --trim-stats {input.stats:q} --mature-counts {input.mature:q}"
        " --spikein-counts {input.spikeins:q} --outdir {output:q} 2> {log:q}"


rule multiqc_inputs:
    input:
        multiqc_inputs,
    output:
        "results/run/multiqc_inputs.txt",
    log:
        "logs/report/multiqc_inputs.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/write_path_list.py"


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
        "../../envs/de.yaml"
    params:
        quality=lambda wildcards, input: " ".join(
            f"--quality {shlex.quote(path)}" for path in input.quality
        ),
        summaries=lambda wildcards, input: " ".join(
            f"--contrast-summary {shlex.quote(path)}" for path in input.summaries
        ),
    shell:
        "exomir report-overview --provenance {input.provenance:q}"
        " --sample-sheet {input.samples:q} {params.quality} {params.summaries}"
        " --warnings-out {output.warnings:q} --methods-out {output.methods:q}"
        " --order-out {output.order:q} 2> {log:q}"


rule multiqc:
    input:
        paths="results/run/multiqc_inputs.txt",
        files=multiqc_inputs,
        order=rules.report_overview.output.order,
        config=MULTIQC_CONFIG,
    output:
        "results/multiqc/multiqc_report.html",
    log:
        "logs/report/multiqc.log",
    conda:
        "../../envs/report.yaml"
    params:
        outdir=lambda wildcards, output: os.path.dirname(output[0]),
        filename=lambda wildcards, output: os.path.basename(output[0]),
    shell:
        "multiqc --force --no-data-dir --config {input.config:q} --config {input.order:q}"
        " --outdir {params.outdir:q} --filename {params.filename:q}"
        " --file-list {input.paths:q} > {log:q} 2>&1"
