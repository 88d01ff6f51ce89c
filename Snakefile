# exomir: small-RNA-seq of exosomes / extracellular vesicles, FASTQ -> miRNA counts -> DE -> report.
# Read top to bottom: common (config, sheet), reference, trim, align, count, de, report.
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

REPO = Path(workflow.basedir)


# Without --configfile, run the bundled demo config; with it, only the user's config counts.
if not workflow.config_settings.configfiles:

    configfile: str(REPO / "config" / "config.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/geo.smk"
include: "workflow/rules/reference.smk"
include: "workflow/rules/trim.smk"
include: "workflow/rules/align.smk"
include: "workflow/rules/count.smk"
include: "workflow/rules/biotypes.smk"
include: "workflow/rules/de.smk"
include: "workflow/rules/report.smk"


# Steps of seconds run on the submitting host, not as cluster jobs (a scheduler round
# trip costs more than the work); downloads too, since compute nodes are often offline.
localrules:
    all,
    download_mirbase,
    geo_sample_sheet,
    fetch_fastq,
    merge_mature,
    merge_feature_counts,
    merge_isomirs,
    merge_fates,
    merge_biotypes,
    merge_lengths_by_fate,
    report_content,
    provenance,
    quality_gate,
    de_summary,


rule all:
    input:
        get_final_output(),
