"""Cohorts of 10,000 samples: what must not grow with the number of samples.

No timings (the test machine is small and shared); these pin down the facts that make
large cohorts work at all. Figures: tests/bench/scale.py.
"""

from __future__ import annotations

import builtins
import gzip
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import snakemake
from exomir import plots, tables

MEMBER = re.compile(r"cohortmember\d{3}")


def write_cohort(directory: Path, n: int) -> Path:
    """A sheet of n tiny FASTQs with a two-group contrast; returns the config."""
    reads = gzip.compress(b"@r\nTGAGGTAGTAGGTTGTATAGTTTGGAATTCTCGG\n+\n" + b"I" * 34 + b"\n")
    lines = ["sample\tfastq\tcondition"]
    for i in range(n):
        name = f"cohortmember{i:03d}"
        (directory / f"{name}.fastq.gz").write_bytes(reads)
        lines.append(f"{name}\t{name}.fastq.gz\t{'ab'[i % 2]}")
    (directory / "samples.tsv").write_text("\n".join(lines) + "\n")
    config = {
        "samples": "samples.tsv",
        "protocol": "illumina",
        "contrasts": {"b_vs_a": {"variable": "condition", "level": "b", "reference": "a"}},
    }
    (directory / "config.yaml").write_text(json.dumps(config))
    return directory / "config.yaml"


def test_no_shell_command_lists_the_samples(tmp_path):
    """Each command names at most one sample, so none grows with the cohort.

    Snakemake hands a command to bash as one argument, which Linux limits to 128 KiB:
    about 3,000 per-sample paths. Aggregating steps (merges, report, provenance, DE) find
    the samples through the sheet and a path template instead.
    """
    config = write_cohort(tmp_path, 12)
    result = snakemake(tmp_path, "--configfile", str(config), "-n", "-p", "--cores", "1")
    output = result.stdout + result.stderr
    commands = [line for line in output.splitlines() if line.startswith("Shell command:")]
    aggregating = [c for c in commands if not MEMBER.search(c)]
    assert any(" merge " in c for c in aggregating), "expected the merge steps in the dry run"
    assert len(commands) > 12 * 3
    crowded = [c[:200] for c in commands if len(set(MEMBER.findall(c))) > 1]
    assert crowded == []


class OpenFileCount:
    """Stands in for ``open`` in exomir.tables: counts the files open at the same time."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0

    def __call__(self, *args, **kwargs):
        return _Counted(builtins.open(*args, **kwargs), self)


class _Counted:
    def __init__(self, handle, count: OpenFileCount) -> None:
        self._handle, self._count = handle, count
        count.now += 1
        count.most = max(count.most, count.now)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __iter__(self):
        return iter(self._handle)

    def __getattr__(self, name: str):
        return getattr(self._handle, name)

    def close(self) -> None:
        if not self._handle.closed:
            self._count.now -= 1
            self._handle.close()


def write_isomir_files(directory: Path, n: int) -> tuple[list[str], list[Path]]:
    samples, paths = [], []
    header = "\t".join(tables.ISOMIR_COLUMNS) + "\n"
    for i in range(n):
        rows = [
            f"miR-{m}\t{'ACGT'[(i + k) % 4]}{'ACGT'[k]}TAG\t0\t{k - 1}\t.\t0\t{i + k + 1}\n"
            for m in range(3)
            for k in range(1 + (i + m) % 3)
        ]
        path = directory / f"s{i}.tsv"
        path.write_text(header + "".join(rows))
        samples.append(f"s{i}")
        paths.append(path)
    return samples, paths


@pytest.mark.parametrize("n_samples", [10, 40])
def test_isomir_merge_keeps_a_bounded_number_of_files_open(tmp_path, monkeypatch, n_samples):
    """At most MAX_OPEN_FILES inputs plus one run being written, for any number of samples."""
    samples, paths = write_isomir_files(tmp_path, n_samples)
    tables.merge_isomirs(samples, paths, tmp_path / "all_at_once.tsv")
    monkeypatch.setattr(tables, "MAX_OPEN_FILES", 3)
    count = OpenFileCount()
    monkeypatch.setattr(tables, "open", count, raising=False)
    tables.merge_isomirs(samples, paths, tmp_path / "bounded.tsv")
    assert count.most <= 3 + 1
    merged = (tmp_path / "bounded.tsv").read_text()
    assert merged == (tmp_path / "all_at_once.tsv").read_text()
    assert len(merged.splitlines()) == 1 + sum(len(p.read_text().splitlines()) - 1 for p in paths)


def cohort_vst(n_samples: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(3)
    samples = [f"cohortmember{i:05d}" for i in range(n_samples)]
    vst = pd.DataFrame(
        rng.normal(5, 2, (40, n_samples)), index=[f"miR-{i}" for i in range(40)], columns=samples
    )
    return vst, pd.Series(["case", "control"] * (n_samples // 2), index=samples)


def test_heatmap_of_a_large_cohort_keeps_its_width_and_names_groups():
    """Width and labels must not grow with samples (a 1,000-sample one was 23,000 px wide)."""
    vst, groups = cohort_vst(1000)
    top = list(vst.index[:10])
    figure = plots.heatmap_plot(vst, top, groups, "c")
    few_vst, few_groups = cohort_vst(plots.MAX_LABELLED_SAMPLES)
    few = plots.heatmap_plot(few_vst, top, few_groups, "c")
    labels = [label.get_text() for label in figure.axes[0].get_xticklabels()]
    assert figure.get_figwidth() <= few.get_figwidth()
    assert labels == ["case (500)", "control (500)"]


def test_pca_of_a_large_cohort_names_no_points():
    vst, groups = cohort_vst(1000)
    figure = plots.pca_plot(vst, groups, "condition")
    assert len(figure.axes[0].texts) == 0
    assert len(plots.pca_plot(*cohort_vst(10), "condition").axes[0].texts) == 10
