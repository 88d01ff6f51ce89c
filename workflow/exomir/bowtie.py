"""Which bowtie (v1) executable to run for an index.

``bowtie`` is a Python wrapper script that picks ``bowtie-align-s`` (small index) or
``bowtie-align-l`` (large index, ``.ebwtl``) and execs it: a Python start-up of ~0.1 CPU s
per call, paid ~15 times a sample (kit test mapping, spike-ins, hairpins, tail pass, each
biotype for short and long inserts). Calling the binary directly skips it.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def bowtie_executable(index: str) -> str:
    """``bowtie-align-s``/``-l`` for ``index`` (a prefix), or the ``bowtie`` wrapper.

    The wrapper is the fallback when the binaries are not on PATH (it finds its own).
    """
    large = not Path(f"{index}.1.ebwt").exists() and Path(f"{index}.1.ebwtl").exists()
    binary = "bowtie-align-l" if large else "bowtie-align-s"
    return binary if shutil.which(binary) is not None else "bowtie"
