"""``exomir trim``: FASTQ → collapsed FASTA of passing inserts + read-fate statistics."""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import sys
from concurrent.futures import Future, ProcessPoolExecutor

from exomir import fastq, kits, trimming
from exomir.atomic import atomic_open
from exomir.collapsed import write_collapsed
from exomir.errors import ExomirError
from exomir.kit_arguments import add_kit_arguments, detect_kit

HELP = (
    "decide one sample's kit (or read it from protocol.json), trim its reads; write collapsed "
    "inserts and trim stats"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample", required=True, help="sample name (recorded in the stats)")
    parser.add_argument("--fastq", required=True, nargs="+", help="the sample's FASTQ(.gz) files")
    kit = parser.add_argument_group(
        "kit", "either --protocol-json (a decision made before) or --protocol and --protocol-out"
    )
    kit.add_argument("--protocol-json", help="protocol.json written by exomir detect-kit")
    add_kit_arguments(kit, required=False)
    kit.add_argument("--protocol-out", help="with --protocol: write the decision here")
    parser.add_argument("--min-length", type=int, default=trimming.DEFAULT_MIN_LENGTH)
    parser.add_argument("--max-length", type=int, default=trimming.DEFAULT_MAX_LENGTH)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="2 or more: gzip is decompressed in a second thread while reads are counted, "
        "a forked process decides the kit meanwhile, and a worker process trims half of "
        "the distinct sequences",
    )
    parser.add_argument("--inserts", required=True, help="collapsed FASTA of passing inserts")
    parser.add_argument("--stats", required=True, help="trim_stats.json")
    parser.add_argument(
        "--long-inserts",
        help="collapsed FASTA of the inserts longer than --max-length (for the biotype step)",
    )


def run(args: argparse.Namespace) -> int:
    if (args.protocol_json is None) == (args.protocol is None):
        raise ExomirError("give either --protocol-json or --protocol")
    if args.protocol is not None and args.protocol_out is None:
        raise ExomirError("--protocol needs --protocol-out")
    with contextlib.ExitStack() as stack:
        decision = None if args.protocol_json is not None else _kit_decision(args, stack)
        warnings: list[str] = []
        reads = stack.enter_context(
            fastq.collapse_reads(args.fastq, warnings=warnings, threads=args.threads)
        )
        if decision is None:
            kit = kits.load_protocol(args.protocol_json)
        else:
            detection = decision.result()
            kits.write_protocol(detection, args.sample, args.protocol_out)
            kit = detection.kit
        result = trimming.trim_partitions(
            reads.partitions(),
            kit,
            args.min_length,
            args.max_length,
            processes=args.threads,
            keep_long=args.long_inserts is not None,
        )
    result.warnings[:0] = warnings
    for warning in result.warnings:
        # The job's log shows what the stats file records: accepted, but worth a look.
        print(f"exomir trim: warning: sample {args.sample}: {warning}", file=sys.stderr)
    write_collapsed(result.inserts, args.inserts)
    if args.long_inserts is not None:
        write_collapsed(result.long_inserts, args.long_inserts)
    with atomic_open(args.stats, "w") as handle:
        json.dump(result.stats(args.sample), handle, indent=2)
        handle.write("\n")
    return 0


def _kit_decision(args: argparse.Namespace, stack: contextlib.ExitStack) -> Future:
    """The kit decision: made now with one thread; with more, started in a forked process.

    The decision (first reads, test mapping) does not need the collapsed reads, so with a
    second core it is made while this process collapses them.
    """
    if args.threads < 2:
        decided: Future = Future()
        decided.set_result(detect_kit(args, "trim"))
        return decided
    pool = stack.enter_context(
        ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    )
    return pool.submit(detect_kit, argparse.Namespace(**{**vars(args), "threads": 1}), "trim")
