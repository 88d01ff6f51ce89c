"""Pathway enrichment of DE miRNA targets and literature concordance.

Counts are simulated (negative binomial, log-normal means, DESeq2-like dispersion) for
real human miRNA names, so the bundled miRTarBase table and gene sets give them real
targets and pathways; DE runs through pydeseq2 as in the pipeline.
"""

from __future__ import annotations

import gzip
import json
import time

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from conftest import REPO, snakemake
from exomir.cli import main
from exomir.contrasts import parse_contrasts
from exomir.de import DESettings, run_contrast
from exomir.enrichment import (
    ENRICHMENT_COLUMNS,
    EnrichmentSettings,
    benjamini_hochberg,
    enrich,
    read_gmt,
    select_mirnas,
)
from exomir.enrichment_sources import bundled_geneset_paths, enrichment_inputs
from exomir.errors import ExomirError
from exomir.literature import (
    check_comparisons,
    concordance,
    concordance_summary,
    read_findings,
)
from exomir.normalization import NormalizationSettings, compute_size_factors
from exomir.targets import read_targets

RESOURCES = REPO / "resources"
PLANTED_PATHWAY = "Signaling by WNT"


@pytest.fixture(scope="module")
def targets():
    return read_targets(RESOURCES / "targets" / "hsa.tsv.gz")


@pytest.fixture(scope="module")
def genesets():
    return [read_gmt(path) for path in bundled_geneset_paths(RESOURCES)]


@pytest.fixture(scope="module")
def all_human_mirnas():
    with gzip.open(RESOURCES / "mirbase" / "mature.fa.gz", "rt") as handle:
        return sorted({line[1:].split()[0] for line in handle if line.startswith(">hsa-")})


@pytest.fixture(scope="module")
def human_mirnas(targets, all_human_mirnas):
    """Human miRNAs with at least one target in the bundled table."""
    return [n for n in all_human_mirnas if targets.targets(n)]


def simulate_counts(names, per_group, log2_fold, seed):
    """NB counts, miRNA x sample, two groups; ``log2_fold`` maps names to planted changes.

    The planted miRNAs get means of at least 300 so a 4-fold change is detectable.
    """
    rng = np.random.default_rng(seed)
    means = np.exp(rng.normal(4.0, 2.0, len(names)))
    planted = np.array([n in log2_fold for n in names])
    means[planted] = np.maximum(means[planted], 300)
    dispersion = (0.05 + 1.0 / means) * np.exp(rng.normal(0, 0.3, len(names)))
    fold = np.array([log2_fold.get(n, 0.0) for n in names])
    groups = ["control"] * per_group + ["treated"] * per_group
    samples = [f"S{i + 1:02d}" for i in range(len(groups))]
    depth = np.exp(rng.normal(0, 0.3, len(groups)))
    columns = {}
    for sample, group, factor in zip(samples, groups, depth, strict=True):
        mean = means * factor * (2.0**fold if group == "treated" else 1.0)
        columns[sample] = rng.negative_binomial(1 / dispersion, 1 / (1 + mean * dispersion))
    counts = pd.DataFrame(columns, index=pd.Index(names, name="mirna")).astype(float)
    return counts, pd.DataFrame({"sample": samples, "condition": groups})


def de_table(counts, sheet):
    spec = parse_contrasts(
        {"contrasts": {"t": {"variable": "condition", "level": "treated", "reference": "control"}}}
    )[0]
    factors = compute_size_factors(counts, NormalizationSettings()).set_index("sample")
    return run_contrast(counts, sheet, spec, factors["size_factor"], DESettings()).table


def main_regulators(pathway_genes, expressed, targets, n):
    """The expressed miRNAs whose targets lie most in the pathway (at least 3 of them)."""
    scored = []
    for mirna in expressed:
        genes = targets.targets(mirna)
        inside = len(genes & pathway_genes)
        if inside >= 3:
            scored.append((inside / len(genes), inside, mirna))
    return [mirna for *_, mirna in sorted(scored, reverse=True)[:n]]


