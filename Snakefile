# exomir's entry point: `snakemake -s Snakefile ...` from the README. The workflow itself is
# workflow/Snakefile (the layout the Snakemake workflow catalog and `module` users expect).


include: "workflow/Snakefile"


localrules:
    default,


# A rule of an included file is never the default target, so name one here: the same
# files as workflow/Snakefile's `all`.
rule default:
    default_target: True
    input:
        rules.all.input,
