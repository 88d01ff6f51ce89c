"""Files that ship inside the package: the kit presets and the JSON schemas.

They are found through :mod:`importlib.resources`, never through the source tree, so an
editable install, a wheel and a conda env built from this repository all read the same
files. The kit names here are the only list of them: the schemas' ``protocol`` values and
``config.PROTOCOLS`` are derived from ``data/kits.yaml``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import yaml

AUTO = "auto"
CUSTOM = "custom"


def kits_path() -> Path:
    """The kit presets (exomir/data/kits.yaml)."""
    return Path(str(files("exomir") / "data" / "kits.yaml"))


def schema_path(name: str) -> Path:
    """``workflow/schemas/{name}.schema.yaml``, installed as the subpackage exomir.schemas."""
    return Path(str(files("exomir.schemas") / f"{name}.schema.yaml"))


def preset_names() -> tuple[str, ...]:
    """Kit preset names in kits.yaml's order (read without validating the presets)."""
    with open(kits_path()) as handle:
        return tuple(str(name) for name in yaml.safe_load(handle))


def protocol_names() -> tuple[str, ...]:
    """Every value ``protocol`` may take: auto, each preset, custom."""
    return (AUTO, *preset_names(), CUSTOM)
