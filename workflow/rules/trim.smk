# Per sample, one job: detect (or confirm) the library kit from the first reads, then trim
# adapters, extract and deduplicate UMIs and collapse identical inserts in one pass over the
# FASTQ: identical raw reads are trimmed once and carry their multiplicity from here on.


rule trim:
    input:
        get_fastq,
    output:
        protocol="results/trimmed/{sample}/protocol.json",
        inserts="results/trimmed/{sample}/inserts.fa",
        stats="results/trimmed/{sample}/trim_stats.json",
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
    shell:
        "exomir trim --sample {wildcards.sample} --fastq {input:q}"
        " --protocol {params.protocol} {params.adapter} --protocol-out {output.protocol:q}"
        " --min-length {params.min_length}"
        " --max-length {params.max_length} --threads {threads}"
        " --inserts {output.inserts:q} --stats {output.stats:q} 2> {log:q}"
