"""JSON schemas of the config and the sample sheet, shipped inside the package as exomir.schemas.

They live here, in workflow/schemas/, where the Snakemake workflow catalog looks for them;
pyproject.toml maps this folder onto the subpackage so the schemas travel with every install.
"""
