"""End to end on real reads: kit auto-detection, UMI deduplication, counts and read fates.

One workflow run over four samples (real TruSeq, QIAseq-with-UMI and old Illumina v1.5
libraries, all with protocol auto; plus a synthetic QIAseq sample whose molecules are
known), then checks on what a user reads: the kit chosen, the count matrices, the fates.
"""

from __future__ import annotations

import csv
import gzip
import json
import shutil

import pytest

from conftest import DATA, snakemake

MIR21 = "TAGCTTATCAGACTGATGTTGA"  # hsa-miR-21-5p
QIASEQ_ADAPTER = "AACTGTAGGCACCATCAAT"
ILLUMINA = "AGATCGGAAGAGCACACGTCTGAACTCCAGTCAC"
UMI_A = "ACGTACGTACGT"
UMI_A_ERROR = "ACGTACGTACGA"  # one mismatch: a PCR/sequencing error of UMI_A
UMI_B = "TTGGCCAATTGG"

REAL = {
    "truseq": ("human_truseq_1_2k.fastq.gz", "illumina"),
    "qiaseq": ("qiaseq_umi_1.fastq.gz", "qiaseq"),
    "v15": ("human_illumina_v15_SRR646457_2k.fastq.gz", "illumina_v15"),
}


def write_umi_library(path):
    """miR-21-5p as 3 molecules: UMI_A (10 reads + 3 with a UMI error), UMI_B (5), and
    the same UMI_B on a 3'-extended isomiR (a different insert: a molecule of its own)."""
    reads = (
        [(MIR21, UMI_A)] * 10
        + [(MIR21, UMI_A_ERROR)] * 3
        + [(MIR21, UMI_B)] * 5
        + [(MIR21 + "A", UMI_B)] * 2
    )
    with gzip.open(path, "wt") as handle:
        for i, (insert, umi) in enumerate(reads):
            sequence = (insert + QIASEQ_ADAPTER + umi + ILLUMINA)[:75]
            handle.write(f"@r{i}\n{sequence}\n+\n{'I' * len(sequence)}\n")
    return len(reads)


def table(path):
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    return rows[0], rows[1:]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("real_reads")
    lines = ["sample\tfastq\tprotocol\tcondition"]
    for sample, (name, _) in REAL.items():
        shutil.copy(DATA / "reads" / name, workdir / name)
        lines.append(f"{sample}\t{name}\t\tx")
    write_umi_library(workdir / "umi.fastq.gz")
    lines.append("umi_synthetic\tumi.fastq.gz\tqiaseq\tx")
    (workdir / "samples.tsv").write_text("\n".join(lines) + "\n")
    (workdir / "config.yaml").write_text("samples: samples.tsv\nprotocol: auto\nspecies: hsa\n")
    snakemake(workdir, "--configfile", str(workdir / "config.yaml"), "--cores", "2")
    return workdir


@pytest.mark.e2e
@pytest.mark.parametrize("sample", sorted(REAL))
def test_auto_detection_picks_the_kit_of_each_real_library(run, sample):
    detection = json.loads((run / f"results/trimmed/{sample}/protocol.json").read_text())
    assert detection["requested"] == "auto"
    assert detection["protocol"] == REAL[sample][1]


@pytest.mark.e2e
def test_truseq_detection_says_nextflex_shares_its_adapter(run):
    detection = json.loads((run / "results/trimmed/truseq/protocol.json").read_text())
    assert any("NEXTflex" in w or "nextflex" in w for w in detection["warnings"])


@pytest.mark.e2e
def test_read_fates_partition_the_input_of_every_sample(run):
    header, rows = table(run / "results/qc/read_fates.tsv")
    assert header[:9] == [
        "sample",
        "input",
        "adapter_dimer",
        "too_short",
        "too_long",
        "umi_duplicate",
        "spikein",
        "mature",
        "hairpin_only",
    ]
    # then the small-RNA biotypes in priority order (hsa: bundled references)
    assert header[9:-2] == ["rRNA", "tRNA", "snoRNA", "piRNA"]
    assert header[-2:] == ["unassigned", "no_adapter"]
    assert [r[0] for r in rows] == ["truseq", "qiaseq", "v15", "umi_synthetic"]
    for row in rows:
        values = dict(zip(header, row, strict=True))
        partition = sum(float(values[c]) for c in header[2:-1])
        assert partition == pytest.approx(float(values["input"]), abs=1e-3), values


