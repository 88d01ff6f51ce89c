"""exomir de-contrast: pydeseq2 DE of one contrast, with its plots and report section."""

from __future__ import annotations

import argparse
from pathlib import Path

from exomir.commands._de_common import add_spec_argument, add_threads_argument, load_spec

HELP = "Run DE for one contrast; write {name}.tsv, {name}.json, plots and MultiQC content."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="contrast name (a key of contrasts)")
    parser.add_argument("--counts", required=True, help="miRNA x sample count matrix (TSV)")
    parser.add_argument("--samples", required=True, help="sample sheet (TSV)")
    add_spec_argument(parser)
    parser.add_argument("--size-factors", help="size_factors.tsv from de-normalize")
    parser.add_argument(
        "--spikein-counts", help="spike-in counts, if size factors are computed here"
    )
    parser.add_argument("--quality", help="ev_quality.tsv from quality-gate")
    parser.add_argument("--outdir", required=True, help="DE output folder, e.g. results/de")
    add_threads_argument(parser)


def _exclusions(quality_path: str | None, drop_failing: bool) -> tuple[dict[str, str], list[str]]:
    """Samples to leave out (with why) and failing samples kept in, from the quality table."""
    from exomir.quality_gate import failing_samples, read_quality, samples_without_mirna_reads

    if not quality_path:
        return {}, []
    quality = read_quality(quality_path)
    excluded = {s: "no miRNA reads" for s in samples_without_mirna_reads(quality)}
    failing = failing_samples(quality)
    if drop_failing:
        for sample in failing:
            excluded.setdefault(sample, "quality gate FAIL")
        return excluded, []
    return excluded, [s for s in failing if s not in excluded]


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
    from exomir.quality_gate import QualityThresholds

    spec = load_spec(args.spec)
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
    excluded, kept_failing = _exclusions(args.quality, thresholds.drop_failing)
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
    outdir = Path(args.outdir)
    write_contrast_outputs(result, outdir / f"{contrast.name}.tsv")

    plot_dir = outdir / "plots"
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
        outdir / "multiqc",
        alpha=alpha,
        level=contrast.level,
        reference=contrast.reference,
        vst=result.vst,
        groups=groups,
    )
    return 0
