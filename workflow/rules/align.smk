# Per sample: spike-ins first, then the species' hairpins; what aligns nowhere is kept as
# collapsed FASTA (results/align/{sample}/unassigned.fa). Parameters: exomir/align.py.


rule align_spikeins:
    input:
        reads="results/trimmed/{sample}/inserts.fa",
        index=f"results/reference/bowtie/spikein{BOWTIE_INDEX}",
        reference="results/reference/spikein.fa",
    output:
        bam="results/align/{sample}/spikein.bam",
        unaligned=temp("results/align/{sample}/not_spikein.fa"),
    log:
        "logs/align/{sample}.spikein.log",
    conda:
        "../../envs/alignment.yaml"
    threads: 2
    params:
        mismatches=CONFIG["alignment"]["mismatches"],
    shell:
        "exomir align --reads {input.reads:q} --index results/reference/bowtie/spikein"
        " --reference {input.reference:q} --bam {output.bam:q} --unaligned {output.unaligned:q}"
        " --mismatches {params.mismatches} --threads {threads} --log {log:q}"


rule align_hairpins:
    input:
        reads="results/align/{sample}/not_spikein.fa",
        index=f"results/reference/bowtie/hairpin{BOWTIE_INDEX}",
        reference="results/reference/hairpin.fa",
    output:
        bam=temp("results/align/{sample}/hairpin.grouped.bam"),
        unaligned="results/align/{sample}/unassigned.fa",
    log:
        "logs/align/{sample}.hairpin.log",
    conda:
        "../../envs/alignment.yaml"
    threads: 2
    params:
        mismatches=CONFIG["alignment"]["mismatches"],
    shell:
        "exomir align --reads {input.reads:q} --index results/reference/bowtie/hairpin"
        " --reference {input.reference:q} --bam {output.bam:q} --unaligned {output.unaligned:q}"
        " --mismatches {params.mismatches} --threads {threads} --log {log:q}"


# Counting reads the BAM in bowtie's order (a read's alignments together); users get a
# coordinate-sorted, indexed copy for IGV and samtools.
rule sort_hairpin_bam:
    input:
        "results/align/{sample}/hairpin.grouped.bam",
    output:
        bam="results/align/{sample}/hairpin.bam",
        bai="results/align/{sample}/hairpin.bam.bai",
    log:
        "logs/align/{sample}.sort.log",
    conda:
        "../../envs/alignment.yaml"
    threads: 1
    shell:
        "(samtools sort -@ {threads} -o {output.bam:q} {input:q}"
        " && samtools index {output.bam:q}) 2> {log:q}"
