"""Which bowtie executable runs: the binary for the index's size, the wrapper as fallback."""

from __future__ import annotations

import shutil

from exomir import bowtie


def _touch(path) -> None:
    path.write_bytes(b"")


def test_small_index_runs_bowtie_align_s(tmp_path, monkeypatch):
    _touch(tmp_path / "ref.1.ebwt")
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    assert bowtie.bowtie_executable(str(tmp_path / "ref")) == "bowtie-align-s"


def test_large_index_runs_bowtie_align_l(tmp_path, monkeypatch):
    _touch(tmp_path / "ref.1.ebwtl")
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    assert bowtie.bowtie_executable(str(tmp_path / "ref")) == "bowtie-align-l"


def test_without_the_binaries_on_path_the_wrapper_runs(tmp_path, monkeypatch):
    _touch(tmp_path / "ref.1.ebwt")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert bowtie.bowtie_executable(str(tmp_path / "ref")) == "bowtie"
