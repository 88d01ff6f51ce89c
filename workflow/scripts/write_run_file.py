"""Write one run file: its content is the rule's ``params.content`` (see exomir.runfiles)."""

from exomir.runfiles import write_run_file

write_run_file(snakemake.params.content, snakemake.output[0])  # noqa: F821
