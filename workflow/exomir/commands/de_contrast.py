"""exomir de-contrast: pydeseq2 DE of one contrast, with its plots and report section."""

from __future__ import annotations

import argparse
from pathlib import Path

from exomir.arguments import add_config_file, add_threads, config_file

HELP = "Run DE for one contrast; write {name}.tsv, {name}.json, plots and MultiQC content."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="contrast name (a key of contrasts)")
    parser.add_argument("--counts", required=True, help="miRNA x sample count matrix (TSV)")
    parser.add_argument("--samples", required=True, help="sample metadata (TSV: sample, ...)")
    add_config_file(parser, "design, contrasts, alpha, lfc_shrink, normalization, quality_gate")
    parser.add_argument("--size-factors", help="size_factors.tsv from de-normalize")
    parser.add_argument(
        "--spikein-counts", help="spike-in counts, if size factors are computed here"
    )
    parser.add_argument("--quality", help="ev_quality.tsv from quality-gate")
    parser.add_argument(
        "--table-out", required=True, help="{name}.tsv; its summary {name}.json goes beside it"
    )
    parser.add_argument(
        "--plot-dir", required=True, help="writes {name}_volcano, _ma, _heatmap .png/.svg"
    )
    parser.add_argument(
        "--multiqc-dir", required=True, help="writes de_{name}_mqc.tsv, de_{name}_volcano_mqc.yaml"
    )
    add_threads(parser)


def run(args: argparse.Namespace) -> int:
    # pydeseq2 and matplotlib take seconds to import: only when this command runs
    from exomir import plots
    from exomir.contrasts import find_contrast
    from exomir.de import (
        DESettings,
        read_count_matrix,
        read_sample_sheet,
        run_contrast,
        write_contrast_outputs,
    )
    from exomir.de_multiqc import contrast_sections
    from exomir.normalization import NormalizationSettings, compute_size_factors, read_size_factors
    from exomir.quality_gate import QualityThresholds, de_exclusions

    spec = config_file(args)
    contrast = find_contrast(spec, args.name)
    settings = DESettings.from_config(spec)
    normalization = NormalizationSettings.from_config(spec)
    thresholds = QualityThresholds.from_config(spec)
    sheet = read_sample_sheet(args.samples)
    samples = list(sheet["sample"])
    counts = read_count_matrix(args.counts, samples)
    if args.size_factors:
        factors = read_size_factors(args.size_factors, samples)
    else:
        spikeins = (
            read_count_matrix(args.spikein_counts, samples, None) if args.spikein_counts else None
        )
        factors = compute_size_factors(counts, normalization, spikeins, args.spikein_counts or "")
    excluded, kept_failing = de_exclusions(args.quality, thresholds.drop_failing)
    result = run_contrast(
        counts,
        sheet,
        contrast,
        factors.set_index("sample")["size_factor"],
        settings,
        normalization=str(factors["method"].iloc[0]) if len(factors) else normalization.method,
        exclude=excluded,
        n_cpus=args.threads,
        where=args.samples,
    )
    result.summary["quality_gate"] = {
        "drop_failing": thresholds.drop_failing,
        "failing_samples_kept": kept_failing,
    }
    write_contrast_outputs(result, args.table_out)

    plot_dir = Path(args.plot_dir)
    alpha = settings.alpha
    plots.save_figure(
        plots.volcano_plot(result.table, alpha, contrast.name),
        plot_dir / f"{contrast.name}_volcano",
    )
    plots.save_figure(
        plots.ma_plot(result.table, alpha, contrast.name), plot_dir / f"{contrast.name}_ma"
    )
    groups = sheet.set_index("sample")[contrast.variable]
    heatmap = plots.heatmap_plot(result.vst, plots.top_mirnas(result.table), groups, contrast.name)
    plots.save_figure(heatmap, plot_dir / f"{contrast.name}_heatmap")
    contrast_sections(
        contrast.name,
        result.table,
        args.multiqc_dir,
        alpha=alpha,
        level=contrast.level,
        reference=contrast.reference,
        vst=result.vst,
        groups=groups,
    )
    return 0
