"""Every rule's conda env holds what its commands need: imports, executables, exomir itself.

Conda channels are not reachable on the development machines, so ``--sdm conda`` cannot be
run here. What can be checked without conda is checked: each rule's ``conda:`` env is
mapped to the ``exomir`` commands and tools its shell calls; the modules those commands
import are found statically (ast, following exomir's own modules, imports inside
functions included); each third-party import and each executable must be a dependency of
the env, and every env that runs ``exomir`` installs the package from this repository.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

from conftest import REPO

PACKAGE = REPO / "workflow" / "exomir"
# Import name -> conda package name, where they differ.
CONDA_PACKAGE = {
    "yaml": "pyyaml",
    "isal": "python-isal",
    "formulaic_contrasts": "formulaic-contrasts",
    "sklearn": "scikit-learn",
    "RNA": "viennarna",
}
# Executables -> conda package (multiqc only as a shell command: exomir writes files for it).
EXECUTABLES = {
    "bowtie": "bowtie",
    "bowtie-build": "bowtie",
    "samtools": "samtools",
    "fasterq-dump": "sra-tools",
    "multiqc": "multiqc",
}
SUBPROCESS_TOOLS = ("bowtie", "bowtie-build", "samtools", "fasterq-dump")
TOOL_NAMES = "|".join(map(re.escape, SUBPROCESS_TOOLS))
EXECUTABLE_LITERAL = re.compile(rf"""["']({TOOL_NAMES})["']""")
RULE = re.compile(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", re.MULTILINE)


def rules() -> dict[str, tuple[str, str]]:
    """rule name -> (env file relative to the repo, shell command text) for rules with both."""
    found = {}
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for name, body in RULE.findall(smk.read_text()):
            conda = re.search(r"^\s+conda:\s*\n\s+\"([^\"]+)\"", body, re.MULTILINE)
            shell = re.search(r"^\s+shell:\s*\n((?:\s+\".*\"\n?)+)", body, re.MULTILINE)
            if conda and shell:
                env = (smk.parent / conda.group(1)).resolve().relative_to(REPO)
                text = "".join(re.findall(r"\"(.*)\"", shell.group(1)))
                found[name] = (str(env), text)
    return found


def env_dependencies(env: str) -> set[str]:
    """Conda package names of an env file (version constraints dropped)."""
    spec = yaml.safe_load((REPO / env).read_text())
    names = set()
    for dependency in spec["dependencies"]:
        if isinstance(dependency, str):
            names.add(re.split(r"[ =<>!]", dependency, maxsplit=1)[0].split("::")[-1])
    return names


def exomir_commands(shell: str) -> set[str]:
    """Command module names (``exomir biotypes merge`` -> biotypes) the shell text runs."""
    return {name.replace("-", "_") for name in re.findall(r"\bexomir ([a-z][a-z-]*)", shell)}


def shell_executables(shell: str) -> set[str]:
    return {tool for tool in EXECUTABLES if re.search(rf"(^|[;&|(]\s*){re.escape(tool)}\b", shell)}


@cache
def _module_imports(module: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(exomir modules, third-party top-level names, executables) one module uses."""
    parts = module.split(".")[1:]
    path = PACKAGE.joinpath(*parts)
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    source = path.read_text()
    internal, external = set(), set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "exomir":
                names += [f"exomir.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "exomir":
                candidate = PACKAGE.joinpath(*name.split(".")[1:])
                if candidate.is_dir() or candidate.with_suffix(".py").is_file():
                    internal.add(name)
            elif name.split(".")[0] not in sys.stdlib_module_names:
                external.add(name.split(".")[0])
    executables = set(EXECUTABLE_LITERAL.findall(source))
    return frozenset(internal), frozenset(external), frozenset(executables)


def command_needs(command: str) -> tuple[set[str], set[str]]:
    """Third-party imports and executables of ``exomir <command>`` (the CLI included)."""
    todo = ["exomir.cli", f"exomir.commands.{command}"]
    seen: set[str] = set()
    external: set[str] = set()
    executables: set[str] = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        internal, names, tools = _module_imports(module)
        todo += internal
        external |= names
        executables |= tools
    return external, executables


RULES = rules()


def test_rules_with_envs_are_found():
    # Guards the parsing: these rules exist and name an env.
    assert {"trim", "align", "count", "de_contrast", "multiqc", "bowtie_index"} <= set(RULES)
    assert all(env.startswith("envs/") for env, _ in RULES.values())


@pytest.mark.parametrize("rule", sorted(RULES))
def test_env_provides_what_the_rule_runs(rule):
    env, shell = RULES[rule]
    provided = env_dependencies(env)
    needed_imports, needed_tools = set(), shell_executables(shell)
    for command in exomir_commands(shell):
        assert (PACKAGE / "commands" / f"{command}.py").is_file(), f"{rule}: no command {command}"
        imports, tools = command_needs(command)
        needed_imports |= imports
        needed_tools |= tools
    needed = {CONDA_PACKAGE.get(name, name) for name in needed_imports}
    needed |= {EXECUTABLES[tool] for tool in needed_tools}
    missing = sorted(needed - provided)
    assert not missing, f"rule {rule}: {env} lacks {', '.join(missing)}"


@pytest.mark.parametrize("env", sorted({env for env, _ in RULES.values()}))
def test_env_installs_exomir_from_this_repository(env):
    if not any(exomir_commands(shell) for e, shell in RULES.values() if e == env):
        pytest.skip(f"{env} runs no exomir command")
    deploy = (REPO / env).with_suffix(".post-deploy.sh")
    assert deploy.is_file(), f"{env}: no post-deploy script installs exomir"
    assert {"pip", "setuptools"} <= env_dependencies(env)
    assert '"$EXOMIR_SOURCE"' in deploy.read_text()


def test_import_scan_sees_what_commands_use():
    # The checks above can fail: the scan finds the libraries and tools commands rely on.
    imports, tools = command_needs("trim")
    assert {"cutadapt", "dnaio", "isal", "yaml", "jsonschema"} <= imports
    imports, tools = command_needs("align_sample")
    assert {"bowtie", "samtools"} <= tools
    imports, _ = command_needs("de_contrast")
    assert {"pydeseq2", "pandas", "matplotlib"} <= imports
    assert "cutadapt" not in command_needs("de_contrast")[0]


@pytest.mark.slow
def test_post_deploy_script_installs_exomir_from_the_source(tmp_path):
    # What Snakemake does after `conda env create`, with a plain venv standing in for the
    # env (pip and setuptools>=70.1 as the env files list them); conda is not reachable.
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    subprocess.run(
        [str(env / "bin" / "python"), "-m", "pip", "install", "-q", "setuptools>=70.1"],
        check=True,
        capture_output=True,
    )
    script = REPO / "envs" / "counting.post-deploy.sh"
    variables = dict(
        os.environ,
        EXOMIR_SOURCE=str(REPO),
        PATH=os.pathsep.join([str(env / "bin"), os.environ["PATH"]]),
        PIP_NO_INDEX="1",  # --no-deps: nothing may be fetched
    )
    variables.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        ["bash", str(script)], cwd=tmp_path, env=variables, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    where = subprocess.run(
        [str(env / "bin" / "python"), "-c", "import exomir; print(exomir.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()) == PACKAGE / "__init__.py"
    # Without the variable the script stops with a clear message instead of guessing.
    variables.pop("EXOMIR_SOURCE")
    unset = subprocess.run(["bash", str(script)], env=variables, capture_output=True, text=True)
    assert unset.returncode != 0 and "EXOMIR_SOURCE" in unset.stderr
