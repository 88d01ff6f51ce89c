"""Reading one sample's FASTQ files: collapsing, merging lanes, and every kind of bad input."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from conftest import DATA
from exomir.errors import ExomirError
from exomir.fastq import count_sequences, first_sequences, normalise_sequence

TRUSEQ = DATA / "reads" / "human_truseq_1_2k.fastq.gz"


def fastq_text(records: list[tuple[str, str]], newline: str = "\n") -> str:
    return "".join(
        f"@{name}{newline}{seq}{newline}+{newline}{'I' * len(seq)}{newline}"
        for name, seq in records
    )


def write(path: Path, text: str) -> Path:
    if path.suffix == ".gz":
        with gzip.open(path, "wt", newline="") as handle:
            handle.write(text)
    else:
        path.write_text(text, newline="")
    return path


def numbered(sequences: list[str]) -> list[tuple[str, str]]:
    return [(f"read{i}", seq) for i, seq in enumerate(sequences)]


def test_collapses_identical_reads_and_counts_all_reads(tmp_path):
    path = write(tmp_path / "a.fastq", fastq_text(numbered(["ACGT", "ACGT", "TTTT"])))
    counts, n_reads = count_sequences([path])
    assert counts == {"ACGT": 2, "TTTT": 1}
    assert n_reads == 3


def test_merges_several_files_of_one_sample(tmp_path):
    lane1 = write(tmp_path / "l1.fastq.gz", fastq_text(numbered(["ACGT", "GGGG"])))
    lane2 = write(tmp_path / "l2.fastq", fastq_text(numbered(["ACGT", "CCCC", "CCCC"])))
    counts, n_reads = count_sequences([lane1, lane2])
    assert counts == {"ACGT": 2, "GGGG": 1, "CCCC": 2}
    assert n_reads == 5


def test_real_subset_read_count_matches_collapsed_total():
    counts, n_reads = count_sequences([TRUSEQ])
    with gzip.open(TRUSEQ, "rt") as handle:
        lines = sum(1 for _ in handle)
    assert n_reads == lines // 4
    assert sum(counts.values()) == n_reads
    assert len(counts) < n_reads  # real libraries repeat their abundant miRNAs


def test_truncated_gzip_names_file(tmp_path):
    whole = write(tmp_path / "whole.fastq.gz", fastq_text(numbered(["ACGTACGTAC" * 5] * 5000)))
    data = whole.read_bytes()
    cut = tmp_path / "cut.fastq.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ExomirError, match=r"cut\.fastq\.gz.*truncated"):
        count_sequences([cut])


def test_corrupt_gzip_names_file(tmp_path):
    path = tmp_path / "junk.fastq.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + b"not deflate data" * 4)
    with pytest.raises(ExomirError, match=r"junk\.fastq\.gz: cannot read"):
        count_sequences([path])


def test_sequence_and_quality_length_mismatch_is_an_error(tmp_path):
    path = write(tmp_path / "bad.fastq", "@r1\nACGT\n+\nIIII\n@r2\nACGT\n+\nIII\n")
    with pytest.raises(ExomirError, match=r"bad\.fastq.*malformed"):
        count_sequences([path])


def test_missing_plus_line_is_an_error(tmp_path):
    path = write(tmp_path / "noplus.fastq", "@r1\nACGT\nIIII\n@r2\nACGT\n+\nIIII\n")
    with pytest.raises(ExomirError, match=r"noplus\.fastq.*malformed"):
        count_sequences([path])


@pytest.mark.parametrize("name", ["empty.fastq", "empty.fastq.gz"])
def test_empty_file_contains_no_reads(tmp_path, name):
    path = write(tmp_path / name, "")
    with pytest.raises(ExomirError, match=re.escape(f"{name}: contains no reads")):
        count_sequences([path])


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ExomirError, match=r"absent\.fastq: file not found"):
        count_sequences([tmp_path / "absent.fastq"])


def test_text_that_is_not_fastq_is_rejected(tmp_path):
    path = write(tmp_path / "notes.txt", "hello world\n")
    with pytest.raises(ExomirError, match=r"notes\.txt: neither FASTQ nor FASTA"):
        count_sequences([path])


@pytest.mark.parametrize(
    "names",
    [
        ["pair1", "pair1"],
        ["pair1/1", "pair1/2"],
        ["pair1 1:N:0:ACGT", "pair1 2:N:0:ACGT"],
    ],
    ids=["identical", "slash-1-2", "casava"],
)
def test_interleaved_paired_end_is_refused(tmp_path, names):
    records = [(name, "ACGTACGT") for name in names]
    path = write(tmp_path / "inter.fastq", fastq_text(records))
    with pytest.raises(ExomirError, match=r"inter\.fastq.*paired/interleaved.*R1 only"):
        count_sequences([path])


def test_single_end_reads_named_slash_one_are_accepted(tmp_path):
    records = [("a/1", "ACGT"), ("b/1", "ACGT"), ("c/1", "ACGT")]
    path = write(tmp_path / "r1.fastq", fastq_text(records))
    counts, _ = count_sequences([path])
    assert counts == {"ACGT": 3}


def test_fasta_is_accepted_with_a_warning(tmp_path):
    path = write(tmp_path / "reads.fa", ">r1\nACGT\n>r2\nAC\nGT\n>r3\nGGCC\n")
    warnings: list[str] = []
    counts, n_reads = count_sequences([path], warnings=warnings)
    assert counts == {"ACGT": 2, "GGCC": 1}
    assert n_reads == 3
    assert len(warnings) == 1 and "reads.fa" in warnings[0] and "FASTA" in warnings[0]


def test_windows_line_endings_read_like_unix_ones(tmp_path):
    records = numbered(["ACGTTGCA", "ACGTTGCA", "GGGAAA"])
    unix = write(tmp_path / "unix.fastq", fastq_text(records))
    windows = write(tmp_path / "windows.fastq.gz", fastq_text(records, newline="\r\n"))
    assert count_sequences([windows]) == count_sequences([unix])


def test_lowercase_and_dots_are_normalised_and_merged(tmp_path):
    path = write(tmp_path / "mixed.fastq", fastq_text(numbered(["acgt.", "ACGTN", "AcGt."])))
    counts, n_reads = count_sequences([path])
    assert counts == {"ACGTN": 3}
    assert n_reads == 3


def test_characters_outside_acgtn_are_an_error(tmp_path):
    path = write(tmp_path / "odd.fastq", fastq_text(numbered(["ACGT", "AC-T"])))
    with pytest.raises(ExomirError, match=r"odd\.fastq.*'-'"):
        count_sequences([path])


def test_normalise_sequence_leaves_clean_sequences_untouched():
    clean = "ACGTN"
    assert normalise_sequence(clean) is clean


def test_error_messages_are_one_line(tmp_path):
    path = write(tmp_path / "trunc.fastq", "@r1\nACGT\n+\nIIII\n@r2\nACGT\n")
    with pytest.raises(ExomirError) as caught:
        count_sequences([path])
    assert "\n" not in str(caught.value)
    assert "trunc.fastq" in str(caught.value)


def test_first_sequences_stops_at_limit_across_files(tmp_path):
    one = write(tmp_path / "1.fastq", fastq_text(numbered(["AAAA", "cccc"])))
    two = write(tmp_path / "2.fastq", fastq_text(numbered(["GGGG", "TTTT"])))
    assert first_sequences([one, two], 3) == ["AAAA", "CCCC", "GGGG"]
    assert first_sequences([one, two], 1) == ["AAAA"]


def test_first_sequences_refuses_interleaved_input(tmp_path):
    path = write(tmp_path / "inter.fastq", fastq_text([("x/1", "ACGT"), ("x/2", "ACGT")]))
    with pytest.raises(ExomirError, match="interleaved"):
        first_sequences([path], 100)
