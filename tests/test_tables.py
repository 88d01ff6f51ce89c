"""Merging per-sample tables: row/sample checks, CPM, isomiR long table, read fates."""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import pytest

from exomir import cli, fates, tables
from exomir.counting import IsomirCount
from exomir.errors import ExomirError
from exomir.runfiles import write_sample_list

NAMES = ["hsa-let-7a-5p", "hsa-miR-21-5p", "hsa-miR-199a-3p/hsa-miR-199b-3p"]


def write_column(directory: Path, sample: str, values, names=NAMES) -> Path:
    path = directory / f"{sample}.mature.tsv"
    tables.write_count_column(path, sample, names, values)
    return path


def sample_list(directory: Path, samples: list[str], paths: list[Path]) -> str:
    """A sample list file (as rule sample_list writes) for ``exomir merge*``'s --list."""
    out = directory / f"{'_'.join(samples)}.list.tsv"
    write_sample_list(samples, paths, out)
    return str(out)


def read_matrix(path: Path) -> tuple[list[str], dict[str, list[str]]]:
    header, *rows = path.read_text().splitlines()
    return header.split("\t"), {r.split("\t")[0]: r.split("\t")[1:] for r in rows}


def test_columns_follow_the_given_sample_order(tmp_path):
    b = write_column(tmp_path, "B", [1, 2, 3])
    a = write_column(tmp_path, "A", [10, 0, 0.5])
    tables.merge_count_tables(["B", "A"], [b, a], tmp_path / "m.tsv")
    header, rows = read_matrix(tmp_path / "m.tsv")
    assert header == ["mirna", "B", "A"]
    assert list(rows) == NAMES
    assert rows["hsa-miR-199a-3p/hsa-miR-199b-3p"] == ["3", "0.5"]


def test_mismatched_rows_are_refused_naming_the_file(tmp_path):
    a = write_column(tmp_path, "A", [1, 2, 3])
    b = write_column(tmp_path, "B", [1, 2, 3], names=[NAMES[1], NAMES[0], NAMES[2]])
    with pytest.raises(ExomirError, match=r"B\.mature\.tsv: mirna rows differ"):
        tables.merge_count_tables(["A", "B"], [a, b], tmp_path / "m.tsv")
    assert not (tmp_path / "m.tsv").exists()


def test_missing_row_is_refused(tmp_path):
    a = write_column(tmp_path, "A", [1, 2, 3])
    b = write_column(tmp_path, "B", [1, 2], names=NAMES[:2])
    with pytest.raises(ExomirError, match=r"B\.mature\.tsv: mirna rows differ"):
        tables.merge_count_tables(["A", "B"], [a, b], tmp_path / "m.tsv")


def test_column_must_be_the_named_sample(tmp_path):
    a = write_column(tmp_path, "A", [1, 2, 3])
    b = write_column(tmp_path, "B", [1, 2, 3])
    with pytest.raises(ExomirError, match=r"B\.mature\.tsv: header must be 'mirna<TAB>C'"):
        tables.merge_count_tables(["A", "C"], [a, b], tmp_path / "m.tsv")


def test_non_numeric_count_is_refused(tmp_path):
    a = write_column(tmp_path, "A", [1, 2, 3])
    b = tmp_path / "B.tsv"
    b.write_text("mirna\tB\n" + "".join(f"{n}\t{v}\n" for n, v in zip(NAMES, "1x2", strict=True)))
    with pytest.raises(ExomirError, match=r"B\.tsv: 'x' is not a count"):
        tables.merge_count_tables(["A", "B"], [a, b], tmp_path / "m.tsv")


@pytest.mark.parametrize(
    ("samples", "message"),
    [(["A"], "1 sample names but 2 input"), (["A", "A"], "A is given twice")],
)
def test_sample_list_must_match_inputs(tmp_path, samples, message):
    a = write_column(tmp_path, "A", [1, 2, 3])
    with pytest.raises(ExomirError, match=message):
        tables.merge_count_tables(samples, [a, a], tmp_path / "m.tsv")


