# Per sample, one job: spike-ins first, then the species' hairpins on what is left, then
# the tail pass (reads with non-templated 3' tails); what aligns nowhere is kept as
# collapsed FASTA (results/align/{sample}/unassigned.fa).
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
        positions="results/reference/mature_positions.tsv",
    output:
        spikein_bam="results/align/{sample}/spikein.bam",
        grouped_bam=temp("results/align/{sample}/hairpin.grouped.bam"),
        hairpin_bam="results/align/{sample}/hairpin.bam",
        hairpin_bai="results/align/{sample}/hairpin.bam.bai",
        unaligned="results/align/{sample}/unassigned.fa",
    log:
        spikein="logs/align/{sample}.spikein.log",
        hairpin="logs/align/{sample}.hairpin.log",
        # Not in logs/align: MultiQC reads bowtie summaries there as samples.
        tails="logs/align_tails/{sample}.log",
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
        max_tail=CONFIG["alignment"]["max_tail"],
        min_length=CONFIG["min_length"],
        five=CONFIG["isomir_tolerance"]["five_prime"],
        three=CONFIG["isomir_tolerance"]["three_prime"],
    shell:
        "exomir align-sample --reads {input.reads:q}"
        " {params.spikein_index}"
        " --spikein-reference {input.spikein:q} --spikein-log {log.spikein:q}"
        " --hairpin-index {params.hairpin_index:q}"
        " --hairpin-reference {input.hairpin:q} --hairpin-log {log.hairpin:q}"
        " --spikein-bam {output.spikein_bam:q} --hairpin-grouped-bam {output.grouped_bam:q}"
        " --hairpin-bam {output.hairpin_bam:q} --unaligned {output.unaligned:q}"
        " --mismatches {params.mismatches} --threads {threads}"
        " --mature-positions {input.positions:q} --tail-log {log.tails:q}"
        " --max-tail {params.max_tail} --min-templated-length {params.min_length}"
        " --five-prime-tolerance {params.five} --three-prime-tolerance {params.three}"
