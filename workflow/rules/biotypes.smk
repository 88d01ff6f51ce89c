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