def test_planted_regulators_of_a_pathway_put_it_in_the_top_five(targets, genesets, human_mirnas):
    rng = np.random.default_rng(11)
    expressed = sorted(rng.choice(human_mirnas, 400, replace=False))
    reactome = next(s for s in genesets if s.source == "reactome")
    background = set().union(*(targets.targets(m) for m in expressed))
    pathway = reactome.genes[reactome.terms.index(PLANTED_PATHWAY)] & background
    regulators = main_regulators(pathway, expressed, targets, 10)
    others = [m for m in expressed if m not in regulators]
    down = list(rng.choice(others, 10, replace=False))  # unrelated changes the other way
    planted = {**dict.fromkeys(regulators, 2.0), **dict.fromkeys(down, -2.0)}
    counts, sheet = simulate_counts(expressed, 4, planted, seed=5)
    table = de_table(counts, sheet)
    result = enrich(table, targets, genesets, EnrichmentSettings(), alpha=0.05)
    up = result.table[result.table["direction"] == "up"].head(5)
    assert PLANTED_PATHWAY in up["term"].tolist(), up[["term", "padj"]]
    assert up.loc[up["term"] == PLANTED_PATHWAY, "padj"].iloc[0] < 0.05
    assert list(result.table.columns) == ENRICHMENT_COLUMNS
    assert result.table["padj"].is_monotonic_increasing
    assert result.summary["directions"]["up"]["n_mirnas"] >= 8


@pytest.mark.slow
def test_null_counts_with_permuted_labels_give_no_term(targets, genesets, human_mirnas):
    rng = np.random.default_rng(3)
    expressed = sorted(rng.choice(human_mirnas, 400, replace=False))
    counts, sheet = simulate_counts(expressed, 6, {}, seed=8)
    clean = {"alpha": 0, "top_n": 0}
    tested_top_n = 0
    for _ in range(20):
        labels = rng.permutation(sheet["condition"].to_numpy())
        table = de_table(counts, sheet.assign(condition=labels))
        for key, settings in (("alpha", EnrichmentSettings()), ("top_n", EnrichmentSettings(50))):
            result = enrich(table, targets, genesets, settings, alpha=0.05)
            clean[key] += not (result.table["padj"] < 0.05).any()
            if key == "top_n":
                tested_top_n += result.summary["directions"]["up"]["status"] == "tested"
    assert clean["alpha"] >= 18, clean
    assert clean["top_n"] >= 18, clean
    assert tested_top_n >= 18  # the top-50 lists were really tested, not skipped


def synthetic_de(names, seed, listed=()):
    """A DE table with random statistics; ``listed`` miRNAs are called up at padj 1e-4."""
    rng = np.random.default_rng(seed)
    n = len(names)
    table = pd.DataFrame(
        {
            "mirna": names,
            "baseMean": rng.exponential(200, n),
            "log2FoldChange": rng.normal(0, 1, n),
            "lfcSE": 0.3,
            "stat": 0.0,
            "pvalue": rng.uniform(0.05, 1, n),
        }
    )
    table["padj"] = np.minimum(table["pvalue"] * 2, 1.0)
    chosen = table["mirna"].isin(listed)
    table.loc[chosen, ["log2FoldChange", "pvalue", "padj"]] = [2.0, 1e-6, 1e-4]
    return table


@pytest.mark.slow
def test_two_hundred_de_mirnas_enrich_within_ten_cpu_seconds(targets, genesets, human_mirnas):
    rng = np.random.default_rng(4)
    expressed = sorted(rng.choice(human_mirnas, 600, replace=False))
    table = synthetic_de(expressed, 4)
    table.loc[table.index[:200], ["pvalue", "padj"]] = [1e-5, 1e-3]
    cpu, wall = time.process_time(), time.perf_counter()
    result = enrich(table, targets, genesets, EnrichmentSettings(), alpha=0.05)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    directions = result.summary["directions"]
    assert directions["up"]["n_mirnas"] + directions["down"]["n_mirnas"] == 200
    assert cpu < 10, f"{cpu:.1f} s CPU, {wall:.1f} s wall"


