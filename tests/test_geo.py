"""GEO/SRA/ENA accessions → proposed sample sheet, against a local fake of the archives."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO
from exomir import geo
from exomir.cli import main
from exomir.contrasts import validate_de_config
from exomir.de import read_sample_sheet as read_sheet_for_de
from exomir.errors import ExomirError
from exomir.samplesheet import read_sample_sheet

pytest_plugins = ["httpserver", "geo_archive"]

GEO_DATA = Path(__file__).resolve().parent / "data" / "geo"
RECORDED = GEO_DATA / "recorded"
SERIES = "GSE900001"
SERIES_SAMPLES = ["GSM9000011", "GSM9000012", "GSM9000013", "GSM9000014", "GSM9000021"]


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def sheet_for(archive, *accessions: str) -> tuple[list[str], list[list[str]], geo.Dataset]:
    dataset = geo.resolve_dataset(list(accessions), archive.services)
    header, rows = geo.proposed_sheet(dataset.samples)
    return header, rows, dataset


def as_dicts(header: list[str], rows: list[list[str]]) -> dict[str, dict[str, str]]:
    return {row[0]: dict(zip(header, row, strict=True)) for row in rows}


# --- accessions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accession", "kind"),
    [
        ("GSE144627", "series"),
        ("GSM4294001", "geo_sample"),
        ("SRR8426358", "run"),
        ("ERR674736", "run"),
        ("DRR171822", "run"),
        ("SRX5234128", "ena_group"),
        ("PRJNA360829", "ena_group"),
        ("SAMEA3121481", "ena_group"),
    ],
)
def test_accession_kinds_are_recognised(accession, kind):
    assert geo.accession_kind(accession) == kind


@pytest.mark.parametrize("bad", ["GSE", "GSE12x", "GPL18573", "hsa-miR-21", "SRR 1"])
def test_malformed_accession_is_refused_naming_it(bad):
    with pytest.raises(ExomirError, match=f"accession '{bad}': not a GEO series/sample"):
        geo.accession_kind(bad)


def test_config_value_may_be_a_string_or_list_and_is_normalised():
    assert geo.normalise_accessions("gse900001") == ["GSE900001"]
    assert geo.normalise_accessions(["GSM1, GSM2", "SRR3", "gsm1"]) == ["GSM1", "GSM2", "SRR3"]


def test_no_accession_at_all_is_an_error_naming_the_config_key():
    with pytest.raises(ExomirError, match="config key geo"):
        geo.normalise_accessions([" "])


def test_accessions_sort_numerically():
    names = ["GSM10", "GSM9", "GSM100"]
    assert sorted(names, key=geo.accession_sort_key) == ["GSM9", "GSM10", "GSM100"]


def test_ena_file_locations_get_https_unless_they_carry_a_scheme():
    bare = geo.RunFile(
        "ftp.sra.ebi.ac.uk/vol1/fastq/SRR842/008/SRR8426358/SRR8426358_1.fastq.gz", None, None
    )
    assert bare.url == "https://" + bare.location
    assert bare.name == "SRR8426358_1.fastq.gz"
    assert (
        geo.RunFile("http://127.0.0.1:80/x.fastq.gz", None, None).url
        == "http://127.0.0.1:80/x.fastq.gz"
    )


# --- parsing the archives' formats ----------------------------------------------------------


def test_filereport_rows_become_runs_with_files_checksums_and_geo_sample(archive):
    text = archive.fill((GEO_DATA / "filereport_SRP900001.tsv").read_text())
    runs = {run.accession: run for run in geo.parse_read_runs(text)}
    paired = runs["SRR9000104"]
    assert paired.layout == "PAIRED"
    assert [f.name for f in paired.files] == ["SRR9000104_1.fastq.gz", "SRR9000104_2.fastq.gz"]
    assert paired.files[0].size == len(archive.fastq_bytes("SRR9000104_1.fastq.gz"))
    assert paired.geo_accession == "GSM9000013"
    assert paired.sample == "SRS9000013"


def test_empty_filereport_means_no_runs():
    assert geo.parse_read_runs("") == []
    assert geo.parse_read_runs("run_accession\tfastq_ftp\n") == []


def test_filereport_without_run_column_is_an_unexpected_response():
    with pytest.raises(ExomirError, match="no run_accession column"):
        geo.parse_read_runs("<html>maintenance</html>\nsorry\n")


def test_sample_xml_gives_title_and_characteristics_without_archive_bookkeeping():
    title, characteristics = geo.parse_sample_xml((GEO_DATA / "xml_ERS9000141.xml").read_text())
    assert title == "plasma EV pool 7"
    assert characteristics == {"tissue": "blood plasma", "Condition": "chemoresistant"}


def test_recorded_real_ena_sample_xml_is_understood():
    title, characteristics = geo.parse_sample_xml((RECORDED / "SRS4237519.txt").read_text())
    assert title == "old_Dropseq_1"
    assert characteristics == {
        "source_name": "Whole lung",
        "tissue": "Whole lung",
        "age": "24 months",
        "number of cells": "799",
    }


def test_recorded_real_paired_filereport_lists_both_mates_with_checksums():
    (run,) = geo.parse_read_runs((RECORDED / "fastqs.txt").read_text())
    assert run.accession == "SRR8426358"
    assert [f.md5 for f in run.files] == [
        "be7e88cf6f6fd90f1b1170f1cb367123",
        "2124da22644d876c4caa92ffd9e2402e",
    ]
    assert run.files[1].size == 7194107512
    assert run.files[0].url == (
        "https://ftp.sra.ebi.ac.uk/vol1/fastq/SRR842/008/SRR8426358/SRR8426358_1.fastq.gz"
    )


def test_recorded_real_filereport_of_a_run_without_fastq_gives_a_run_without_files():
    (run,) = geo.parse_read_runs((RECORDED / "fastqs_empty.txt").read_text())
    assert (run.accession, run.files) == ("SRR6835844", ())


def test_recorded_real_series_summary_links_its_sra_study_and_samples():
    record = json.loads((RECORDED / "GSE93374_summary.txt").read_text())["result"]["200093374"]
    assert geo.sra_relations(record) == ["SRP096361"]
    assert len(record["samples"]) == record["n_samples"] == 11


def test_recorded_real_series_search_hits_the_conventional_uid():
    found = json.loads((RECORDED / "GSE93374_search.txt").read_text())
    assert str(geo.GEO_UID_OFFSET["GSE"] + 93374) in found["esearchresult"]["idlist"]


def test_sample_xml_that_is_not_xml_is_reported():
    with pytest.raises(ExomirError, match="not valid XML"):
        geo.parse_sample_xml("Service unavailable")


# --- series → sheet -------------------------------------------------------------------------


def test_series_becomes_one_row_per_sequenced_gsm_in_accession_order(archive):
    header, rows, _ = sheet_for(archive, SERIES)
    assert [row[0] for row in rows] == SERIES_SAMPLES


def test_sheet_columns_are_fixed_ones_then_characteristics_in_submitter_order(archive):
    header, _, _ = sheet_for(archive, SERIES)
    assert header == [
        "sample", "runs", "layout", "geo_accession", "title", "condition",
        "source_name", "group", "timepoint", "subject", "sex", "age_years",
    ]  # fmt: skip


def test_sheet_rows_carry_runs_layout_title_and_characteristics(archive):
    header, rows, _ = sheet_for(archive, SERIES)
    table = as_dicts(header, rows)
    assert table["GSM9000012"]["runs"] == "SRR9000102;SRR9000103"
    assert table["GSM9000013"]["layout"] == "PAIRED"
    assert table["GSM9000011"]["title"] == "trained_T1_pre"
    assert table["GSM9000014"]["group"] == "sedentary"
    assert table["GSM9000014"]["timepoint"] == "post"
    assert table["GSM9000021"]["subject"] == "T2"
    assert table["GSM9000011"]["geo_accession"] == "GSM9000011"


def test_condition_is_left_empty_for_the_user_when_no_characteristic_is_named_so(archive):
    header, rows, _ = sheet_for(archive, SERIES)
    assert {row["condition"] for row in as_dicts(header, rows).values()} == {""}


def test_tabs_and_newlines_in_archive_values_are_flattened(archive):
    header, rows, _ = sheet_for(archive, SERIES)
    value = as_dicts(header, rows)["GSM9000013"]["source_name"]
    assert value == "plasma exosomes, ultracentrifugation"


def test_series_sample_outside_the_series_study_is_found_through_its_own_gsm(archive):
    _, rows, _ = sheet_for(archive, SERIES)
    assert rows[-1][:2] == ["GSM9000021", "SRR9000121"]
    assert archive.hits("/eutils/esearch.fcgi?term=GSM9000021[GEO Accession]") == 1


def test_runs_of_other_series_in_the_same_study_are_left_out(archive):
    _, rows, _ = sheet_for(archive, SERIES)
    assert not any("SRR9000199" in row[1] for row in rows)


def test_series_sample_without_sra_runs_is_skipped_with_a_warning(archive):
    _, _, dataset = sheet_for(archive, SERIES)
    assert any("GSM9000015 skipped" in w and "no SRA experiment" in w for w in dataset.warnings)


def test_paired_series_sample_is_kept_and_its_layout_shown(archive):
    _, _, dataset = sheet_for(archive, SERIES)
    paired = next(s for s in dataset.samples if s.name == "GSM9000013")
    assert paired.layout == "PAIRED"


def test_filereport_asks_for_the_fields_the_fetch_step_needs(archive):
    sheet_for(archive, SERIES)
    asked = [r.path for r in archive.server.requests if "filereport" in r.path]
    for needed in ("run_accession", "fastq_ftp", "fastq_md5", "library_layout", "sample_alias"):
        assert all(needed in path for path in asked)


# --- lists of accessions --------------------------------------------------------------------


def test_gsm_and_ena_run_list_gives_one_sample_each(archive):
    header, rows, _ = sheet_for(archive, "GSM9000021", "ERR9000141")
    table = as_dicts(header, rows)
    assert list(table) == ["GSM9000021", "ERS9000141"]
    assert table["ERS9000141"]["runs"] == "ERR9000141"
    assert table["ERS9000141"]["geo_accession"] == ""
    assert table["ERS9000141"]["title"] == "plasma EV pool 7"


def test_characteristic_named_condition_fills_the_condition_column(archive):
    header, rows, _ = sheet_for(archive, "GSM9000021", "ERR9000141")
    table = as_dicts(header, rows)
    assert table["ERS9000141"]["condition"] == "chemoresistant"
    assert table["GSM9000021"]["condition"] == ""
    assert header.count("condition") == 1


def test_columns_are_the_union_of_characteristics_with_gaps_left_empty(archive):
    header, rows, _ = sheet_for(archive, "GSM9000021", "ERR9000141")
    table = as_dicts(header, rows)
    assert table["GSM9000021"]["tissue"] == ""
    assert table["ERS9000141"]["group"] == ""


def test_single_run_selects_only_that_run_of_its_gsm(archive):
    header, rows, _ = sheet_for(archive, "SRR9000102")
    assert [row[:2] for row in rows] == [["GSM9000012", "SRR9000102"]]


def test_sample_reached_twice_is_listed_once_with_both_requests_recorded(archive):
    _, rows, dataset = sheet_for(archive, SERIES, "SRR9000101")
    assert [row[0] for row in rows] == SERIES_SAMPLES
    first = dataset.samples[0]
    assert first.requested_as == [SERIES, "SRR9000101"]
    assert [run.accession for run in first.runs] == ["SRR9000101"]


def test_characteristic_colliding_with_a_fixed_column_is_prefixed():
    sample = geo.DatasetSample("s1", None, "", "SRS1", characteristics={"Runs": "3", "title": "x"})
    assert geo.characteristic_columns([sample]) == {
        "Runs": "characteristic_runs",
        "title": "characteristic_title",
    }


def test_characteristics_that_clean_to_the_same_name_stay_apart():
    a = geo.DatasetSample("a", None, "", "SRS1", characteristics={"cell type": "x"})
    b = geo.DatasetSample("b", None, "", "SRS2", characteristics={"Cell-Type": "y"})
    assert geo.characteristic_columns([a, b]) == {
        "cell type": "cell_type",
        "Cell-Type": "cell_type_2",
    }


@pytest.mark.parametrize(
    ("tag", "column"),
    [("Sex", "sex"), ("age (years)", "age_years"), ("time point", "time_point"), ("3h", "c_3h")],
)
def test_characteristic_tags_become_safe_column_names(tag, column):
    assert geo.column_name(tag) == column


# --- failures -------------------------------------------------------------------------------


def test_unknown_series_is_an_error_naming_it(archive):
    with pytest.raises(ExomirError, match="accession GSE999999: unknown to NCBI GEO"):
        geo.resolve_dataset(["GSE999999"], archive.services)


def test_unknown_run_is_an_error_naming_it(archive):
    archive.serve(archive.report_route("SRR9999999"), archive.Reply(204, b""))
    with pytest.raises(ExomirError, match="accession SRR9999999: unknown to ENA"):
        geo.resolve_dataset(["SRR9999999"], archive.services)


def test_malformed_accession_fails_before_any_request(archive):
    with pytest.raises(ExomirError, match="not a GEO series/sample"):
        geo.normalise_accessions(["GSE900001", "GSE-1"])
    assert archive.server.requests == []


def test_404_from_ena_browser_means_unknown_accession(archive):
    archive.serve("/ena/browser/api/xml/ERS9000141", 404)
    with pytest.raises(ExomirError, match=r"accession ERS9000141: unknown to ENA \(HTTP 404 for "):
        geo.resolve_dataset(["ERR9000141"], archive.services)


def test_429_from_eutils_is_retried_then_succeeds(archive, waits):
    route = f"/eutils/esearch.fcgi?term={SERIES}[GEO Accession]"
    body = (GEO_DATA / f"esearch_{SERIES}.json").read_bytes()
    archive.serve(route, archive.Reply(429, b"", {"Retry-After": "1"}), body)
    _, rows, _ = sheet_for(archive, SERIES)
    assert len(rows) == len(SERIES_SAMPLES)
    assert archive.hits(route) == 2
    assert waits == [1.0]


def test_persistent_5xx_gives_up_after_the_retries_naming_the_url(archive, waits):
    archive.serve("/ena/portal/api/filereport?accession=SRP900001", 503)
    with pytest.raises(
        ExomirError, match=r"download of http://\S+filereport\S+ failed after 3 attempts"
    ):
        geo.resolve_dataset([SERIES], archive.services)
    assert waits == [0.5, 1.0]


def test_esearch_error_message_is_passed_on(archive):
    archive.serve(
        "/eutils/esearch.fcgi?term=GSE900002[GEO Accession]",
        b'{"esearchresult": {"ERROR": "Invalid query"}}',
    )
    with pytest.raises(ExomirError, match="GSE900002: NCBI esearch error: Invalid query"):
        geo.resolve_dataset(["GSE900002"], archive.services)


# --- the command ----------------------------------------------------------------------------


def run_cli(archive, tmp_path: Path, *accessions: str) -> int:
    return main(
        [
            "geo-sheet",
            "--accession",
            *accessions,
            "--eutils",
            archive.services.eutils,
            "--ena-browser",
            archive.services.ena_browser,
            "--ena-portal",
            archive.services.ena_portal,
            "--out",
            str(tmp_path / "geo" / "samples.tsv"),
            "--metadata",
            str(tmp_path / "geo" / "metadata.json"),
        ]
    )


def test_cli_writes_sheet_and_metadata(archive, tmp_path):
    assert run_cli(archive, tmp_path, SERIES) == 0
    rows = read_tsv(tmp_path / "geo" / "samples.tsv")
    assert [row["sample"] for row in rows] == SERIES_SAMPLES
    metadata = json.loads((tmp_path / "geo" / "metadata.json").read_text())
    assert metadata["accessions"] == [SERIES]
    assert metadata["series"][SERIES]["sra_studies"] == ["SRP900001"]
    assert metadata["columns"]["age (years)"] == "age_years"
    assert "left empty" in metadata["condition"]
    run = metadata["samples"][2]["runs"][0]
    assert run["run"] == "SRR9000104"
    assert run["files"][1]["md5"] == archive.fill("{md5:SRR9000104_2.fastq.gz}")


def test_cli_output_is_byte_identical_on_rerun(archive, tmp_path):
    run_cli(archive, tmp_path / "a", SERIES, "ERR9000141")
    run_cli(archive, tmp_path / "b", SERIES, "ERR9000141")
    for name in ("samples.tsv", "metadata.json"):
        assert (tmp_path / "a" / "geo" / name).read_bytes() == (
            tmp_path / "b" / "geo" / name
        ).read_bytes()


def test_cli_error_is_one_line_and_leaves_no_output(archive, tmp_path, capsys):
    status = run_cli(archive, tmp_path, SERIES, "GSE999999")
    err = capsys.readouterr().err
    assert status == 1
    assert err.count("\n") == 1 and "GSE999999" in err
    assert not (tmp_path / "geo").exists() or list((tmp_path / "geo").iterdir()) == []


def test_cli_without_accessions_names_the_config_key(archive, tmp_path, capsys):
    assert run_cli(archive, tmp_path) == 1
    assert "config key geo" in capsys.readouterr().err


def test_example_proposed_sheet_in_config_is_what_the_command_writes(archive, tmp_path):
    run_cli(archive, tmp_path, SERIES, "ERR9000141")
    example = REPO / "config" / "examples" / "proposed_sheet_example.tsv"
    assert (tmp_path / "geo" / "samples.tsv").read_text() == example.read_text()


def test_proposed_sheet_is_a_valid_sample_sheet_for_the_pipeline(archive, tmp_path):
    run_cli(archive, tmp_path, SERIES, "ERR9000141")
    path = tmp_path / "geo" / "samples.tsv"
    sheet = read_sample_sheet(path, need_fastq=True)
    assert sheet.names == [*SERIES_SAMPLES, "ERS9000141"]
    design = read_sheet_for_de(path)
    assert {"group", "timepoint", "subject", "condition"} <= set(design.columns)


# --- the Snakemake rules --------------------------------------------------------------------


# --- example configs ------------------------------------------------------------------------


def exercise_sheet() -> pd.DataFrame:
    """The sheet gse144627_exercise.yaml assumes: 10 men x pre/post/3h."""
    rows = [
        {"sample": f"{subject}_{time}", "group": group, "timepoint": time, "subject": subject}
        for group, prefix in (("trained", "T"), ("sedentary", "S"))
        for subject in (f"{prefix}{i}" for i in range(1, 6))
        for time in ("pre", "post", "3h")
    ]
    return pd.DataFrame(rows)


def chemoresistance_sheet() -> pd.DataFrame:
    rows = [
        {
            "sample": f"P{i}",
            "response": "resistant" if i % 2 else "sensitive",
            "batch": f"b{i % 3}",
            "sex": "MF"[i % 4 // 2],
            "age": str(20 + 3 * i),
        }
        for i in range(12)
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("name", "sheet"),
    [
        ("gse144627_exercise.yaml", exercise_sheet),
        ("chemoresistance_template.yaml", chemoresistance_sheet),
    ],
)
def test_example_config_contrasts_fit_the_sheet_it_assumes(name, sheet):
    config = yaml.safe_load((REPO / "config" / "examples" / name).read_text())
    validate_de_config(config, sheet(), f"assumed sheet for {name}")
    assert geo.normalise_accessions(config["geo"])


def test_exercise_example_compares_groups_at_baseline_and_times_within_groups():
    config = yaml.safe_load((REPO / "config/examples/gse144627_exercise.yaml").read_text())
    contrasts = config["contrasts"]
    assert contrasts["trained_vs_sedentary_pre"]["subset"] == {"timepoint": "pre"}
    within = [c for c in contrasts.values() if c["variable"] == "timepoint"]
    assert {c["subset"]["group"] for c in within} == {"trained", "sedentary"}
    assert all("subject" in c["design"] for c in within)
