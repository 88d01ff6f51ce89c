"""``exomir merge``: paste per-sample count tables into one matrix (and CPM).

The sample/input options are shared with merge-isomirs and merge-fates: explicit lists
(``--samples``/``--inputs``), list files (``--samples-from``/``--inputs-from``), or the
sample sheet plus a path template, which keeps 10,000-sample command lines short.
"""

from __future__ import annotations

import argparse
import sys

from exomir import tables
from exomir.errors import ExomirError
from exomir.samplesheet import paths_from_template

HELP = "merge per-sample count tables into a matrix (samples in sheet order), optionally CPM"


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """Options naming the samples and their per-sample files, in sample-sheet order."""
    parser.add_argument("--samples", nargs="+", help="sample names, in sample-sheet order")
    parser.add_argument("--samples-from", help="file with one sample name per line")
    parser.add_argument("--inputs", nargs="+", help="per-sample files, in the order of samples")
    parser.add_argument("--inputs-from", help="file with one input path per line")
    parser.add_argument("--sample-sheet", help="sample sheet (instead of the options above)")
    parser.add_argument("--template", help="per-sample path with {sample}, with --sample-sheet")


def samples_and_inputs(
    args: argparse.Namespace, *, need_samples: bool = True
) -> tuple[list[str] | None, list[str]]:
    """(sample names, or None if not given and not needed; input paths) from the options."""
    if args.sample_sheet or args.template:
        if not (args.sample_sheet and args.template):
            raise ExomirError("--sample-sheet and --template go together")
        if args.samples or args.samples_from or args.inputs or args.inputs_from:
            raise ExomirError("give either --sample-sheet/--template or sample and input lists")
        pairs = paths_from_template(args.sample_sheet, args.template)
        return [name for name, _ in pairs], [str(path) for _, path in pairs]
    if args.samples and args.samples_from or args.inputs and args.inputs_from:
        raise ExomirError("give a list either on the command line or in a file, not both")
    samples = _listed(args.samples, args.samples_from)
    inputs = _listed(args.inputs, args.inputs_from)
    if not inputs:
        raise ExomirError("no inputs: give --inputs, --inputs-from or --sample-sheet/--template")
    if samples is None and need_samples:
        raise ExomirError("no sample names: give --samples, --samples-from or --sample-sheet")
    return samples, inputs


def _listed(values: list[str] | None, list_file: str | None) -> list[str] | None:
    return values or (tables.read_list_file(list_file) if list_file else None)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    parser.add_argument(
        "--out", required=True, help="merged table: mirna, then one column per sample"
    )
    parser.add_argument("--cpm-out", help="also write counts per million")


def run(args: argparse.Namespace) -> int:
    samples, inputs = samples_and_inputs(args)
    all_zero = tables.merge_count_tables(samples, inputs, args.out, args.cpm_out)
    if all_zero and args.cpm_out:
        print(
            f"exomir merge: warning: {len(all_zero)} sample(s) with no counts, CPM set to 0: "
            + ", ".join(all_zero),
            file=sys.stderr,
        )
    return 0
