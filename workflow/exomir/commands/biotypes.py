"""``exomir biotypes``: split unassigned reads into small-RNA biotypes (rRNA, tRNA, ...).

Three actions, one per workflow step: ``prepare`` a biotype reference, ``classify`` one
sample's unassigned reads through the biotype chain, ``merge`` the per-sample counts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from exomir import biotypes
from exomir.align import require_tools
from exomir.arguments import add_sample_list, sample_list
from exomir.errors import ExomirError

HELP = "assign reads left after miRNAs to rRNA/tRNA/Y RNA/snoRNA/piRNA and count them"


def _order(text: str) -> list[str]:
    return [name for name in text.split(",") if name]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    prepare = actions.add_parser("prepare", help="write a biotype's alignment FASTA")
    prepare.add_argument("--biotype", required=True, help="biotype name (tRNA gets a CCA tail)")
    prepare.add_argument("--fasta", required=True, help="source FASTA (plain or gzipped)")
    prepare.add_argument("--out", required=True, help="prepared FASTA: >record feature")

    classify = actions.add_parser("classify", help="one sample's unassigned reads by biotype")
    classify.add_argument("--sample", required=True)
    classify.add_argument("--reads", required=True, help="collapsed unassigned.fa")
    classify.add_argument("--fates", required=True, help="fates.tsv of exomir count")
    classify.add_argument(
        "--order", required=True, type=_order, help="biotypes in priority order: rRNA,tRNA,..."
    )
    classify.add_argument(
        "--references", nargs="+", required=True, help="prepared FASTA per biotype, in --order"
    )
    classify.add_argument(
        "--indexes", nargs="+", required=True, help="bowtie index prefix per biotype, in --order"
    )
    classify.add_argument("--mismatches", required=True, help="bowtie -v per biotype: rRNA=1,...")
    classify.add_argument("--threads", type=int, default=1)
    classify.add_argument("--fates-out", required=True, help="fates with biotype columns")
    classify.add_argument("--counts-out", required=True, help="biotype feature <sample>")
    classify.add_argument("--unannotated-out", required=True, help="reads of no biotype")
    classify.add_argument("--log", required=True, help="bowtie reports of every step")
    classify.add_argument(
        "--long-reads", help="collapsed long_inserts.fa of exomir trim (its too_long reads)"
    )
    lengths = classify.add_argument_group(
        "insert lengths by fate", "all three and --lengths-out, or none"
    )
    lengths.add_argument("--inserts", help="the trim step's inserts.fa")
    lengths.add_argument("--spikein-bam", help="the align step's spikein.bam")
    lengths.add_argument("--lengths-out", help="insert_lengths_by_fate.tsv to write")

    lengths_merge = actions.add_parser(
        "merge-lengths", help="per-sample insert lengths by fate into one table + MultiQC"
    )
    add_sample_list(lengths_merge, "per-sample insert lengths by fate")
    lengths_merge.add_argument("--out", required=True, help="insert_lengths_by_fate.tsv")
    lengths_merge.add_argument("--multiqc", required=True, help="MultiQC line graph (_mqc.json)")

    merge = actions.add_parser("merge", help="per-sample biotype counts into one table")
    add_sample_list(merge, "per-sample biotype counts")
    merge.add_argument("--order", required=True, type=_order, help="biotypes in priority order")
    merge.add_argument("--out", required=True, help="biotype, feature, one column per sample")


def run(args: argparse.Namespace) -> int:
    if args.action == "prepare":
        biotypes.prepare_reference(args.biotype, args.fasta, args.out)
    elif args.action == "classify":
        require_tools("bowtie", "samtools")
        mismatches = biotypes.parse_mismatches(args.mismatches, args.order)
        if not len(args.order) == len(args.references) == len(args.indexes):
            raise ExomirError("--order, --references and --indexes must list as many biotypes")
        steps = [
            biotypes.BiotypeStep(
                name=name, reference=Path(reference), index=index, mismatches=mismatches[name]
            )
            for name, reference, index in zip(
                args.order, args.references, args.indexes, strict=True
            )
        ]
        given = [args.inserts, args.spikein_bam, args.lengths_out]
        if any(given) and not all(given):
            raise ExomirError("--inserts, --spikein-bam and --lengths-out go together")
        lengths = None
        if all(given):
            lengths = biotypes.LengthInputs(
                Path(args.inserts), Path(args.reads), Path(args.spikein_bam), Path(args.lengths_out)
            )
        biotypes.classify_sample(
            args.sample,
            args.reads,
            args.fates,
            steps,
            fates_out=args.fates_out,
            counts_out=args.counts_out,
            unannotated_out=args.unannotated_out,
            log=args.log,
            threads=args.threads,
            long_reads=args.long_reads,
            lengths=lengths,
        )
    elif args.action == "merge-lengths":
        samples, inputs = sample_list(args)
        biotypes.merge_lengths_by_fate(samples, inputs, args.out, args.multiqc)
    else:
        samples, inputs = sample_list(args)
        biotypes.merge_biotype_counts(samples, inputs, args.order, args.out)
    return 0