def test_cpm_scales_each_sample_to_a_million(tmp_path):
    a = write_column(tmp_path, "A", [1, 3, 0])
    b = write_column(tmp_path, "B", [5, 5, 10])
    tables.merge_count_tables(["A", "B"], [a, b], tmp_path / "m.tsv", tmp_path / "cpm.tsv")
    _, rows = read_matrix(tmp_path / "cpm.tsv")
    assert rows[NAMES[0]] == ["250000", "250000"]
    assert rows[NAMES[1]] == ["750000", "250000"]
    assert rows[NAMES[2]] == ["0", "500000"]


def test_all_zero_sample_gets_zero_cpm_and_is_reported(tmp_path, capsys):
    a = write_column(tmp_path, "A", [1, 3, 0])
    z = write_column(tmp_path, "Z", [0, 0, 0])
    status = cli.main(
        ["merge", "--list", sample_list(tmp_path, ["A", "Z"], [a, z])]
        + ["--out", str(tmp_path / "m.tsv"), "--cpm-out", str(tmp_path / "cpm.tsv")]
    )
    _, rows = read_matrix(tmp_path / "cpm.tsv")
    assert status == 0
    assert [row[1] for row in rows.values()] == ["0", "0", "0"]
    assert "1 sample(s) with no counts, CPM set to 0: Z" in capsys.readouterr().err


def test_samples_and_inputs_come_from_a_sample_list_in_its_order(tmp_path):
    paths = [write_column(tmp_path, s, [i, 0, 1]) for i, s in enumerate(["S1", "S2", "S3"])]
    order = [("S3", paths[2]), ("S1", paths[0]), ("S2", paths[1])]
    write_sample_list([s for s, _ in order], [p for _, p in order], tmp_path / "list.tsv")
    status = cli.main(
        ["merge", "--list", str(tmp_path / "list.tsv"), "--out", str(tmp_path / "m.tsv")]
    )
    header, rows = read_matrix(tmp_path / "m.tsv")
    assert status == 0
    assert header == ["mirna", "S3", "S1", "S2"]
    assert rows[NAMES[0]] == ["2", "0", "1"]


def test_a_malformed_sample_list_is_one_line_naming_the_line(tmp_path, capsys):
    (tmp_path / "list.tsv").write_text("S1\tper_sample/S1.tsv\nS2 per_sample/S2.tsv\n")
    status = cli.main(
        ["merge", "--list", str(tmp_path / "list.tsv"), "--out", str(tmp_path / "m.tsv")]
    )
    err = capsys.readouterr().err
    assert status == 1
    assert "list.tsv: line 2: expected 'sample<TAB>path'" in err and err.count("\n") == 1
    assert not (tmp_path / "m.tsv").exists()


def test_merged_values_round_trip_at_scale(tmp_path):
    """1,000 samples x 3,000 rows in a few seconds (timing printed for the report)."""
    rng = np.random.default_rng(5)
    n_samples, n_rows = 1000, 3000
    names = [f"hsa-miR-{i}" for i in range(n_rows)]
    samples = [f"S{i:04d}" for i in range(n_samples)]
    paths = []
    for sample in samples:
        values = rng.negative_binomial(0.5, 0.01, n_rows) * (rng.random(n_rows) < 0.4)
        path = tmp_path / f"{sample}.tsv"
        rows = "".join(f"{n}\t{v}\n" for n, v in zip(names, values, strict=True))
        path.write_text(f"mirna\t{sample}\n{rows}")
        paths.append(path)
    started = time.perf_counter()
    tables.merge_count_tables(samples, paths, tmp_path / "m.tsv", tmp_path / "cpm.tsv")
    elapsed = time.perf_counter() - started
    print(f"\nmerge of {n_samples} samples x {n_rows} rows (+ CPM): {elapsed:.2f} s")
    probe = random.Random(1).sample(range(n_samples), 5)
    lines = (tmp_path / "m.tsv").read_text().splitlines()
    for column in probe:
        original = paths[column].read_text().splitlines()[1:]
        merged = [line.split("\t")[column + 1] for line in lines[1:]]
        assert merged == [line.split("\t")[1] for line in original]