def test_hypergeometric_column_equals_fisher_one_sided(targets, genesets, human_mirnas):
    names, listed = human_mirnas[:300], human_mirnas[:20]
    result = enrich(synthetic_de(names, 1, listed), targets, genesets, EnrichmentSettings(), 0.05)
    row = result.table.iloc[0]
    # the 2x2 table rebuilt by hand: background genes of the source, term, list targets
    sets = next(s for s in genesets if s.source == row["source"])
    background = set().union(*(targets.targets(m) for m in names)) & set().union(*sets.genes)
    term = sets.genes[sets.term_ids.index(row["term_id"])] & background
    hit = set().union(*(targets.targets(m) for m in listed)) & background
    k = len(term & hit)
    assert (k, len(term)) == (row["n_hits"], row["n_term_genes"])
    assert len(background) == result.summary["sources"][row["source"]]["n_background"]
    table = [[k, len(term) - k], [len(hit) - k, len(background) - len(term) - len(hit) + k]]
    odds, p = stats.fisher_exact(table, alternative="greater")
    assert row["pvalue_hypergeometric"] == pytest.approx(p, rel=1e-6)
    assert row["odds_ratio"] == pytest.approx(odds, rel=1e-6)
    assert set(row["genes"].split(";")) == term & hit
    assert set(row["mirnas"].split(";")) == {m for m in listed if targets.targets(m) & term & hit}


def test_benjamini_hochberg_matches_scipy():
    p = np.random.default_rng(0).random(500) ** 3
    assert benjamini_hochberg(p) == pytest.approx(stats.false_discovery_control(p))


def test_top_n_takes_the_smallest_pvalues_split_by_sign():
    table = pd.DataFrame(
        {
            "mirna": ["a", "b", "c", "d", "e"],
            "log2FoldChange": [1.0, -1.0, 2.0, -0.5, 1.0],
            "pvalue": [0.01, 0.02, 0.5, 0.03, np.nan],
            "padj": [0.04, 0.06, 0.9, 0.07, np.nan],
        }
    )
    assert select_mirnas(table, 0.05, None) == ({"up": ["a"], "down": []}, ["a", "b", "c", "d"])
    lists, _ = select_mirnas(table, 0.05, 3)
    assert lists == {"up": ["a"], "down": ["b", "d"]}


def test_a_list_too_short_is_reported_not_tested(targets, genesets, human_mirnas):
    names = human_mirnas[:200]
    result = enrich(
        synthetic_de(names, 2, names[:2]), targets, genesets, EnrichmentSettings(), 0.05
    )
    assert result.table.empty
    up = result.summary["directions"]["up"]
    assert up["status"].startswith("not tested: 2 up miRNA(s) with targets")


def test_collapsed_rows_take_the_union_of_their_parts(targets):
    both = targets.targets("hsa-miR-21-5p/hsa-miR-155-5p")
    assert both == targets.targets("hsa-miR-21-5p") | targets.targets("hsa-miR-155-5p")
    assert "PTEN" in targets.targets("hsa-miR-21-5p")


def test_bundle_keeps_strong_and_clip_pairs_only():
    table = pd.read_csv(RESOURCES / "targets" / "hsa.tsv.gz", sep="\t")
    assert set(table["evidence"]) == {"strong", "clip"}
    assert not table.duplicated(["mirna", "gene"]).any()
    for path in [*RESOURCES.glob("targets/*.gz"), *RESOURCES.glob("genesets/*.gz")]:
        assert path.stat().st_size < 3_000_000, path


def test_reactome_layout_is_recognised_and_bad_gmt_is_one_line(tmp_path):
    path = tmp_path / "mine.gmt"
    path.write_text("PTEN Regulation\tR-HSA-6807070\tPTEN\tAKT1\nGO:1\thttp://x\tA\n")
    sets = read_gmt(path)
    assert sets.source == "mine"
    assert sets.term_ids == ["R-HSA-6807070", "GO:1"]
    assert sets.terms == ["PTEN Regulation", "GO:1"]
    path.write_text("only_a_name\tdescription\n")
    with pytest.raises(ExomirError, match=r"mine.gmt: line 1: a GMT line needs"):
        read_gmt(path)


