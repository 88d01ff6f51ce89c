"""Configuration: validate against the JSON schema, fill defaults, explain errors in one line.

The schema (workflow/schemas/config.schema.yaml) is the single list of keys; this module
adds the checks a schema cannot express (relations between keys) and turns jsonschema's
messages into ``config <file>: key 'a.b': <problem>`` lines.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from exomir.bundled import protocol_names, schema_path
from exomir.errors import ExomirError

# Values of `protocol` (config key and sample-sheet column): auto, the kit presets, custom.
PROTOCOLS = frozenset(protocol_names())


def load_schema(name: str = "config") -> dict:
    """A schema shipped with the package (workflow/schemas/), with the kit names filled in.

    The schema files leave ``protocol``'s allowed values out: they are the presets of
    kits.yaml (plus auto and custom), added here so no second list exists.
    """
    schema = copy.deepcopy(_schema_file(name))
    protocol = schema.get("properties", {}).get("protocol")
    if protocol is not None:
        protocol["enum"] = ([""] if name == "samples" else []) + list(protocol_names())
    return schema


@cache
def _schema_file(name: str) -> dict:
    with open(schema_path(name)) as handle:
        return yaml.safe_load(handle)


def schema_default(key: str) -> Any:
    """The default of config key ``key`` (``a.b`` when nested): the schema is its only source.

    Code that needs a default (a command-line option, a function parameter) takes it from
    here, so changing the schema changes it everywhere.
    """
    node = _schema_file("config")
    for part in key.split("."):
        node = node["properties"][part]
    return copy.deepcopy(node["default"])


def _fill_defaults(schema: Mapping, instance: Any) -> None:
    """Insert schema defaults for missing keys, recursing into objects (jsonschema does not)."""
    if not isinstance(instance, dict) or schema.get("type") != "object":
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _fill_defaults(sub, instance[key])


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)
        return f"{error.instance!r} is not allowed; allowed values: {allowed}"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        known = ", ".join(sorted(error.schema.get("properties", {})))
        return f"unknown key(s) {', '.join(map(repr, extra))}; known keys: {known}"
    if error.validator == "not":
        return f"{error.instance!r} is a reserved name (an output file of results/de)"
    if error.validator == "required":
        return error.message
    return error.message


def validate_config(config: Mapping, source: str = "config") -> dict:
    """Return a copy of ``config`` with defaults filled, or raise ExomirError naming the key."""
    resolved = copy.deepcopy(dict(config))
    if "samples" not in resolved and "geo" not in resolved:
        raise ExomirError(
            f"{source}: required key 'samples' is missing (or 'geo', to propose a sheet from GEO)"
        )
    schema = load_schema("config")
    _fill_defaults(schema, resolved)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(resolved), key=lambda e: (len(e.path), str(e.path)))
    if errors:
        error = errors[0]
        if error.validator == "required" and not error.absolute_path:
            missing = error.message.split("'")[1]
            raise ExomirError(f"{source}: required key {missing!r} is missing")
        raise ExomirError(f"{source}: key {_key_path(error)!r}: {_describe(error)}")
    if resolved["min_length"] > resolved["max_length"]:
        raise ExomirError(
            f"{source}: key 'min_length' ({resolved['min_length']}) is larger than "
            f"'max_length' ({resolved['max_length']})"
        )
    if resolved["protocol"] == "custom" and not resolved.get("adapter"):
        raise ExomirError(f"{source}: key 'protocol': 'custom' needs an 'adapter' sequence")
    reference = resolved["reference"]
    if reference["source"] == "local" and not reference.get("hairpin"):
        raise ExomirError(f"{source}: key 'reference.hairpin' is required when source is local")
    if reference["source"] == "local" and not reference.get("mature") and reference["use_gff3"]:
        raise ExomirError(
            f"{source}: key 'reference.use_gff3' needs 'reference.mature' (a GFF3 places matures)"
        )
    if reference.get("use_gff3") and reference["source"] == "local" and not reference.get("gff3"):
        raise ExomirError(
            f"{source}: key 'reference.use_gff3' needs 'reference.gff3' (source local)"
        )
    return resolved


def resolve_path(value: str, base_dir: str | os.PathLike) -> Path:
    """A user path: absolute as given, relative against ``base_dir`` (the working directory)."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(base_dir) / path