# ---------------------------------------------------------------- isomiRs


def write_isomirs(directory: Path, sample: str, rows: list[tuple]) -> Path:
    path = directory / f"{sample}.isomirs.tsv"
    isomirs = [IsomirCount(*row) for row in rows]
    isomirs.sort(key=lambda i: (i.mirna, -i.count, i.sequence))
    tables.write_isomirs(path, isomirs)
    return path


# (mirna, sequence, start_offset, end_offset, mismatches, count[, tail])
ISOMIRS_B = [("miR-b", "GGT", 0, 0, 0, 2.0), ("miR-a", "TTA", 0, 0, 0, 9.0, "A")]
ISOMIRS_A = [
    ("miR-a", "TTA", 0, 0, 0, 1.0, "A"),
    ("miR-a", "CTA", -1, 0, 1, 0.5),
    ("miR-b", "GGT", 0, 0, 0, 4.0),
    ("miR-c", "AAA", 0, 0, 0, 0.0),
]


def test_isomir_files_drop_zero_rows_and_keep_their_order(tmp_path):
    lines = write_isomirs(tmp_path, "A", ISOMIRS_A).read_text().splitlines()
    assert lines == [
        "\t".join(tables.ISOMIR_COLUMNS),
        "miR-a\tTTA\t0\t0\tA\t0\t1",
        "miR-a\tCTA\t-1\t0\t.\t1\t0.5",
        "miR-b\tGGT\t0\t0\t.\t0\t4",
    ]


def merged_isomirs(tmp_path: Path) -> list[str]:
    paths = [write_isomirs(tmp_path, "B", ISOMIRS_B), write_isomirs(tmp_path, "A", ISOMIRS_A)]
    tables.merge_isomirs(["B", "A"], paths, tmp_path / "isomirs.tsv")
    return (tmp_path / "isomirs.tsv").read_text().splitlines()


def test_isomir_merge_sorts_by_mirna_sequence_then_sheet_order(tmp_path):
    assert merged_isomirs(tmp_path) == [
        "mirna\tsequence\tstart_offset\tend_offset\ttail\tsample\tcount",
        "miR-a\tCTA\t-1\t0\t.\tA\t0.5",
        "miR-a\tTTA\t0\t0\tA\tB\t9",
        "miR-a\tTTA\t0\t0\tA\tA\t1",
        "miR-b\tGGT\t0\t0\t.\tB\t2",
        "miR-b\tGGT\t0\t0\t.\tA\t4",
    ]


def test_isomir_merge_through_intermediate_runs_gives_the_same_table(tmp_path, monkeypatch):
    direct = merged_isomirs(tmp_path / "direct")
    monkeypatch.setattr(tables, "MAX_OPEN_FILES", 1)
    assert merged_isomirs(tmp_path / "runs") == direct
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "A.isomirs.tsv",
        "B.isomirs.tsv",
        "isomirs.tsv",
    ]


def test_isomir_merge_refuses_an_unsorted_file(tmp_path):
    path = tmp_path / "bad.tsv"
    header = "\t".join(tables.ISOMIR_COLUMNS)
    path.write_text(f"{header}\nmiR-b\tA\t0\t0\t.\t0\t1\nmiR-a\tC\t0\t0\t.\t0\t1\n")
    with pytest.raises(ExomirError, match=r"bad\.tsv: line 3: rows are not sorted"):
        tables.merge_isomirs(["X"], [path], tmp_path / "out.tsv")