def test_target_table_without_columns_is_one_line(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("mirna\ttarget\nhsa-miR-1\tIGF1\n")
    with pytest.raises(ExomirError, match=r"t.tsv: target table lacks column\(s\) gene"):
        read_targets(path)


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"species": "hsa"}, None),
        ({"species": "mmu"}, "the bundled gene sets are human and species is mmu"),
        ({"species": "mmu", "genesets": "m.gmt"}, None),
        (
            {"species": "rno", "genesets": "r.gmt"},
            "no miRNA-target table is bundled for species rno",
        ),
        ({"species": "rno", "genesets": ["r.gmt"], "targets": "r.tsv"}, None),
    ],
)
def test_inputs_by_species(tmp_path, config, reason):
    inputs = enrichment_inputs(config, RESOURCES, tmp_path)
    if reason is None:
        assert inputs.skip_reason is None and inputs.genesets and inputs.targets
    else:
        assert inputs.skip_reason.startswith(reason)
    if config["species"] == "mmu" and "targets" not in config:
        assert inputs.targets.name == "mmu.tsv.gz"


def test_skipped_enrichment_writes_empty_table_and_reason(tmp_path, human_mirnas):
    synthetic_de(human_mirnas[:50], 0).to_csv(tmp_path / "de.tsv", sep="\t", index=False)
    out = tmp_path / "enrichment"
    argv = ["enrich", "--name", "c", "--de-table", str(tmp_path / "de.tsv")]
    (tmp_path / "spec.json").write_text(json.dumps({"alpha": 0.05}))
    argv += ["--skip-reason", "no table for rno", "--config", str(tmp_path / "spec.json")]
    argv += ["--out", str(out / "c.tsv"), "--summary", str(out / "c.json")]
    argv += ["--multiqc", str(out / "c_mqc.yaml")]
    assert main(argv) == 0
    assert (out / "c.tsv").read_text().rstrip("\n").split("\t") == ENRICHMENT_COLUMNS
    assert json.loads((out / "c.json").read_text())["skipped"] == "no table for rno"
    assert "Enrichment skipped: no table for rno." in (out / "c_mqc.yaml").read_text()


# --- literature ------------------------------------------------------------------------
FINDINGS = RESOURCES / "literature" / "seed_findings.tsv"
COMPARISON = "exercise_post0h_vs_pre"


@pytest.fixture(scope="module")
def findings():
    return read_findings(FINDINGS)


@pytest.mark.parametrize("reverse", [False, True])
def test_planted_literature_comparison_agrees_and_reversed_none(
    findings, all_human_mirnas, reverse
):
    human_mirnas = all_human_mirnas
    chosen = findings[findings["comparison"] == COMPARISON]
    published = {
        f"hsa-{m}": (1 if d == "up" else -1)
        for m, d in zip(chosen["mirna"], chosen["direction"], strict=True)
    }
    assert all(name in human_mirnas for name in published), published
    sign = -1 if reverse else 1
    rng = np.random.default_rng(2)
    others = list(rng.choice([m for m in human_mirnas if m not in published], 300, replace=False))
    planted = {m: 2.0 * s * sign for m, s in published.items()}
    counts, sheet = simulate_counts(sorted(others + list(published)), 4, planted, seed=9)
    table = concordance(findings, COMPARISON, de_table(counts, sheet), alpha=0.05)
    assert len(table) == len(chosen) == 8
    expected = "no" if reverse else "yes"
    assert table["agrees"].tolist() == [expected] * 8, table
    summary = concordance_summary("t", table)
    assert summary["n_agree"] == (0 if reverse else 8)
    assert summary["n_with_verdict"] == 8
    if not reverse:
        assert summary["sign_test_p"] == pytest.approx(0.5**8)


