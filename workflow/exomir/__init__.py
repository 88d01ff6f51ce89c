"""exomir: miRNA profiling of exosome / extracellular-vesicle small-RNA-seq.

The Snakemake workflow (``Snakefile``, ``workflow/rules``) only wires files together;
every decision about reads, references, counts and statistics lives in this package.
"""

__version__ = "0.1.0"
