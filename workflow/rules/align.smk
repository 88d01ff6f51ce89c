# Per sample, one job: spike-ins first, then the species' hairpins on what is left; what
# aligns nowhere is kept as collapsed FASTA (results/align/{sample}/unassigned.fa).
# Counting reads the hairpin BAM in bowtie's order (a read's alignments together); users
# get a coordinate-sorted, indexed copy for IGV and samtools. Parameters: exomir/align.py.


rule align:
    input:
        reads="results/trimmed/{sample}/inserts.fa",
        spikein_index=(
            [f"results/reference/bowtie/spikein{BOWTIE_INDEX}"] if HAS_SPIKEINS else []
        ),
        spikein="results/reference/spikein.fa",
        hairpin_index=f"results/reference/bowtie/hairpin{BOWTIE_INDEX}",
        hairpin="results/reference/hairpin.fa",
    output:
        spikein_bam="results/align/{sample}/spikein.bam",
        grouped_bam=temp("results/align/{sample}/hairpin.grouped.bam"),
        hairpin_bam="results/align/{sample}/hairpin.bam",
        hairpin_bai="results/align/{sample}/hairpin.bam.bai",
        unaligned="results/align/{sample}/unassigned.fa",
    log:
        spikein="logs/align/{sample}.spikein.log",
        hairpin="logs/align/{sample}.hairpin.log",
    conda:
        "../../envs/alignment.yaml"
    threads: 2
    params:
        mismatches=CONFIG["alignment"]["mismatches"],
        # no spike-ins: no --spikein-index, align-sample skips the stage
        spikein_index=lambda wildcards, input: (
            f"--spikein-index {shlex.quote(input.spikein_index[0][: -len(BOWTIE_INDEX)])}"
            if input.spikein_index
            else ""
        ),
        hairpin_index=index_prefix("hairpin_index"),
    shell:
        "exomir align-sample --reads {input.reads:q}"
        " {params.spikein_index}"
        " --spikein-reference {input.spikein:q} --spikein-log {log.spikein:q}"
        " --hairpin-index {params.hairpin_index:q}"
        " --hairpin-reference {input.hairpin:q} --hairpin-log {log.hairpin:q}"
        " --spikein-bam {output.spikein_bam:q} --hairpin-grouped-bam {output.grouped_bam:q}"
        " --hairpin-bam {output.hairpin_bam:q} --unaligned {output.unaligned:q}"
        " --mismatches {params.mismatches} --threads {threads}"