def test_verdicts_for_unchanged_mechanism_missing_and_filtered(findings):
    de = pd.DataFrame(
        {
            "mirna": [
                "hsa-miR-206",
                "hsa-miR-146a-5p",
                "hsa-miR-16-5p",
                "hsa-miR-16-2-3p",
                "hsa-miR-126-3p",
                "hsa-miR-133b",
            ],
            "baseMean": [500.0, 80.0, 900.0, 5.0, 40.0, 0.0],
            "log2FoldChange": [1.5, -1.0, 0.1, 3.0, 0.2, 0.0],
            "padj": [0.001, 0.01, 0.6, 0.001, np.nan, np.nan],
        }
    )
    table = concordance(findings, "exercise_resistance_2h_vs_pre", de, alpha=0.05).set_index(
        "published"
    )
    assert table.loc["miR-206", "agrees"] == "yes"
    assert table.loc["miR-146a", "agrees"] == "no"  # published up, significantly down
    # no arm: both arms matched, the abundant one (5p, unchanged) decides
    assert table.loc["miR-16", "matched"] == "hsa-miR-16-2-3p;hsa-miR-16-5p"
    assert table.loc["miR-16", "mirna"] == "hsa-miR-16-5p"
    assert table.loc["miR-16", "agrees"] == "yes"
    assert table.loc["miR-126", "agrees"] == "not tested"
    assert table.loc["miR-133b", "agrees"] == "not detected"
    mechanism = concordance(findings, "ageing_atrophy", de, alpha=0.05)
    assert set(mechanism.loc[mechanism["expected"] == "mechanism", "agrees"]) == {"no verdict"}


def test_unknown_comparison_is_one_line_naming_the_contrast(findings):
    with pytest.raises(ExomirError, match=r"contrast 'c': literature comparison 'nope' is not in"):
        check_comparisons(findings, {"c": "nope"}, str(FINDINGS))


def test_literature_table_with_bad_direction_is_refused(tmp_path):
    path = tmp_path / "lit.tsv"
    path.write_text("comparison\tmirna\tdirection\nx\tmiR-1\tsideways\n")
    with pytest.raises(ExomirError, match="lit.tsv: direction must be one of"):
        read_findings(path)


@pytest.mark.parametrize("name", ["gse144627_exercise.yaml", "chemoresistance_template.yaml"])
def test_example_configs_name_comparisons_of_the_bundled_table(findings, name):
    config = yaml.safe_load((REPO / "config" / "examples" / name).read_text())
    named = {c: spec["literature"] for c, spec in config["contrasts"].items()}
    assert all(named.values()), named
    check_comparisons(findings, named, str(FINDINGS))


@pytest.mark.slow
def test_workflow_from_a_count_matrix_writes_enrichment_literature_and_report(
    tmp_path, human_mirnas, all_human_mirnas
):
    rng = np.random.default_rng(6)
    published = ["hsa-miR-486-5p", "hsa-miR-215-5p", "hsa-miR-941", "hsa-miR-151b"]
    names = sorted(set(rng.choice(human_mirnas, 300, replace=False)) | set(published))
    planted = {"hsa-miR-486-5p": 2.0, "hsa-miR-215-5p": 2.0, "hsa-miR-941": 2.0}
    planted["hsa-miR-151b"] = -2.0
    counts, sheet = simulate_counts(names, 4, planted, seed=1)
    counts.astype(int).to_csv(tmp_path / "counts.tsv", sep="\t")
    sheet.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    (tmp_path / "config.yaml").write_text(
        "samples: samples.tsv\ncounts_matrix: counts.tsv\ndesign: '~ condition'\n"
        "enrichment: {top_n: 50}\ncontrasts:\n"
        "  treated_vs_control: {variable: condition, level: treated, reference: control,\n"
        "                       literature: exercise_trained_vs_sedentary}\n"
    )
    snakemake(tmp_path, "--configfile", str(tmp_path / "config.yaml"), "--cores", "2")
    results = tmp_path / "results"
    enrichment = pd.read_csv(results / "enrichment/treated_vs_control.tsv", sep="\t")
    assert list(enrichment.columns) == ENRICHMENT_COLUMNS and len(enrichment) > 0
    summary = json.loads((results / "enrichment/treated_vs_control.json").read_text())
    assert summary["selection"] == "top 50 by p-value"
    literature = pd.read_csv(results / "literature/treated_vs_control.tsv", sep="\t")
    assert literature["agrees"].tolist() == ["yes"] * 4
    report = (results / "multiqc/multiqc_report.html").read_text()
    assert "exomir_enrichment_treated_vs_control" in report
    assert "4 of 4 findings of exercise_trained_vs_sedentary agree" in report
    provenance = yaml.safe_load((results / "provenance.yaml").read_text())
    targets = provenance["enrichment"]["targets"]
    assert targets["release"].startswith("not stated in the data; its counts fit miRTarBase 8.0")
    assert set(targets["evidence_classes"]) == {"strong", "clip"}
    assert len(provenance["enrichment"]["genesets"]) == 2


