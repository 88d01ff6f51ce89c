"""exomir de-normalize: size factors, normalised and VST counts, PCA and abundance plots."""

from __future__ import annotations

import argparse
from pathlib import Path

from exomir.arguments import add_config_file, add_threads, config_file

HELP = (
    "Compute size factors and normalised/VST counts for all samples (plus PCA plots and the "
    "report's PCA and sample-correlation sections)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--counts", required=True, help="miRNA x sample count matrix (TSV)")
    parser.add_argument("--samples", required=True, help="sample metadata (TSV: sample, ...)")
    add_config_file(parser, "normalization, contrasts")
    parser.add_argument(
        "--spikein-counts", help="spike-in x sample counts (normalization: spikein)"
    )
    parser.add_argument("--size-factors-out", required=True)
    parser.add_argument("--normalized-out", required=True)
    parser.add_argument("--vst-out", required=True)
    parser.add_argument(
        "--plot-dir", required=True, help="writes top_abundance and pca_<column> .png/.svg"
    )
    parser.add_argument("--pca-section-out", required=True, help="MultiQC PCA section (JSON)")
    parser.add_argument(
        "--correlation-section-out", required=True, help="MultiQC sample-correlation heatmap"
    )
    add_threads(parser)


def run(args: argparse.Namespace) -> int:
    # pydeseq2 and matplotlib take seconds to import: only when this command runs
    from exomir import plots
    from exomir.contrasts import pca_columns
    from exomir.de import (
        check_fittable,
        read_count_matrix,
        read_sample_sheet,
        variance_stabilized,
    )
    from exomir.de_multiqc import correlation_section, pca_section, write_mqc_json
    from exomir.normalization import (
        NormalizationSettings,
        compute_size_factors,
        normalized_counts,
        write_matrix,
        write_size_factors,
    )

    spec = config_file(args)
    settings = NormalizationSettings.from_config(spec)
    sheet = read_sample_sheet(args.samples)
    samples = list(sheet["sample"])
    counts = read_count_matrix(args.counts, samples)
    spikeins = (
        read_count_matrix(args.spikein_counts, samples, None) if args.spikein_counts else None
    )
    with_reads = counts.loc[:, counts.fillna(0).sum(axis=0) > 0]
    check_fittable(with_reads if with_reads.shape[1] else counts, f"{args.counts}: DE")
    factors = compute_size_factors(counts, settings, spikeins, args.spikein_counts or "")
    write_size_factors(factors, args.size_factors_out)
    by_sample = factors.set_index("sample")["size_factor"]
    normalized = normalized_counts(counts, by_sample)
    write_matrix(normalized, args.normalized_out)
    vst = variance_stabilized(counts, by_sample, n_cpus=args.threads)
    write_matrix(vst, args.vst_out, formatter=lambda v: f"{v:.4f}")

    plot_dir = Path(args.plot_dir)
    columns = pca_columns(spec, list(sheet.columns))
    by_column = {column: sheet.set_index("sample")[column] for column in columns}
    for column, groups in by_column.items():
        if vst.shape[1] >= 2:
            plots.save_figure(plots.pca_plot(vst, groups, column), plot_dir / f"pca_{column}")
    plots.save_figure(plots.abundance_plot(normalized), plot_dir / "top_abundance")
    # Always written: the rule declares them, whatever columns the sheet has.
    coordinates, explained = plots.pca_coordinates(vst)
    write_mqc_json(pca_section(coordinates, explained, by_column), args.pca_section_out)
    colour_by = columns[0] if columns else ""
    write_mqc_json(
        correlation_section(vst, by_column.get(colour_by), colour_by),
        args.correlation_section_out,
    )
    return 0
