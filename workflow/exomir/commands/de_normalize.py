"""exomir de-normalize: size factors, normalised and VST counts, PCA and abundance plots."""

from __future__ import annotations

import argparse
from pathlib import Path

from exomir.commands._de_common import add_spec_argument, add_threads_argument, load_spec

HELP = (
    "Compute size factors and normalised/VST counts for all samples (plus PCA plots and the "
    "report's PCA and sample-correlation sections)."
)
PCA_COLUMNS = ("condition", "batch")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--counts", required=True, help="miRNA x sample count matrix (TSV)")
    parser.add_argument("--samples", required=True, help="sample sheet (TSV)")
    add_spec_argument(parser)
    parser.add_argument(
        "--spikein-counts", help="spike-in x sample counts (normalization: spikein)"
    )
    parser.add_argument("--outdir", required=True, help="DE output folder, e.g. results/de")
    add_threads_argument(parser)


def run(args: argparse.Namespace) -> int:
    # pydeseq2 and matplotlib take seconds to import: only when this command runs
    from exomir import plots
    from exomir.de import read_count_matrix, read_sample_sheet, variance_stabilized
    from exomir.de_multiqc import correlation_section, pca_section, write_mqc_json
    from exomir.normalization import (
        NormalizationSettings,
        compute_size_factors,
        normalized_counts,
        write_matrix,
        write_size_factors,
    )

    spec = load_spec(args.spec)
    settings = NormalizationSettings.from_config(spec)
    sheet = read_sample_sheet(args.samples)
    samples = list(sheet["sample"])
    counts = read_count_matrix(args.counts, samples)
    spikeins = (
        read_count_matrix(args.spikein_counts, samples, None) if args.spikein_counts else None
    )
    factors = compute_size_factors(counts, settings, spikeins, args.spikein_counts or "")
    outdir = Path(args.outdir)
    write_size_factors(factors, outdir / "size_factors.tsv")
    by_sample = factors.set_index("sample")["size_factor"]
    normalized = normalized_counts(counts, by_sample)
    write_matrix(normalized, outdir / "normalized_counts.tsv")
    vst = variance_stabilized(counts, by_sample, n_cpus=args.threads)
    write_matrix(vst, outdir / "vst_counts.tsv", formatter=lambda v: f"{v:.4f}")

    plot_dir = outdir / "plots"
    columns = pca_columns(spec, list(sheet.columns))
    by_column = {column: sheet.set_index("sample")[column] for column in columns}
    for column, groups in by_column.items():
        if vst.shape[1] >= 2:
            plots.save_figure(plots.pca_plot(vst, groups, column), plot_dir / f"pca_{column}")
    plots.save_figure(plots.abundance_plot(normalized), plot_dir / "top_abundance")
    # Always written: the rule declares them, whatever columns the sheet has.
    coordinates, explained = plots.pca_coordinates(vst)
    write_mqc_json(
        pca_section(coordinates, explained, by_column), outdir / "multiqc" / "pca_mqc.json"
    )
    colour_by = columns[0] if columns else ""
    write_mqc_json(
        correlation_section(vst, by_column.get(colour_by), colour_by),
        outdir / "multiqc" / "sample_correlation_mqc.json",
    )
    return 0


def pca_columns(spec: dict, sheet_columns: list[str]) -> list[str]:
    """Sheet columns to colour PCA plots by: condition, batch and each contrast's variable."""
    variables = [c.get("variable") for _, c in sorted((spec.get("contrasts") or {}).items())]
    columns: list[str] = []
    for column in (*PCA_COLUMNS, *variables):
        if column in sheet_columns and column not in columns:
            columns.append(column)
    return columns
