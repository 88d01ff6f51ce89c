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
include: "workflow/rules/de.smk"
include: "workflow/rules/report.smk"


localrules:
    all,


rule all:
    input:
        get_final_output(),
