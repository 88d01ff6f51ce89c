"""The report's own sections: fate colours, insert lengths, library complexity, spike-ins,
warnings an analyst must see first, and the methods section from provenance."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from exomir.cli import main
from exomir.fates import COLUMNS as FATE_COLUMNS
from exomir.methods import METHOD_TOOLS, contrast_rows, methods_html
from exomir.report import (
    DOMINATED_SHARE,
    FATE_COLOURS,
    fate_colours,
    fates_section,
    insert_length_section,
    library_facts,
    protocol_section,
    spikein_section,
)
from exomir.report_warnings import (
    MAX_LISTED,
    confounded,
    contrast_warnings,
    quality_warnings,
)

PARTITION = FATE_COLUMNS[FATE_COLUMNS.index("input") + 1 : -1]


def test_every_fate_has_its_own_colour_including_user_biotypes():
    fates = [*PARTITION, "rRNA", "tRNA", "Y_RNA", "snoRNA", "piRNA", "lncRNA", "vault_RNA"]
    fates = list(dict.fromkeys(fates))
    colours = fate_colours(fates)
    assert len(set(colours.values())) == len(fates)
    assert colours["too_short"] != colours["unassigned"]
    assert colours["adapter_dimer"] != colours["piRNA"]
    assert colours["mature"] == FATE_COLOURS["mature"]  # fixed across runs


def test_fate_bar_categories_carry_the_fixed_colours():
    row = {"sample": "A", "input": "10", **{c: "1" for c in PARTITION}, "no_adapter": "0"}
    categories = fates_section([row])["categories"]
    assert [c["color"] for c in categories.values()] == [FATE_COLOURS[c] for c in PARTITION]


def test_insert_lengths_have_a_legend_and_a_percentage_view():
    stats = {"A": {"insert_lengths": {"22": 30, "0": 10}}, "B": {"insert_lengths": {"22": 1}}}
    section = insert_length_section(stats)
    reads, percent = section["data"]
    assert reads["A"] == {0: 10, 22: 30}
    assert percent["A"] == {0: 25.0, 22: 75.0} and percent["B"] == {22: 100.0}
    assert section["pconfig"]["showlegend"] is True
    assert [d["name"] for d in section["pconfig"]["data_labels"]] == ["Reads", "% of reads"]


def test_kit_table_keeps_warning_text_and_formats_counts():
    protocols = {"A": {"requested": "auto", "protocol": "truseq", "warnings": ["a, b, c"]}}
    section = protocol_section(protocols, {"A": {"input": 1000}})
    assert section["data"]["A"]["warnings"] == "a, b, c"
    assert section["headers"]["input"]["format"] == "{:,.0f}"


def test_kit_table_shows_each_candidates_mirna_and_assigned_share_under_a_header():
    candidates = [
        {"protocol": "nextflex", "mirna_fraction": 0.61, "assigned_fraction": 0.8},
        {"protocol": "illumina", "mirna_fraction": 0.05, "assigned_fraction": 0.2},
    ]
    protocols = {"A": {"protocol": "nextflex", "evidence": {"mapping": {"candidates": candidates}}}}
    section = protocol_section(protocols, {"A": {"input": 1000}})
    row = section["data"]["A"]
    assert row["mirna_by_candidate"] == (
        "nextflex 61.0% miRNA, 80.0% assigned · illumina 5.0% miRNA, 20.0% assigned"
    )
    # MultiQC shows only the columns that have a header
    assert set(row) <= set(section["headers"])


def counts_frame():
    return pd.DataFrame(
        {"even": [10.0, 10.0, 10.0, 10.0], "dominated": [97.0, 1.0, 1.0, 1.0], "empty": 0.0},
        index=["m1", "m2", "m3", "m4"],
    )


def test_library_facts_count_detected_mirnas_and_top_shares():
    facts = library_facts(counts_frame())
    assert facts.loc["even", "detected"] == 4 and facts.loc["empty", "detected"] == 0
    assert facts.loc["dominated", "top_mirna"] == "m1"
    assert facts.loc["dominated", "top1_share"] == pytest.approx(0.97)
    assert facts.loc["even", "top1_share"] == pytest.approx(0.25)
    assert facts.loc["even", "top10_share"] == pytest.approx(1.0)
    assert facts.loc["dominated", "dominated"] and not facts.loc["even", "dominated"]
    assert not facts.loc["empty", "dominated"] and np.isnan(facts.loc["empty", "top1_share"])


def test_fractional_counts_below_one_are_not_detected():
    facts = library_facts(pd.DataFrame({"s": [0.5, 1.0, 3.0]}, index=["a", "b", "c"]))
    assert facts.loc["s", "detected"] == 2
    assert DOMINATED_SHARE == 0.5


def test_spikein_panel_only_when_spikeins_have_reads():
    rows = [{"sample": "A", "input": "1000"}, {"sample": "B", "input": "2000"}]
    zero = pd.DataFrame({"A": [0.0], "B": [0.0]}, index=["cel-miR-39-3p"])
    assert spikein_section(zero, rows) is None
    some = pd.DataFrame({"A": [10.0], "B": [10.0]}, index=["cel-miR-39-3p"])
    reads, percent = spikein_section(some, rows)["data"]
    assert reads["A"]["cel-miR-39-3p"] == 10
    assert percent["A"]["cel-miR-39-3p"] == pytest.approx(1.0)
    assert percent["B"]["cel-miR-39-3p"] == pytest.approx(0.5)


LEVELS = {"encode": ["e1", "e2"], "truseq": ["t1", "t2"]}


def test_confounded_when_a_label_separates_the_groups():
    assert confounded(LEVELS, {"e1": "x", "e2": "x", "t1": "y", "t2": "y"})
    assert not confounded(LEVELS, {"e1": "x", "e2": "y", "t1": "x", "t2": "y"})
    assert not confounded(LEVELS, {"e1": "x", "e2": "x", "t1": "x", "t2": "x"})
    assert not confounded(LEVELS, {"e1": "x", "e2": "x", "t1": "y"})  # unlabelled sample


def summary(**extra):
    return {"contrast": "encode_vs_truseq", "samples": LEVELS, "n_tested": 120, **extra}


def test_contrast_confounded_with_detected_kit_is_a_severe_warning():
    kits = {"e1": "encode", "e2": "encode", "t1": "truseq", "t2": "truseq"}
    found = contrast_warnings(summary(), {}, kits)
    assert [w.level for w in found] == ["danger"]
    assert "confounded with the detected kit" in found[0].text
    assert "encode: encode; truseq: truseq" in found[0].text


def test_batch_confounding_and_mixed_kits_in_a_group_are_named():
    batch = {"batch": {"e1": "1", "e2": "1", "t1": "2", "t2": "2"}}
    kits = {"e1": "truseq", "e2": "nextflex", "t1": "truseq", "t2": "truseq"}
    texts = [w.text for w in contrast_warnings(summary(), batch, kits)]
    assert any("confounded with the sheet column 'batch'" in t for t in texts)
    mixed = [t for t in texts if "group encode" in t]
    assert mixed and "nextflex: e2; truseq: e1" in mixed[0]
    assert not any("detected kit" in t for t in texts)


def test_contrast_without_tested_mirnas_is_flagged():
    texts = [w.text for w in contrast_warnings(summary(n_tested=0), {}, {})]
    assert any("no miRNA was tested" in t for t in texts)


def test_failing_and_near_zero_mirna_samples_are_listed():
    quality = pd.DataFrame(
        {
            "sample": ["ok", "bad", "empty"],
            "overall": ["PASS", "FAIL", "FAIL"],
            "failed_checks": ["none", "mirna_reads", "mirna_reads;mirna_fraction"],
            "mirna_reads": [500_000, 2_000, 12],
            "mirna_fraction": [0.4, 0.2, 0.0001],
        }
    )
    found = quality_warnings(quality)
    assert "2 of 3 samples fail" in found[0].text
    assert "failed checks: mirna_reads 2, mirna_fraction 1" in found[0].text
    assert "empty (mirna_reads, mirna_fraction)" in found[0].text
    assert "empty (12 miRNA reads)" in found[1].text and "bad" not in found[1].text


def test_a_long_list_of_failing_samples_is_cut_and_counted():
    n = MAX_LISTED + 30
    quality = pd.DataFrame(
        {
            "sample": [f"S{i:03d}" for i in range(n)],
            "overall": "FAIL",
            "failed_checks": "mirna_reads",
            "mirna_reads": 10,
            "mirna_fraction": 0.2,
        }
    )
    text = quality_warnings(quality)[0].text
    assert f"S{MAX_LISTED - 1:03d} (mirna_reads)" in text
    assert f"S{MAX_LISTED:03d}" not in text and "and 30 more" in text


PROVENANCE = {
    "tools": {
        "cutadapt": "5.2",
        "bowtie": "1.3.1",
        "samtools": "1.16.1",
        "pysam": "0.24.1",
        "pydeseq2": "0.5.4",
        "multiqc": "1.35",
        "exomir": "0.1.0",
    },
    "sample_sheet": {"path": "config/samples.tsv", "sha256": "ab" * 32},
    "reference": {
        "species": "hsa",
        "release": "22.1",
        "matures": 2656,
        "hairpins": 1917,
        "inputs": {"mature": {"path": "mature.fa.gz", "sha256": "cd" * 32, "md5": "ef" * 16}},
    },
    "definitions": {"unit": "reads; for UMI kits molecules"},
    "config": {
        "design": "~ condition",
        "alpha": 0.05,
        "normalization": {"method": "median_of_ratios"},
        "contrasts": {
            "encode_vs_truseq": {"variable": "condition", "level": "encode", "reference": "truseq"}
        },
    },
}


def test_methods_give_versions_reference_and_what_positive_log2fc_means():
    text = methods_html(PROVENANCE, {"encode_vs_truseq": {"normalization": "spikein"}})
    for tool in METHOD_TOOLS:
        assert f"<td>{tool}</td><td>{PROVENANCE['tools'][tool]}</td>" in text
    assert "miRBase release 22.1" in text and "cd" * 32 in text and "ab" * 32 in text
    rows = contrast_rows(PROVENANCE["config"], {"encode_vs_truseq": {"normalization": "spikein"}})
    assert rows[0][1] == "~ condition"
    assert rows[0][3] == "higher in encode than in truseq"
    assert rows[0][4] == "spikein"
    assert "alpha = 0.05" in text and "reads; for UMI kits molecules" in text


def test_overview_command_writes_both_sections(tmp_path):
    (tmp_path / "provenance.yaml").write_text(
        yaml.safe_dump(
            {
                **PROVENANCE,
                "protocols": {
                    s: {"used": "encode" if s[0] == "e" else "truseq"}
                    for s in ("e1", "e2", "t1", "t2")
                },
            }
        )
    )
    (tmp_path / "samples.tsv").write_text(
        "sample\tcondition\ne1\tencode\ne2\tencode\nt1\ttruseq\nt2\ttruseq\n"
    )
    (tmp_path / "c.json").write_text(json.dumps(summary()))
    argv = ["report-overview", "--provenance", str(tmp_path / "provenance.yaml")]
    argv += ["--sample-sheet", str(tmp_path / "samples.tsv")]
    argv += ["--contrast-summary", str(tmp_path / "c.json")]
    argv += ["--warnings-out", str(tmp_path / "w_mqc.json")]
    argv += ["--methods-out", str(tmp_path / "m_mqc.json")]
    argv += ["--order-out", str(tmp_path / "order.yaml")]
    assert main(argv) == 0
    order = yaml.safe_load((tmp_path / "order.yaml").read_text())["report_section_order"]
    ranks = [order[f"exomir_de_encode_vs_truseq_{p}"]["order"] for p in ("top", "volcano", "ma")]
    assert ranks == sorted(ranks)  # top hits first (inside a module, lower orders first)
    warnings = json.loads((tmp_path / "w_mqc.json").read_text())
    assert "confounded with the detected kit" in warnings["data"]
    methods = json.loads((tmp_path / "m_mqc.json").read_text())
    assert "pydeseq2" in methods["data"] and methods["plot_type"] == "html"


def test_overview_command_reports_a_bad_provenance_in_one_line(tmp_path, capsys):
    (tmp_path / "p.yaml").write_text("- a list\n")
    (tmp_path / "s.tsv").write_text("sample\tcondition\na\tx\n")
    argv = ["report-overview", "--provenance", str(tmp_path / "p.yaml")]
    argv += ["--sample-sheet", str(tmp_path / "s.tsv"), "--warnings-out", str(tmp_path / "w")]
    argv += ["--order-out", str(tmp_path / "o.yaml")]
    assert main([*argv, "--methods-out", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert "p.yaml" in err and err.count("\n") == 1
    assert not (tmp_path / "w").exists()