@pytest.mark.e2e
def test_real_libraries_yield_mirna_counts(run):
    header, rows = table(run / "results/counts/mature_counts.tsv")
    assert header[0] == "mirna" and header[1:] == ["truseq", "qiaseq", "v15", "umi_synthetic"]
    names = [r[0] for r in rows]
    assert names == sorted(names) and len(names) == 2656  # every hsa mature, stable order
    totals = {s: sum(float(r[i + 1]) for r in rows) for i, s in enumerate(header[1:])}
    _, fates = table(run / "results/qc/read_fates.tsv")
    for sample in ("truseq", "qiaseq", "v15"):
        fate = next(f for f in fates if f[0] == sample)
        mature_reads = float(fate[7])
        assert mature_reads > 0.15 * float(fate[1]), (sample, fate)
        # counts never exceed the reads that went in (fractional shares sum to the reads)
        assert totals[sample] <= mature_reads + 1e-3


@pytest.mark.e2e
def test_umi_duplicates_collapse_to_molecules(run):
    header, rows = table(run / "results/counts/mature_counts.tsv")
    column = header.index("umi_synthetic")
    counts = {r[0]: float(r[column]) for r in rows}
    assert counts["hsa-miR-21-5p"] == 3
    assert sum(counts.values()) == 3
    stats = json.loads((run / "results/trimmed/umi_synthetic/trim_stats.json").read_text())
    assert stats["unit"] == "molecules"
    assert stats["umi"] == {"reads": 20, "molecules": 3}
    _, fates = table(run / "results/qc/read_fates.tsv")
    fate = dict(zip(header and table(run / "results/qc/read_fates.tsv")[0], fates[3], strict=True))
    assert float(fate["umi_duplicate"]) == 17 and float(fate["mature"]) == 3


@pytest.mark.e2e
def test_user_facing_outputs_exist_and_are_described(run):
    for path in (
        "results/counts/mature_cpm.tsv",
        "results/counts/hairpin_counts.tsv",
        "results/counts/spikein_counts.tsv",
        "results/counts/isomir_counts.tsv",
        "results/align/truseq/hairpin.bam.bai",
        "results/multiqc/multiqc_report.html",
    ):
        assert (run / path).is_file(), path
    provenance = (run / "results/provenance.yaml").read_text()
    for fact in ("sha256", "release: '22.1'", "bowtie:", "multimapper: 'fractional", "qiaseq"):
        assert fact in provenance, fact
    header, rows = table(run / "results/counts/spikein_counts.tsv")
    assert [r[0] for r in rows] == ["cel-miR-238-3p", "cel-miR-39-3p", "cel-miR-54-3p"]


@pytest.mark.e2e
def test_isomirs_are_written_as_valid_mirgff3_and_reach_the_report(run):
    from mirtop.gff import validator

    gff = run / "results/isomirs/isomirs.gff"
    assert validator._check_file(str(gff)) == 0
    header, rows = table(run / "results/counts/mature_counts.tsv")
    samples = header[1:]
    assert f"## COLDATA: {','.join(samples)}\n" in gff.read_text()
    # Every sample with miRNA reads has mirtop statistics (MultiQC's mirtop input).
    counted = {s for i, s in enumerate(samples, 1) if sum(float(r[i]) for r in rows) >= 1}
    stats = json.loads((run / "results/isomirs/isomirs_mirtop_stats.log").read_text())
    assert counted <= set(stats["metrics"]) <= set(samples)
    assert all(stats["metrics"][s]["ref_miRNA_sum"] > 0 for s in counted)
    report = (run / "results/multiqc/multiqc_report.html").read_text()
    assert 'id="mirtop"' in report
