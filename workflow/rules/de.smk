# Differential expression (pydeseq2): the EV quality gate, size factors and VST once, then
# one job per contrast from config, then the watch list and summary across contrasts.
# Counts come from the pipeline, or from a user's matrix (config counts_matrix).


rule quality_gate:
    input:
        "results/qc/read_fates.tsv",
    output:
        table="results/qc/ev_quality.tsv",
        multiqc="results/de/multiqc/ev_quality_mqc.tsv",
    log:
        "logs/de/quality_gate.log",
    conda:
        "../../envs/de.yaml"
    params:
        spec=quoted_json(DE_SPEC),
    shell:
        "exomir quality-gate --read-fates {input:q} --spec {params.spec}"
        " --out {output.table:q} --multiqc {output.multiqc:q} 2> {log:q}"


rule de_normalize:
    input:
        unpack(de_count_inputs),
    output:
        size_factors="results/de/size_factors.tsv",
        normalized="results/de/normalized_counts.tsv",
        vst="results/de/vst_counts.tsv",
        top=multiext("results/de/plots/top_abundance", ".png", ".svg"),
        pca="results/de/multiqc/pca_mqc.json",
        correlation="results/de/multiqc/sample_correlation_mqc.json",
    log:
        "logs/de/normalize.log",
    conda:
        "../../envs/de.yaml"
    # pydeseq2's n_cpus: worker processes over miRNAs. With ~3,000 miRNAs each worker gets
    # little to do: on 2 cores, 1,000 samples took 21 s with 1 and 28 s with 2 (and 30 vs
    # 33 s for a contrast, tests/bench/scale.py). Raise with --set-threads on big nodes.
    threads: 1
    resources:
        mem_mb=de_mem_mb,
    params:
        spec=quoted_json(DE_SPEC),
        sheet=SHEET_PATH,
        spikeins=lambda wildcards, input: (
            f"--spikein-counts {shlex.quote(input.spikeins)}"
            if "spikeins" in input.keys()
            else ""
        ),
    shell:
        "exomir de-normalize --counts {input.counts:q} --samples {params.sheet:q}"
        " --spec {params.spec} {params.spikeins} --outdir results/de --threads {threads}"
        " 2> {log:q}"


rule de_contrast:
    input:
        unpack(de_count_inputs),
        size_factors="results/de/size_factors.tsv",
        quality=quality_gate_input,
    output:
        table="results/de/{contrast}.tsv",
        summary="results/de/{contrast}.json",
        plots=multiext(
            "results/de/plots/{contrast}",
            "_volcano.png",
            "_volcano.svg",
            "_ma.png",
            "_ma.svg",
            "_heatmap.png",
            "_heatmap.svg",
        ),
        multiqc=multiext(
            "results/de/multiqc/de_{contrast}",
            "_mqc.tsv",
            "_volcano_mqc.json",
            "_ma_mqc.json",
            "_heatmap_mqc.json",
        ),
    log:
        "logs/de/{contrast}.log",
    wildcard_constraints:
        contrast=CONTRAST_PATTERN,
    conda:
        "../../envs/de.yaml"
    threads: 1  # see de_normalize
    resources:
        mem_mb=de_mem_mb,
    params:
        spec=quoted_json(DE_SPEC),
        sheet=SHEET_PATH,
        quality=lambda wildcards, input: " ".join(
            f"--quality {shlex.quote(path)}" for path in input.quality
        ),
    shell:
        "exomir de-contrast --name {wildcards.contrast} --counts {input.counts:q}"
        " --samples {params.sheet:q} --spec {params.spec}"
        " --size-factors {input.size_factors:q} {params.quality}"
        " --outdir results/de --threads {threads} 2> {log:q}"


rule de_summary:
    input:
        expand("results/de/{contrast}.tsv", contrast=CONTRAST_NAMES),
    output:
        watchlist="results/de/watchlist.tsv",
        summary="results/de/summary.tsv",
        multiqc=[
            "results/de/multiqc/de_summary_mqc.tsv",
            *expand("results/de/multiqc/watchlist_{c}_mqc.tsv", c=CONTRAST_NAMES),
        ],
    log:
        "logs/de/summary.log",
    conda:
        "../../envs/de.yaml"
    params:
        spec=quoted_json(DE_SPEC),
    shell:
        "exomir de-summary --tables {input:q} --spec {params.spec} --outdir results/de"
        " 2> {log:q}"
