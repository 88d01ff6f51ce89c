# The cohort's isomiRs in the miRTop community format (mirGFF3), and mirtop's statistics
# of them for MultiQC's mirtop section. Format and choices: exomir/mirgff.py.


rule isomirs_gff:
    input:
        isomirs="results/counts/isomir_counts.tsv",
        counts="results/counts/mature_counts.tsv",
        hairpin="results/reference/hairpin.fa",
        positions="results/reference/mature_positions.tsv",
        summary="results/reference/reference.json",
    output:
        gff="results/isomirs/isomirs.gff",
        # MultiQC's mirtop module reads *_mirtop_stats.log.
        stats_log="results/isomirs/isomirs_mirtop_stats.log",
        stats_table="results/isomirs/isomirs_mirtop_stats.txt",
    log:
        "logs/isomirs/isomirs_gff.log",
    conda:
        "../../envs/counting.yaml"
    shell:
        "exomir isomirs-gff --isomirs {input.isomirs:q} --counts {input.counts:q}"
        " --hairpin {input.hairpin:q} --mature-positions {input.positions:q}"
        " --reference-json {input.summary:q} --out {output.gff:q}"
        " --stats-log {output.stats_log:q} --stats-table {output.stats_table:q} 2> {log:q}"
