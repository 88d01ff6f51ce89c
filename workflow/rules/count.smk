# Per sample: reads on mature arms (isomiR tolerance), on hairpins, on spike-ins, and the
# read fates; then one matrix per feature type, samples in sheet order (the sample lists).


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
        " --spikein-bam {input.spikein_bam:q} --hairpin {input.hairpin:q}"
        " --mature {input.mature:q} --spikein {input.spikein:q}"
        " --positions {input.positions:q} --trim-stats {input.stats:q}"
        " --multimapper {params.multimapper}"
        " --five-prime-tolerance {params.five} --three-prime-tolerance {params.three}"
        " --mature-out {output.mature:q} --hairpin-out {output.hairpin:q}"
        " --spikein-out {output.spikein:q} --isomirs-out {output.isomirs:q}"
        " --fates-out {output.fates:q} 2> {log:q}"


rule merge_mature:
    input:
        samples=sample_list("mature"),
        tables=per_sample(SAMPLE_LISTS["mature"]),
    output:
        counts="results/counts/mature_counts.tsv",
        cpm="results/counts/mature_cpm.tsv",
    log:
        "logs/count/merge_mature.log",
    conda:
        "../../envs/counting.yaml"
    shell:
        "exomir merge --list {input.samples:q} --out {output.counts:q}"
        " --cpm-out {output.cpm:q} 2> {log:q}"


rule merge_feature_counts:
    input:
        samples=sample_list("{feature}"),
        tables=lambda wildcards: per_sample(SAMPLE_LISTS[wildcards.feature]),
    output:
        "results/counts/{feature}_counts.tsv",
    log:
        "logs/count/merge_{feature}.log",
    wildcard_constraints:
        feature="hairpin|spikein",
    conda:
        "../../envs/counting.yaml"
    shell:
        "exomir merge --list {input.samples:q} --out {output:q} 2> {log:q}"


rule merge_isomirs:
    input:
        samples=sample_list("isomirs"),
        tables=per_sample(SAMPLE_LISTS["isomirs"]),
    output:
        "results/counts/isomir_counts.tsv",
    log:
        "logs/count/merge_isomirs.log",
    conda:
        "../../envs/counting.yaml"
    shell:
        "exomir merge-isomirs --list {input.samples:q} --out {output:q} 2> {log:q}"


rule merge_fates:
    input:
        samples=sample_list("fates"),
        tables=per_sample(SAMPLE_LISTS["fates"]),
    output:
        "results/qc/read_fates.tsv",
    log:
        "logs/count/merge_fates.log",
    conda:
        "../../envs/counting.yaml"
    shell:
        "exomir merge-fates --list {input.samples:q} --out {output:q} 2> {log:q}"