def test_merge_isomirs_cli(tmp_path):
    a = write_isomirs(tmp_path, "A", ISOMIRS_A)
    out = tmp_path / "long.tsv"
    status = cli.main(
        ["merge-isomirs", "--list", sample_list(tmp_path, ["A"], [a]), "--out", str(out)]
    )
    assert status == 0
    assert out.read_text().splitlines()[1] == "miR-a\tCTA\t-1\t0\t.\tA\t0.5"


# ---------------------------------------------------------------- read fates


def write_fates(directory: Path, sample: str, partition: list[int], input_reads=None) -> Path:
    keys = fates.COLUMNS[2:-1]
    row = {"sample": sample, "input": sum(partition) if input_reads is None else input_reads}
    row.update(dict(zip(keys, partition, strict=True)))
    row["no_adapter"] = 3
    path = directory / f"{sample}.fates.tsv"
    fates.write_fates(path, row)
    return path


def test_merge_fates_keeps_the_given_order(tmp_path):
    z = write_fates(tmp_path, "Z", [1, 2, 3, 0, 4, 5, 6, 7])
    a = write_fates(tmp_path, "A", [0, 0, 0, 0, 0, 0, 0, 9])
    status = cli.main(
        ["merge-fates", "--list", sample_list(tmp_path, ["Z", "A"], [z, a])]
        + ["--out", str(tmp_path / "f.tsv")]
    )
    lines = (tmp_path / "f.tsv").read_text().splitlines()
    assert status == 0
    assert lines[0].split("\t") == list(fates.COLUMNS)
    assert [line.split("\t")[:2] for line in lines[1:]] == [["Z", "28"], ["A", "9"]]


def test_merge_fates_refuses_a_row_that_does_not_sum(tmp_path):
    good = write_fates(tmp_path, "A", [1, 1, 1, 1, 1, 1, 1, 1])
    bad = write_fates(tmp_path, "B", [1, 1, 1, 1, 1, 1, 1, 1], input_reads=9)
    with pytest.raises(ExomirError, match=r"B\.fates\.tsv: sample B: fates sum to 8, not input 9"):
        fates.merge_fates([good, bad], tmp_path / "f.tsv")


def test_merge_fates_refuses_different_headers(tmp_path):
    good = write_fates(tmp_path, "A", [1, 1, 1, 1, 1, 1, 1, 1])
    other = tmp_path / "other.tsv"
    other.write_text("sample\tinput\tno_adapter\nB\t0\t0\n")
    with pytest.raises(ExomirError, match=r"other\.tsv: header differs"):
        fates.merge_fates([good, other], tmp_path / "f.tsv")


def test_merge_fates_accepts_extra_partition_columns(tmp_path):
    path = tmp_path / "biotypes.tsv"
    path.write_text("sample\tinput\ttrna\tmature\tunassigned\tno_adapter\nA\t10\t3\t5\t2\t1\n")
    fates.merge_fates([path], tmp_path / "f.tsv")
    assert (tmp_path / "f.tsv").read_text() == path.read_text()


def test_merge_fates_checks_the_sample_of_each_file(tmp_path):
    a = write_fates(tmp_path, "A", [1, 1, 1, 1, 1, 1, 1, 1])
    b = write_fates(tmp_path, "B", [1, 1, 1, 1, 1, 1, 1, 1])
    fates.merge_fates([a, b], tmp_path / "f.tsv", samples=["A", "B"])
    with pytest.raises(ExomirError, match=r"B\.fates\.tsv: expected the one row of sample C"):
        fates.merge_fates([a, b], tmp_path / "f.tsv", samples=["A", "C"])


def test_merge_fates_refuses_a_sample_twice(tmp_path):
    a = write_fates(tmp_path, "A", [1, 1, 1, 1, 1, 1, 1, 1])
    with pytest.raises(ExomirError, match="sample A is also in"):
        fates.merge_fates([a, a], tmp_path / "f.tsv")
