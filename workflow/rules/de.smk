# Differential expression (pydeseq2): the EV quality gate, size factors and VST once, then
# one job per contrast from config, then the watch list and summary across contrasts.
# Counts come from the pipeline, or from a user's matrix (config counts_matrix). What each
# step reads of the config and sheet comes as run files (rules/run.smk).


rule quality_gate:
    input:
        fates="results/qc/read_fates.tsv",
        config=run_file("config/quality_gate.json"),
        protocols=sample_list("protocols"),
    output:
        table="results/qc/ev_quality.tsv",
        multiqc="results/de/multiqc/ev_quality_mqc.tsv",
    log:
        "logs/de/quality_gate.log",
    conda:
        "../../envs/de.yaml"
    shell:
        "exomir quality-gate --read-fates {input.fates:q} --config {input.config:q}"
        " --protocols {input.protocols:q}"
        " --out {output.table:q} --multiqc {output.multiqc:q} 2> {log:q}"


rule de_normalize:
    input:
        unpack(de_count_inputs),
        samples=run_file("samples/metadata.tsv"),
        config=run_file("config/normalization.json"),
    output:
        size_factors="results/de/size_factors.tsv",
        normalized="results/de/normalized_counts.tsv",
        vst="results/de/vst_counts.tsv",
        top=multiext("results/de/plots/top_abundance", ".png", ".svg"),
        pca_plots=expand(
            "results/de/plots/pca_{column}.{ext}",
            column=PCA_COLUMNS,
            ext=("png", "svg"),
        ),
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
        spikeins=optional_input("--spikein-counts", "spikeins"),
        plot_dir=lambda wildcards, output: os.path.dirname(output.top[0]),
    shell:
        "exomir de-normalize --counts {input.counts:q} --samples {input.samples:q}"
        " --config {input.config:q} {params.spikeins}"
        " --size-factors-out {output.size_factors:q} --normalized-out {output.normalized:q}"
        " --vst-out {output.vst:q} --plot-dir {params.plot_dir:q}"
        " --pca-section-out {output.pca:q} --correlation-section-out {output.correlation:q}"
        " --threads {threads} 2> {log:q}"


rule de_contrast:
    input:
        unpack(de_count_inputs),
        samples=run_file("samples/metadata.tsv"),
        config=run_file("config/de.json"),
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
        quality=lambda wildcards, input: " ".join(
            f"--quality {shlex.quote(path)}" for path in input.quality
        ),
        plot_dir=lambda wildcards, output: os.path.dirname(output.plots[0]),
        multiqc_dir=lambda wildcards, output: os.path.dirname(output.multiqc[0]),
    shell:
        "exomir de-contrast --name {wildcards.contrast} --counts {input.counts:q}"
        " --samples {input.samples:q} --config {input.config:q}"
        " --size-factors {input.size_factors:q} {params.quality}"
        " --table-out {output.table:q} --plot-dir {params.plot_dir:q}"
        " --multiqc-dir {params.multiqc_dir:q} --threads {threads} 2> {log:q}"


rule de_summary:
    input:
        tables=expand("results/de/{contrast}.tsv", contrast=CONTRAST_NAMES),
        summaries=expand("results/de/{contrast}.json", contrast=CONTRAST_NAMES),
        config=run_file("config/de.json"),
    output:
        watchlist="results/de/watchlist.tsv",
        summary="results/de/summary.tsv",
        summary_section="results/de/multiqc/de_summary_mqc.tsv",
        watchlist_sections=expand(
            "results/de/multiqc/watchlist_{c}_mqc.tsv", c=CONTRAST_NAMES
        ),
    log:
        "logs/de/summary.log",
    conda:
        "../../envs/de.yaml"
    params:
        multiqc_dir=lambda wildcards, output: os.path.dirname(output.summary_section),
    shell:
        "exomir de-summary --tables {input.tables:q} --config {input.config:q}"
        " --watchlist-out {output.watchlist:q} --summary-out {output.summary:q}"
        " --summary-section-out {output.summary_section:q}"
        " --multiqc-dir {params.multiqc_dir:q} 2> {log:q}"
