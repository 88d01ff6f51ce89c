# Per sample: the reads left after spike-ins and hairpins (unassigned.fa) are aligned to
# small-RNA biotype references in priority order (biotypes.order; each step gets what the
# previous left), splitting `unassigned` of the read fates into one column per biotype.
# Parameters and counting rules: workflow/exomir/biotypes.py. No rule runs when no biotype
# has a reference (species other than hsa without biotypes.references).


rule prepare_biotype_reference:
    input:
        lambda wildcards: str(BIOTYPE_REFERENCES[wildcards.biotype]),
    output:
        "results/reference/biotypes/{biotype}.fa",
    log:
        "logs/reference/biotype_{biotype}.log",
    wildcard_constraints:
        biotype=BIOTYPE_PATTERN,
    conda:
        "../../envs/alignment.yaml"
    shell:
        "exomir biotypes prepare --biotype {wildcards.biotype} --fasta {input:q}"
        " --out {output:q} 2> {log:q}"


rule bowtie_index_biotype:
    input:
        "results/reference/biotypes/{biotype}.fa",
    output:
        multiext("results/reference/biotypes/bowtie/{biotype}", *BOWTIE_INDEX_SUFFIXES),
    log:
        "logs/reference/bowtie_index_biotype_{biotype}.log",
    wildcard_constraints:
        biotype=BIOTYPE_PATTERN,
    conda:
        "../../envs/alignment.yaml"
    threads: 2
    params:
        prefix=lambda wildcards, output: output[0][: -len(BOWTIE_INDEX)],
    shell:
        "bowtie-build --threads {threads} {input:q} {params.prefix:q} > {log:q} 2>&1"


rule classify_biotypes:
    input:
        reads="results/align/{sample}/unassigned.fa",
        long_reads="results/trimmed/{sample}/long_inserts.fa",
        inserts="results/trimmed/{sample}/inserts.fa",
        spikein_bam="results/align/{sample}/spikein.bam",
        fates="results/counts/per_sample/{sample}/fates.tsv",
        references=expand("results/reference/biotypes/{biotype}.fa", biotype=BIOTYPES),
        indexes=expand(
            "results/reference/biotypes/bowtie/{biotype}{suffix}",
            biotype=BIOTYPES,
            suffix=BOWTIE_INDEX,
        ),
    output:
        fates="results/counts/per_sample/{sample}/fates_biotypes.tsv",
        counts="results/counts/per_sample/{sample}/biotypes.tsv",
        unannotated="results/align/{sample}/unannotated.fa",
        lengths="results/counts/per_sample/{sample}/insert_lengths_by_fate.tsv",
    log:
        "logs/biotypes/{sample}.log",
    conda:
        "../../envs/alignment.yaml"
    threads: 2
    params:
        order=",".join(BIOTYPES),
        mismatches=BIOTYPE_MISMATCHES,
        indexes=lambda wildcards, input: " ".join(
            shlex.quote(path[: -len(BOWTIE_INDEX)]) for path in input.indexes
        ),
    shell:
        "exomir biotypes classify --sample {wildcards.sample} --reads {input.reads:q}"
        " --fates {input.fates:q} --order {params.order} --mismatches {params.mismatches}"
        " --references {input.references:q} --indexes {params.indexes} --threads {threads}"
        " --fates-out {output.fates:q} --counts-out {output.counts:q}"
        " --unannotated-out {output.unannotated:q} --log {log:q}"
        " --long-reads {input.long_reads:q} --inserts {input.inserts:q}"
        " --spikein-bam {input.spikein_bam:q} --lengths-out {output.lengths:q}"


rule merge_biotypes:
    input:
        samples=sample_list("biotypes"),
        tables=per_sample(SAMPLE_LISTS["biotypes"]),
    output:
        "results/counts/biotype_counts.tsv",
    log:
        "logs/count/merge_biotypes.log",
    conda:
        "../../envs/alignment.yaml"
    params:
        order=",".join(BIOTYPES),
    shell:
        "exomir biotypes merge --list {input.samples:q} --order {params.order}"
        " --out {output:q} 2> {log:q}"


rule merge_lengths_by_fate:
    input:
        samples=sample_list("lengths_by_fate"),
        tables=per_sample(SAMPLE_LISTS["lengths_by_fate"]),
    output:
        table="results/qc/insert_lengths_by_fate.tsv",
        multiqc="results/qc/lengths_by_fate/insert_lengths_by_fate_mqc.json",
    log:
        "logs/count/merge_lengths_by_fate.log",
    conda:
        "../../envs/alignment.yaml"
    shell:
        "exomir biotypes merge-lengths --list {input.samples:q}"
        " --out {output.table:q} --multiqc {output.multiqc:q} 2> {log:q}"