def test_workflow_stops_at_load_on_an_unknown_comparison(tmp_path):
    (tmp_path / "counts.tsv").write_text("mirna\ta\tb\tc\td\nhsa-miR-1\t1\t2\t3\t4\n")
    (tmp_path / "samples.tsv").write_text("sample\tcondition\na\tx\nb\tx\nc\ty\nd\ty\n")
    (tmp_path / "config.yaml").write_text(
        "samples: samples.tsv\ncounts_matrix: counts.tsv\ncontrasts:\n"
        "  y_vs_x: {variable: condition, level: y, reference: x, literature: nope}\n"
    )
    config = str(tmp_path / "config.yaml")
    result = snakemake(tmp_path, "--configfile", config, "-n", check=False)
    assert result.returncode != 0
    message = "contrast 'y_vs_x': literature comparison 'nope' is not in"
    assert message in result.stderr + result.stdout


def test_user_targets_and_gmt_of_another_species_are_used(tmp_path):
    """rno with a user's table and GMT: the set the listed miRNAs target comes first."""
    rng = np.random.default_rng(0)
    genes = [f"Gene{i}" for i in range(2000)]
    mirnas = [f"rno-miR-{i}" for i in range(200)]
    pathway = genes[:20]
    rows = []
    for i, mirna in enumerate(mirnas):
        targeted = list(rng.choice(genes, 15, replace=False))
        if i < 8:  # the listed miRNAs: a quarter of the pathway each
            targeted += list(rng.choice(pathway, 5, replace=False))
        rows += [(mirna, g, "strong") for g in sorted(set(targeted))]
    pd.DataFrame(rows, columns=["mirna", "gene", "evidence"]).to_csv(
        tmp_path / "targets.tsv", sep="\t", index=False
    )
    sets = [genes[i : i + 20] for i in range(0, 2000, 20)]
    (tmp_path / "rat.gmt").write_text(
        "".join(f"Set {i}\tR-RNO-{1000 + i}\t" + "\t".join(s) + "\n" for i, s in enumerate(sets))
    )
    synthetic_de(mirnas, 3, mirnas[:8]).to_csv(tmp_path / "de.tsv", sep="\t", index=False)
    out = tmp_path / "out"
    argv = ["enrich", "--name", "c", "--de-table", str(tmp_path / "de.tsv")]
    argv += ["--targets", str(tmp_path / "targets.tsv"), "--genesets", str(tmp_path / "rat.gmt")]
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"alpha": 0.05, "enrichment": {"permutations": 200}}))
    argv += ["--config", str(spec)]
    argv += ["--out", str(out / "c.tsv"), "--summary", str(out / "c.json")]
    argv += ["--multiqc", str(out / "c_mqc.yaml")]
    assert main(argv) == 0
    table = pd.read_csv(out / "c.tsv", sep="\t")
    top = table.iloc[0]
    assert (top["source"], top["term_id"], top["term"]) == ("rat", "R-RNO-1000", "Set 0")
    assert top["direction"] == "up" and top["padj"] < 0.05
    assert set(top["mirnas"].split(";")) == set(mirnas[:8])
    assert "scatter" in (out / "c_mqc.yaml").read_text()


def test_provenance_records_the_evidence_classes_and_the_release():
    from exomir.provenance import enrichment_provenance

    record = enrichment_provenance(
        RESOURCES / "targets" / "hsa.tsv.gz", bundled_geneset_paths(RESOURCES), FINDINGS
    )
    assert record["targets"]["release"] == (
        "not stated in the data; its counts fit miRTarBase 8.0 (2020)"
    )
    assert (
        "2 'Functional MTI (Weak)' records from CLIP"
        in record["targets"]["evidence_classes"]["clip"]
    )
    assert [g["origin"].split(",")[0] for g in record["genesets"]] == [
        "Reactome human pathways",
        "GO biological process",
    ]
    assert len(record["literature_table"]["sha256"]) == 64
