# Per sample, one job: detect (or confirm) the library kit from the first reads, then trim
# adapters, extract and deduplicate UMIs and collapse identical inserts in one pass over the
# FASTQ: identical raw reads are trimmed once and carry their multiplicity from here on.
# The kit decision maps a sample of reads trimmed under each candidate structure to the
# run's own references (exomir/kit_mapping.py): hairpins, spike-ins and biotypes in one
# bowtie index (rule kit_mapping_reference), so one bowtie call a sample.


rule kit_mapping_reference:
    input:
        hairpin="results/reference/hairpin.fa",
        # spike-ins and biotypes: what else the test mapping may assign reads to
        others=(["results/reference/spikein.fa"] if HAS_SPIKEINS else [])
        + expand("results/reference/biotypes/{biotype}.fa", biotype=BIOTYPES),
    output:
        "results/reference/kit_mapping.fa",
    log:
        "logs/reference/kit_mapping_reference.log",
    conda:
        "../../envs/trimming.yaml"
    params:
        others=lambda w, input: " ".join(shlex.quote(path) for path in input.others),
    shell:
        "exomir kit-mapping-reference --hairpin {input.hairpin:q} --other {params.others}"
        " --out {output:q} 2> {log:q}"


rule trim:
    input:
        fastq=get_fastq,
        mapping_index=f"results/reference/bowtie/kit_mapping{BOWTIE_INDEX}",
    output:
        protocol="results/trimmed/{sample}/protocol.json",
        inserts="results/trimmed/{sample}/inserts.fa",
        stats="results/trimmed/{sample}/trim_stats.json",
        long_inserts="results/trimmed/{sample}/long_inserts.fa",
    log:
        "logs/trim/{sample}.log",
    conda:
        "../../envs/trimming.yaml"
    threads: PER_SAMPLE_THREADS
    resources:
        # ~170 bytes per distinct raw sequence: 2 GB holds ~8 M distinct sequences.
        mem_mb=2000,
    params:
        protocol=get_protocol,
        adapter=get_adapter_option,
        min_length=CONFIG["min_length"],
        max_length=CONFIG["max_length"],
        mapping_index=index_prefix("mapping_index"),
    shell:
        "exomir trim --sample {wildcards.sample} --fastq {input.fastq:q}"
        " --mapping-index {params.mapping_index:q}"
        " --protocol {params.protocol} {params.adapter} --protocol-out {output.protocol:q}"
        " --min-length {params.min_length}"
        " --max-length {params.max_length} --threads {threads}"
        " --inserts {output.inserts:q} --stats {output.stats:q}"
        " --long-inserts {output.long_inserts:q} 2> {log:q}"
