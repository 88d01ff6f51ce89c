# What rules need of the sample sheet and the config, as files of their own
# (exomir/runfiles.py): an edit re-runs exactly the rules that read what changed.
# - run files: results/run/config/<group>.json and results/run/samples/metadata.tsv, whose
#   content is the job's parameter (a changed parameter re-runs the job);
# - sample lists: results/run/samples/<table>.tsv, `sample<TAB>path` for a merge's
#   per-sample inputs, in sheet order (adding a sample changes them; a metadata edit does not).


rule run_file:
    output:
        "results/run/{name}",
    log:
        "logs/run/{name}.log",
    wildcard_constraints:
        name="|".join(re.escape(name) for name in RUN_FILES),
    conda:
        "../../envs/report.yaml"
    params:
        content=lambda wildcards: RUN_FILES[wildcards.name],
    script:
        "../scripts/write_run_file.py"


rule sample_list:
    input:
        lambda wildcards: per_sample(SAMPLE_LISTS[wildcards.table]),
    output:
        "results/run/samples/{table}.tsv",
    log:
        "logs/run/samples_{table}.log",
    wildcard_constraints:
        table="|".join(SAMPLE_LISTS),
    conda:
        "../../envs/report.yaml"
    params:
        samples=SAMPLE_NAMES,
    script:
        "../scripts/write_sample_list.py"
