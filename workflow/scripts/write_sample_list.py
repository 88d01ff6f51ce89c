"""Write one sample list: the rule's samples beside its inputs (see exomir.runfiles)."""

from exomir.runfiles import write_sample_list

write_sample_list(snakemake.params.samples, snakemake.input, snakemake.output[0])  # noqa: F821
