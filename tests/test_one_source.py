"""One source for each fact: kit names, spike-ins, config defaults, read-fate columns.

Each test fails when a second copy of a fact reappears in the package or the workflow.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from conftest import REPO
from exomir import bundled, config, fates

PACKAGE = REPO / "workflow" / "exomir"
SOURCES = sorted(PACKAGE.rglob("*.py"))


def schema_defaults(schema: dict, prefix: str = "") -> dict[str, object]:
    """Leaf key path -> default, for every key of the config schema that has one."""
    found = {}
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        if "default" in sub and sub.get("type") != "object":
            found[path] = sub["default"]
        found.update(schema_defaults(sub, f"{path}."))
    return found


DEFAULTS = schema_defaults(config.load_schema("config"))


def literal(node: ast.AST) -> object:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def default_sites(tree: ast.AST):
    """(name, value node) for every place code sets a default: parameters, ``default=``
    keywords of argparse options, ``DEFAULT_*`` and dataclass-field assignments, and
    ``mapping.get(key, default)``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            positional = args.posonlyargs + args.args
            with_defaults = positional[len(positional) - len(args.defaults) :]
            for arg, value in zip(with_defaults, args.defaults, strict=True):
                yield arg.arg, value
            for arg, value in zip(args.kwonlyargs, args.kw_defaults, strict=True):
                if value is not None:
                    yield arg.arg, value
        elif isinstance(node, ast.Call):
            keywords = {k.arg: k.value for k in node.keywords}
            flags = [literal(a) for a in node.args if isinstance(literal(a), str)]
            if "default" in keywords and flags:
                yield flags[-1].lstrip("-").replace("-", "_"), keywords["default"]
            is_get = isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            if is_get and len(node.args) == 2 and isinstance(literal(node.args[0]), str):
                yield literal(node.args[0]), node.args[1]
        elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    yield target.id, node.value


# Constants equal to a config default by coincidence, not copies of it.
NOT_CONFIG_DEFAULTS = {
    ("biotypes.py", "FIVE_PRIME_SLACK"),  # tRNA 5' fragment slack, not the isomiR tolerance
    ("biotypes.py", "BUNDLED_SPECIES"),  # the species the bundled biotype FASTAs are from
    ("enrichment_sources.py", "GENESET_SPECIES"),  # the species of the bundled gene sets
}


def trivial(value: object) -> bool:
    """Values too common to be a copy of a default, unless a number under the key's name."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return False
    return value in (None, True, False, "", (), [], {})


def test_config_defaults_live_only_in_the_schema():
    repeated = []
    for path in SOURCES:
        for name, node in default_sites(ast.parse(path.read_text())):
            if (path.name, name) in NOT_CONFIG_DEFAULTS:
                continue
            value = literal(node)
            if trivial(value):
                continue
            for key, default in DEFAULTS.items():
                leaf = key.rsplit(".", 1)[-1].lower()
                if (
                    leaf in name.lower()
                    and not trivial(default)
                    and value == default
                    or (
                        isinstance(default, list)
                        and isinstance(value, tuple | list)
                        and len(default) > 1
                        and list(value) == default
                    )
                ):
                    repeated.append(f"{path.relative_to(REPO)}:{node.lineno} {name} = {key}")
    assert not repeated, "schema defaults repeated in code:\n" + "\n".join(repeated)


def test_demo_config_does_not_restate_defaults():
    demo = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    restated = [key for key in ("spikeins",) if key in demo]
    assert not restated, f"config/config.yaml repeats schema defaults: {restated}"


def test_kit_names_are_the_presets_of_kits_yaml():
    presets = list(yaml.safe_load(bundled.kits_path().read_text()))
    assert {"auto", "custom", *presets} == config.PROTOCOLS
    for name in ("config", "samples"):
        text = (REPO / "workflow" / "schemas" / f"{name}.schema.yaml").read_text()
        assert "enum" not in text.split("protocol:", 1)[1].split("description", 1)[0], name
        assert set(config.load_schema(name)["properties"]["protocol"]["enum"]) - {""} == set(
            config.PROTOCOLS
        )
    # No module lists kit names (as a collection of two or more presets).
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Set | ast.List | ast.Tuple):
                names = {literal(e) for e in node.elts if isinstance(e, ast.Constant)}
                names &= set(presets)
                assert len(names) < 2, f"{path.relative_to(REPO)}:{node.lineno} lists kits"


def test_simulated_kits_are_presets():
    import tools.simulate

    assert set(tools.simulate.KITS) <= set(config.PROTOCOLS)


def test_spikeins_come_from_the_schema():
    from exomir import reference
    from tools import simulate

    default = DEFAULTS["spikeins"]
    assert list(reference.DEFAULT_SPIKEINS) == default
    assert list(simulate.DEFAULT_SPIKEINS) == default
    # No string in the package's code (docstrings aside) and no rule names a default one.
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Set | ast.List | ast.Tuple):
                named = {literal(e) for e in node.elts if isinstance(e, ast.Constant)}
                assert not named & set(default), f"{path.relative_to(REPO)}:{node.lineno}"
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        assert not set(default) & set(re.findall(r"cel-miR-[0-9]+-3p", path.read_text())), path


def test_fate_columns_are_defined_once():
    # Only exomir/fates.py lists fate columns (three or more in one literal).
    columns = set(fates.COLUMNS[1:]) - {"input"}
    for path in SOURCES:
        # trimming.py counts and tables.py reads trim_stats.json (exomir trim's output),
        # whose counters share names with the fates they become (fates.sample_fates).
        if path in (PACKAGE / "fates.py", PACKAGE / "tables.py", PACKAGE / "trimming.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Set | ast.List | ast.Tuple | ast.Dict):
                elements = node.keys if isinstance(node, ast.Dict) else node.elts
                named = {literal(e) for e in elements if isinstance(e, ast.Constant)} & columns
                assert len(named) < 3, f"{path.relative_to(REPO)}:{node.lineno} lists fates"


def test_schema_files_are_what_the_package_loads():
    assert bundled.schema_path("config") == Path(REPO / "workflow/schemas/config.schema.yaml")
