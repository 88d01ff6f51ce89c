"""The collapsed FASTA between stages: order, header form, round trip, and parse errors."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from exomir.collapsed import collapsed_lengths, parse_count, read_collapsed, write_collapsed
from exomir.errors import ExomirError


def test_round_trip_keeps_every_sequence_and_count(tmp_path):
    counts = {"TAGCTTATCAGACTGATGTTGA": 7, "TGAGGTAGTAGGTTGTATAGTT": 12, "ACGTACGTACGTACGT": 1}
    path = tmp_path / "inserts.fa"
    assert write_collapsed(counts, path) == 3
    assert {seq: count for _, seq, count in read_collapsed(path)} == counts


def test_ranks_follow_count_descending_then_sequence(tmp_path):
    path = tmp_path / "inserts.fa"
    write_collapsed({"CCCC": 2, "AAAA": 2, "GGGG": 9}, path)
    assert path.read_text() == ">1_x9\nGGGG\n>2_x2\nAAAA\n>3_x2\nCCCC\n"


def test_output_does_not_depend_on_insertion_order(tmp_path):
    items = [("CCCC", 2), ("AAAA", 2), ("GGGG", 9), ("TTTT", 1)]
    write_collapsed(dict(items), tmp_path / "a.fa")
    write_collapsed(dict(reversed(items)), tmp_path / "b.fa")
    assert (tmp_path / "a.fa").read_bytes() == (tmp_path / "b.fa").read_bytes()


def test_writing_leaves_no_temporary_files(tmp_path):
    write_collapsed({"ACGT": 1}, tmp_path / "inserts.fa")
    assert [p.name for p in tmp_path.iterdir()] == ["inserts.fa"]


@pytest.mark.parametrize(("name", "count"), [("1_x345", 345), ("12_x1", 1), ("a_b_x20", 20)])
def test_parse_count_reads_the_suffix(name, count):
    assert parse_count(name) == count


@pytest.mark.parametrize("name", ["read1", "1_x", "1_x3a", "x12"])
def test_parse_count_rejects_uncollapsed_names(name):
    with pytest.raises(ExomirError, match="_x<count>"):
        parse_count(name)


def test_read_collapsed_names_file_and_line_of_a_bad_header(tmp_path):
    path = tmp_path / "bad.fa"
    path.write_text(">1_x3\nACGT\n>read2\nGGGG\n")
    with pytest.raises(ExomirError, match=r"bad\.fa: line 3"):
        list(read_collapsed(path))


def test_read_collapsed_rejects_a_header_without_sequence(tmp_path):
    path = tmp_path / "short.fa"
    path.write_text(">1_x3\nACGT\n>2_x1\n")
    with pytest.raises(ExomirError, match=r"short\.fa.*no sequence"):
        list(read_collapsed(path))


def _lengths_by_reading(path):
    """The reference answer: every record through read_collapsed."""
    lengths = Counter()
    for _, sequence, count in read_collapsed(path):
        lengths[len(sequence)] += count
    return lengths


def test_collapsed_lengths_matches_reading_every_record(tmp_path):
    rng = random.Random(7)
    counts = {
        "".join(rng.choice("ACGTN") for _ in range(rng.randint(1, 60))): rng.randint(1, 10**6)
        for _ in range(5000)
    }
    path = tmp_path / "inserts.fa"
    write_collapsed(counts, path)
    expected = Counter()
    for sequence, count in counts.items():
        expected[len(sequence)] += count
    assert collapsed_lengths(path) == _lengths_by_reading(path) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        ">1_x3\nACGT\n>2_x2\nACG",  # no final newline
        ">1_x3\r\nACGT\r\n>2_x2\r\nAC\r\n",  # CR line ends
        ">1_x3\n\nACGT\n\n>2_x2\nAC\n",  # blank lines
        ">1_x3 desc\nACGT\n>2_x2\nAC\n",  # a description after the name
        ">1_x3\nACGT\n>2_x2\n>3_x1\nAC\n",  # header without sequence
        ">1_x3\nACGT\nACGT\n",  # sequence without header
        ">1\nACGT\n",  # no count
    ],
)
def test_collapsed_lengths_agrees_with_read_collapsed_on_unusual_files(tmp_path, text):
    path = tmp_path / "odd.fa"
    path.write_bytes(text.encode())
    try:
        expected = _lengths_by_reading(path)
    except ExomirError as error:
        with pytest.raises(ExomirError, match=re.escape(str(error))):
            collapsed_lengths(path)
    else:
        assert collapsed_lengths(path) == expected
