"""Write the rule's inputs, one path a line (MultiQC's --file-list; see exomir.runfiles)."""

from exomir.runfiles import write_run_file

write_run_file("".join(f"{path}\n" for path in snakemake.input), snakemake.output[0])  # noqa: F821
