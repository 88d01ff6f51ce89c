# The species reference: hairpins, mature positions on them, spike-ins, bowtie indexes.
# Built once per run directory from the bundled miRBase subset, local files, or a download.


rule download_mirbase:
    output:
        "results/reference/download/{file}",
    log:
        "logs/reference/download_{file}.log",
    wildcard_constraints:
        file=r"[A-Za-z0-9._-]+",
    conda:
        "../../envs/download.yaml"
    params:
        url=download_url,
        md5=download_md5_option,
    shell:
        "exomir download --url {params.url:q} --out {output:q} {params.md5} > {log:q} 2>&1"


rule build_reference:
    input:
        unpack(build_reference_inputs),
    output:
        hairpin="results/reference/hairpin.fa",
        mature="results/reference/mature.fa",
        spikein="results/reference/spikein.fa",
        positions="results/reference/mature_positions.tsv",
        summary="results/reference/reference.json",
    log:
        "logs/reference/build_reference.log",
    conda:
        "../../envs/alignment.yaml"
    params:
        species=CONFIG["species"],
        mature=mature_option,
        release=CONFIG["reference"]["release"],
        spikeins=spikein_options(),
        spikein_fasta=optional_input("--spikein-fasta", "spikein_fasta"),
        gff3=optional_input("--gff3", "gff3"),
    shell:
        "exomir build-reference {params.mature} --hairpin {input.hairpin:q} {params.gff3}"
        " --species {params.species} --release {params.release:q} {params.spikeins}"
        " {params.spikein_fasta} --hairpin-out {output.hairpin:q} --mature-out {output.mature:q}"
        " --spikein-out {output.spikein:q} --positions-out {output.positions:q}"
        " --summary-out {output.summary:q} > {log:q} 2>&1"


rule bowtie_index:
    input:
        "results/reference/{reference}.fa",
    output:
        multiext("results/reference/bowtie/{reference}", *BOWTIE_INDEX_SUFFIXES),
    log:
        "logs/reference/bowtie_index_{reference}.log",
    wildcard_constraints:
        reference="hairpin|spikein|kit_mapping",
    conda:
        "../../envs/alignment.yaml"
    threads: 2
    params:
        prefix=lambda wildcards, output: output[0][: -len(BOWTIE_INDEX)],
    shell:
        "bowtie-build --threads {threads} {input:q} {params.prefix:q} > {log:q} 2>&1"
