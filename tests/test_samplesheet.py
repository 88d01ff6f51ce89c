"""Sample sheet checks: every mistake is named by file, line and column before any job runs."""

from __future__ import annotations

import pytest

from exomir.errors import ExomirError
from exomir.samplesheet import read_sample_sheet


@pytest.fixture
def fastq(tmp_path):
    path = tmp_path / "a.fastq.gz"
    path.write_bytes(b"")
    return path


def write(tmp_path, text):
    path = tmp_path / "samples.tsv"
    path.write_text(text)
    return path


def error_of(path, **kwargs):
    with pytest.raises(ExomirError) as info:
        read_sample_sheet(path, base_dir=path.parent, **kwargs)
    return str(info.value)


def test_valid_sheet_keeps_order_metadata_and_lanes(tmp_path, fastq):
    (tmp_path / "b.fq").write_text("")
    sheet = write(
        tmp_path,
        "sample\tfastq\tcondition\tbatch\n"
        "s2\ta.fastq.gz\tresistant\t1\n"
        "s1\ta.fastq.gz;b.fq\tsensitive\t2\n",
    )
    parsed = read_sample_sheet(sheet, base_dir=tmp_path)
    assert parsed.names == ["s2", "s1"]
    assert parsed.samples[1].fastq == [tmp_path / "a.fastq.gz", tmp_path / "b.fq"]
    assert parsed.samples[0].metadata == {"condition": "resistant", "batch": "1"}


def test_comments_and_crlf_line_endings_are_accepted(tmp_path, fastq):
    sheet = write(tmp_path, "# my study\r\nsample\tfastq\r\ns1\ta.fastq.gz\r\n")
    assert read_sample_sheet(sheet, base_dir=tmp_path).names == ["s1"]


@pytest.mark.parametrize("name", ["a b", "a;rm -rf", "$(x)", "-lead", ".hidden", "a/b", "é"])
def test_unsafe_sample_names_are_rejected_with_line_and_column(tmp_path, fastq, name):
    sheet = write(tmp_path, f"sample\tfastq\n{name}\ta.fastq.gz\n")
    message = error_of(sheet)
    assert "line 2, column sample" in message and str(sheet) in message


def test_duplicate_sample_names_point_at_both_lines(tmp_path, fastq):
    sheet = write(tmp_path, "sample\tfastq\ns1\ta.fastq.gz\ns1\ta.fastq.gz\n")
    message = error_of(sheet)
    assert "line 3" in message and "duplicate" in message and "line 2" in message


def test_missing_fastq_file_is_named(tmp_path):
    sheet = write(tmp_path, "sample\tfastq\ns1\tnope.fastq.gz\n")
    message = error_of(sheet)
    assert "line 2, column fastq" in message and "nope.fastq.gz" in message


def test_missing_columns_are_reported(tmp_path):
    assert "no 'sample' column" in error_of(write(tmp_path, "name\tfastq\nx\ty\n"))
    assert "no 'fastq' column" in error_of(write(tmp_path, "sample\tcondition\nx\ty\n"))


def test_fastq_column_is_optional_for_count_matrix_runs(tmp_path):
    sheet = write(tmp_path, "sample\tcondition\nx\ty\n")
    assert read_sample_sheet(sheet, need_fastq=False).names == ["x"]


def test_comma_separated_sheet_gets_a_hint(tmp_path):
    assert "tab-separated" in error_of(write(tmp_path, "sample,fastq\nx,y\n"))


def test_ragged_row_is_reported(tmp_path, fastq):
    message = error_of(write(tmp_path, "sample\tfastq\tcondition\ns1\ta.fastq.gz\n"))
    assert "line 2" in message and "fields" in message


def test_unknown_protocol_and_bad_adapter(tmp_path, fastq):
    sheet = write(tmp_path, "sample\tfastq\tprotocol\ns1\ta.fastq.gz\ttruseqq\n")
    assert "column protocol" in error_of(sheet, protocols={"illumina", "auto"})
    sheet = write(tmp_path, "sample\tfastq\tadapter\ns1\ta.fastq.gz\tTGG-AAT\n")
    assert "column adapter" in error_of(sheet)


def test_empty_sheet_and_missing_file(tmp_path):
    assert "does not exist" in error_of(tmp_path / "absent.tsv")
    assert "empty" in error_of(write(tmp_path, "\n"))
    assert "no samples" in error_of(write(tmp_path, "sample\tfastq\n"))


def test_protocol_values_are_the_kit_presets_by_default(tmp_path, fastq):
    # No `protocols` given: the samples schema's values, i.e. auto, kits.yaml, custom.
    sheet = write(tmp_path, "sample\tfastq\tprotocol\ns1\ta.fastq.gz\tilumina\n")
    message = error_of(sheet)
    assert (
        "line 2, column protocol: 'ilumina' is not one of: auto, cats, custom, illumina," in message
    )
    ok = write(tmp_path, "sample\tfastq\tprotocol\ns1\ta.fastq.gz\tqiaseq\n")
    assert read_sample_sheet(ok, base_dir=tmp_path).samples[0].protocol == "qiaseq"


def test_rows_are_checked_against_the_samples_schema(tmp_path, fastq, monkeypatch):
    # The schema file is the check: a rule added to it is enforced, named by line and column.
    from exomir import config, samplesheet

    schema = config.load_schema("samples")
    schema["properties"]["batch"] = {"type": "string", "pattern": "^b[0-9]+$"}
    monkeypatch.setattr(samplesheet, "load_schema", lambda name: schema)
    sheet = write(tmp_path, "sample\tfastq\tbatch\ns1\ta.fastq.gz\tb1\ns2\ta.fastq.gz\tx\n")
    message = error_of(sheet)
    assert f"sample sheet {sheet}, line 3, column batch: 'x' does not match" in message
