# Per sample: detect (or confirm) the library kit, then trim adapters, extract and
# deduplicate UMIs and collapse identical inserts, in one pass over the FASTQ: identical
# raw reads are trimmed once and carry their multiplicity from here on.


rule detect_protocol:
    input:
        get_fastq,
    output:
        "results/trimmed/{sample}/protocol.json",
    log:
        "logs/trim/{sample}.detect.log",
    conda:
        "../../envs/trimming.yaml"
    params:
        protocol=get_protocol,
        adapter=get_adapter_option,
    shell:
        "exomir detect-kit --sample {wildcards.sample} --fastq {input:q}"
        " --protocol {params.protocol} {params.adapter} --out {output:q} 2> {log:q}"


rule trim:
    input:
        fastq=get_fastq,
        protocol="results/trimmed/{sample}/protocol.json",
    output:
        inserts="results/trimmed/{sample}/inserts.fa",
        stats="results/trimmed/{sample}/trim_stats.json",
    log:
        "logs/trim/{sample}.trim.log",
    conda:
        "../../envs/trimming.yaml"
    threads: 1
    resources:
        # ~170 bytes per distinct raw sequence: 2 GB holds ~8 M distinct sequences.
        mem_mb=2000,
    params:
        min_length=CONFIG["min_length"],
        max_length=CONFIG["max_length"],
    shell:
        "exomir trim --sample {wildcards.sample} --fastq {input.fastq:q}"
        " --protocol-json {input.protocol:q} --min-length {params.min_length}"
        " --max-length {params.max_length} --threads {threads}"
        " --inserts {output.inserts:q} --stats {output.stats:q} 2> {log:q}"
