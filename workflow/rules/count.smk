# Per sample: reads on mature arms (isomiR tolerance), on hairpins, on spike-ins, and the
# read fates; then one matrix per feature type, samples in sheet order.


rule count:
    input:
        hairpin_bam="results/align/{sample}/hairpin.grouped.bam",
        spikein_bam="results/align/{sample}/spikein.bam",
        positions="results/reference/mature_positions.tsv",
        mature="results/reference/mature.fa",
        hairpin="results/reference/hairpin.fa",
        spikein="results/reference/spikein.fa",
        stats="results/trimmed/{sample}/trim_stats.json",
    output:
        mature="results/counts/per_sample/{sample}/mature.tsv",
        hairpin="results/counts/per_sample/{sample}/hairpin.tsv",
        spikein="results/counts/per_sample/{sample}/spikein.tsv",
        isomirs="results/counts/per_sample/{sample}/isomirs.tsv",
        fates="results/counts/per_sample/{sample}/fates.tsv",
    log:
        "logs/count/{sample}.log",
    conda:
        "../../envs/counting.yaml"
    params:
        multimapper=CONFIG["multimapper"],
        five=CONFIG["isomir_tolerance"]["five_prime"],
        three=CONFIG["isomir_tolerance"]["three_prime"],
    shell:
        "exomir count --sample {wildcards.sample} --hairpin-bam {input.hairpin_bam:q}"
        " --spikein-bam {input.spikein_bam:q} --reference-dir results/reference"
        " --trim-stats {input.stats:q} --multimapper {params.multimapper}"
        " --five-prime-tolerance {params.five} --three-prime-tolerance {params.three}"
        " --outdir results/counts/per_sample/{wildcards.sample} 2> {log:q}"


rule merge_mature:
    input:
        per_sample("results/counts/per_sample/{sample}/mature.tsv"),
    output:
        counts="results/counts/mature_counts.tsv",
        cpm="results/counts/mature_cpm.tsv",
    log:
        "logs/count/merge_mature.log",
    conda:
        "../../envs/counting.yaml"
    params:
        sheet=SHEET_PATH,
    shell:
        "exomir merge --sample-sheet {params.sheet:q}"
        " --template 'results/counts/per_sample/{{sample}}/mature.tsv'"
        " --out {output.counts:q} --cpm-out {output.cpm:q} 2> {log:q}"


rule merge_feature_counts:
    input:
        per_sample("results/counts/per_sample/{sample}/{{feature}}.tsv"),
    output:
        "results/counts/{feature}_counts.tsv",
    log:
        "logs/count/merge_{feature}.log",
    wildcard_constraints:
        feature="hairpin|spikein",
    conda:
        "../../envs/counting.yaml"
    params:
        sheet=SHEET_PATH,
    shell:
        "exomir merge --sample-sheet {params.sheet:q}"
        " --template 'results/counts/per_sample/{{sample}}/{wildcards.feature}.tsv'"
        " --out {output:q} 2> {log:q}"


rule merge_isomirs:
    input:
        per_sample("results/counts/per_sample/{sample}/isomirs.tsv"),
    output:
        "results/counts/isomir_counts.tsv",
    log:
        "logs/count/merge_isomirs.log",
    conda:
        "../../envs/counting.yaml"
    params:
        sheet=SHEET_PATH,
    shell:
        "exomir merge-isomirs --sample-sheet {params.sheet:q}"
        " --template 'results/counts/per_sample/{{sample}}/isomirs.tsv'"
        " --out {output:q} 2> {log:q}"


rule merge_fates:
    input:
        per_sample(f"results/counts/per_sample/{{sample}}/{FATES_FILE}"),
    output:
        "results/qc/read_fates.tsv",
    log:
        "logs/count/merge_fates.log",
    conda:
        "../../envs/counting.yaml"
    params:
        sheet=SHEET_PATH,
        fates_file=FATES_FILE,
    shell:
        "exomir merge-fates --sample-sheet {params.sheet:q}"
        " --template 'results/counts/per_sample/{{sample}}/{params.fates_file}'"
        " --out {output:q} 2> {log:q}"
