# Public datasets. Step 1: `geo:` accessions -> a proposed sample sheet with the samples'
# runs and characteristics (results/geo/samples.tsv, to be completed and then used as
# `samples:`). Step 2: every sample with `runs` and no `fastq` gets its reads here, merged
# into one verified FASTQ.gz per sample.


localrules:
    geo_sample_sheet,


rule geo_sample_sheet:
    output:
        sheet="results/geo/samples.tsv",
        metadata="results/geo/metadata.json",
    log:
        "logs/geo/geo_sample_sheet.log",
    conda:
        "../../envs/download.yaml"
    params:
        accessions=CONFIG.get("geo") or [],
        eutils=CONFIG["geo_services"]["eutils"],
        ena_browser=CONFIG["geo_services"]["ena_browser"],
        ena_portal=CONFIG["geo_services"]["ena_portal"],
        retries=CONFIG["fastq_download"]["retries"],
    shell:
        "exomir geo-sheet --accession {params.accessions:q} --eutils {params.eutils:q}"
        " --ena-browser {params.ena_browser:q} --ena-portal {params.ena_portal:q}"
        " --retries {params.retries} --out {output.sheet:q} --metadata {output.metadata:q}"
        " 2> {log:q}"


rule fetch_fastq:
    output:
        fastq="results/fastq/{sample}.fastq.gz",
        report="results/fastq/{sample}.json",
    log:
        "logs/fastq/{sample}.log",
    conda:
        "../../envs/download.yaml"
    threads: 2
    resources:
        downloads=1,
    params:
        runs=lambda wildcards: " ".join(RUNS[wildcards.sample]),
        method=CONFIG["fastq_download"]["method"],
        ena_portal=CONFIG["geo_services"]["ena_portal"],
        retries=CONFIG["fastq_download"]["retries"],
    shell:
        "exomir fetch-runs --sample {wildcards.sample} --runs {params.runs}"
        " --method {params.method} --ena-portal {params.ena_portal:q}"
        " --retries {params.retries} --threads {threads}"
        " --out {output.fastq:q} --report {output.report:q} 2> {log:q}"
