# Per sample, one job: detect (or confirm) the library kit from the first reads, then trim
# adapters, extract and deduplicate UMIs and collapse identical inserts in one pass over the
# FASTQ: identical raw reads are trimmed once and carry their multiplicity from here on.
# The kit decision maps a sample of reads trimmed under each candidate structure to the
# run's own references (exomir/kit_mapping.py), so the indexes are inputs of this rule.


rule trim:
    input:
        fastq=get_fastq,
        hairpin_index=f"results/reference/bowtie/hairpin{BOWTIE_INDEX}",
        # spike-ins and biotypes: what else the test mapping may assign reads to
        reference_indexes=(
            [f"results/reference/bowtie/spikein{BOWTIE_INDEX}"] if HAS_SPIKEINS else []
        )
        + expand(
            "results/reference/biotypes/bowtie/{biotype}{suffix}",
            biotype=BIOTYPES,
            suffix=BOWTIE_INDEX,
        ),
    output:
        protocol="results/trimmed/{sample}/protocol.json",
        inserts="results/trimmed/{sample}/inserts.fa",
        stats="results/trimmed/{sample}/trim_stats.json",
        long_inserts="results/trimmed/{sample}/long_inserts.fa",
    log:
        "logs/trim/{sample}.log",
    conda:
        "../../envs/trimming.yaml"
    threads: 1
    resources:
        # ~170 bytes per distinct raw sequence: 2 GB holds ~8 M distinct sequences.
        mem_mb=2000,
    params:
        protocol=get_protocol,
        adapter=get_adapter_option,
        min_length=CONFIG["min_length"],
        max_length=CONFIG["max_length"],
        mirna_index=index_prefix("hairpin_index"),
        reference_indexes=lambda w, input: (
            "--reference-index "
            + " ".join(
                shlex.quote(p[: -len(BOWTIE_INDEX)]) for p in input.reference_indexes
            )
            if input.reference_indexes
            else ""
        ),
    shell:
        "exomir trim --sample {wildcards.sample} --fastq {input.fastq:q}"
        " --mirna-index {params.mirna_index:q} {params.reference_indexes}"
        " --protocol {params.protocol} {params.adapter} --protocol-out {output.protocol:q}"
        " --min-length {params.min_length}"
        " --max-length {params.max_length} --threads {threads}"
        " --inserts {output.inserts:q} --stats {output.stats:q}"
        " --long-inserts {output.long_inserts:q} 2> {log:q}"
