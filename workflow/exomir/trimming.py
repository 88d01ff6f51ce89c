"""Cut the insert out of each distinct raw read and decide the read's fate.

Each distinct raw sequence is trimmed once and carries its read count, so the cost follows
library complexity, not depth. Adapter matching is cutadapt's (10 % errors, partial adapter
at the read's 3' end from 3 nt), so results agree with what users know from cutadapt.
At ~2 µs per distinct sequence (see AdapterLocator) even millions of them take seconds;
given a second core, a forked worker trims half of them.

Every input read gets exactly one fate:
``input = adapter_dimer + too_short + too_long + umi_duplicate + passed``.
Long inserts (> max_length) skip miRNA counting but are kept (``long_inserts``) for the
biotype step: tRNA halves, Y RNA and rRNA fragments are a large part of EV libraries. For
UMI kits they are deduplicated too: ``too_long`` then counts molecules and their extra
reads are in ``umi_duplicate``.
``no_adapter`` is informative only (reads in which no adapter was found, whatever their fate).
For UMI kits ``passed`` counts molecules and ``umi_duplicate`` the extra reads of each molecule.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cutadapt.adapters import BackAdapter

from exomir.config import schema_default
from exomir.errors import ExomirError
from exomir.kits import Kit
from exomir.umi import count_molecules

MAX_ERROR_RATE = 0.1
MIN_ADAPTER_OVERLAP = 3
# Adapter-adapter ligation products: the adapter is found but (almost) nothing precedes it.
ADAPTER_DIMER_MAX_INSERT = 4
ALREADY_TRIMMED_NO_ADAPTER_FRACTION = 0.5
DEFAULT_MIN_LENGTH = schema_default("min_length")
DEFAULT_MAX_LENGTH = schema_default("max_length")
# Below this many distinct sequences a worker process costs more than it saves.
PARALLEL_MIN_DISTINCT = 50_000
WORKER_TASK_SEQUENCES = 200_000
_ADDED_FATES = ("input", "distinct_raw", "adapter_dimer", "too_short", "too_long", "no_adapter")


@dataclass
class TrimResult:
    """Fates in reads (``passed`` in molecules for UMI kits) and the passing inserts."""

    protocol: str
    unit: str
    input: int = 0
    distinct_raw: int = 0
    adapter_dimer: int = 0
    too_short: int = 0
    too_long: int = 0
    umi_duplicate: int = 0
    passed: int = 0
    no_adapter: int = 0
    inserts: Counter[str] = field(default_factory=Counter)
    umi_reads: int | None = None
    umi_molecules: int | None = None
    insert_lengths: Counter[int] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    long_inserts: Counter[str] = field(default_factory=Counter)

    def stats(self, sample: str) -> dict[str, Any]:
        """The trim_stats.json document (counts as ints, keys in a fixed order)."""
        umi = None
        if self.umi_reads is not None:
            umi = {"reads": self.umi_reads, "molecules": self.umi_molecules}
        return {
            "sample": sample,
            "protocol": self.protocol,
            "unit": self.unit,
            "input": self.input,
            "distinct_raw": self.distinct_raw,
            "adapter_dimer": self.adapter_dimer,
            "too_short": self.too_short,
            "too_long": self.too_long,
            "umi_duplicate": self.umi_duplicate,
            "passed": self.passed,
            "no_adapter": self.no_adapter,
            "distinct_inserts": len(self.inserts),
            "umi": umi,
            "insert_lengths": {
                str(length): self.insert_lengths[length] for length in sorted(self.insert_lengths)
            },
            "warnings": self.warnings,
        }


def trim_sequences(
    raw_counts: Mapping[str, int],
    kit: Kit,
    min_length: int = DEFAULT_MIN_LENGTH,
    max_length: int = DEFAULT_MAX_LENGTH,
) -> TrimResult:
    """Trim distinct raw sequences (sequence → reads) with ``kit``; see the module docstring.

    Per sequence: clip5 → 5'-most adapter match → insert = what precedes it → the kit's
    3' clip (only if the adapter was found) → UMI = up to umi_length nt after the adapter.
    """
    return trim_partitions([raw_counts], kit, min_length, max_length)


def trim_partitions(
    partitions: Iterable[Mapping[str, int]],
    kit: Kit,
    min_length: int = DEFAULT_MIN_LENGTH,
    max_length: int = DEFAULT_MAX_LENGTH,
    *,
    processes: int = 1,
    keep_long: bool = False,
) -> TrimResult:
    """:func:`trim_sequences` over disjoint parts of one sample's distinct raw sequences.

    The parts (e.g. :meth:`exomir.fastq.CollapsedReads.partitions`) are consumed one at a
    time, so only one part and the passing inserts are in memory at once. With
    ``processes`` >= 2, a forked worker trims half of each large part meanwhile.
    ``keep_long`` keeps the inserts longer than ``max_length`` in ``long_inserts``.
    """
    if min_length < 1 or max_length < min_length:
        raise ExomirError(
            f"length filter: need 1 ≤ min_length ≤ max_length, got {min_length} and {max_length}"
        )
    umi_length = kit.umi_length
    fates = _Fates(kit, min_length, max_length, keep_long)
    with _worker_pool(processes) as worker:
        for raw_counts in partitions:
            if worker is not None and len(raw_counts) >= PARALLEL_MIN_DISTINCT:
                fates.add_shared(raw_counts, worker)
            else:
                fates.add(raw_counts.items())
        raw_counts = None  # the last part: free it before UMI deduplication needs the memory
    result, passing = fates.result, fates.passing
    if umi_length:
        result.inserts = Counter(count_molecules(passing))
        result.umi_reads = sum(passing.values())
        result.umi_molecules = sum(result.inserts.values())
        result.umi_duplicate = result.umi_reads - result.umi_molecules
        result.passed = result.umi_molecules
        if keep_long:
            result.long_inserts = Counter(count_molecules(fates.long))
            long_molecules = sum(result.long_inserts.values())
            result.umi_duplicate += result.too_long - long_molecules
            result.too_long = long_molecules
    else:
        result.inserts = passing
        result.passed = sum(passing.values())
        result.long_inserts = fates.long
    no_adapter = result.no_adapter  # every read, for already-trimmed input: none was searched
    if kit.adapter and no_adapter > ALREADY_TRIMMED_NO_ADAPTER_FRACTION * result.input:
        result.warnings.append(
            f"no adapter found in {no_adapter / result.input:.1%} of reads: reads look already "
            "trimmed; set protocol: trimmed"
        )
    return result


class AdapterLocator:
    """Where cutadapt's 3' adapter match (``BackAdapter.match_to``) starts and stops in a read.

    Exactly ``match_to``'s answer (its own k-mer prefilter, then its own aligner; a test
    pins this down) at a third of the cost: building the Match object costs more than the
    alignment. (A ``str.find`` shortcut for exact adapters is not equivalent: cutadapt
    keeps an earlier approximate match over a later exact one.)
    """

    def __init__(self, adapter: str) -> None:
        # A homopolymer "adapter" (CATS poly(A)) allowed a mismatch absorbs the insert's last
        # base into the tail; it must match exactly.
        errors = 0 if len(set(adapter)) == 1 else MAX_ERROR_RATE
        matcher = BackAdapter(adapter, max_errors=errors, min_overlap=MIN_ADAPTER_OVERLAP)
        self._kmers_present = matcher.kmer_finder.kmers_present
        self._align = matcher.aligner.locate

    def span(self, read: str) -> tuple[int, int] | None:
        """(start, stop) of the adapter in ``read``, or None when it is not found."""
        if not self._kmers_present(read):
            return None
        alignment = self._align(read)
        if alignment is None:
            return None
        return alignment[2], alignment[3]


@contextlib.contextmanager
def _worker_pool(processes: int) -> Iterator[ProcessPoolExecutor | None]:
    if processes < 2:
        yield None
        return
    # fork: the worker starts in milliseconds and needs nothing re-imported.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        yield pool


class _Fates:
    """Read fates and passing inserts, added up over (raw sequence, reads) items."""

    def __init__(self, kit: Kit, min_length: int, max_length: int, keep_long: bool) -> None:
        self.kit, self.min_length, self.max_length = kit, min_length, max_length
        self.keep_long = keep_long
        self.long: Counter = Counter()  # like passing, for inserts > max_length (keep_long)
        self.locator = AdapterLocator(kit.adapter) if kit.adapter else None
        self.result = TrimResult(kit.name, "molecules" if kit.umi_length else "reads")
        self.passing: Counter = Counter()  # insert, or (insert, UMI) for UMI kits → reads

    def add_shared(self, raw_counts: Mapping[str, int], worker: ProcessPoolExecutor) -> None:
        """Trim half of ``raw_counts`` here and half in ``worker``, at the same time."""
        # Pickling a sequence costs ~0.1 µs, trimming it ~2 µs. Tasks are sent in slices so
        # the pickled copy in flight stays small.
        sequences = list(raw_counts)
        half = len(sequences) // 2
        futures = [
            worker.submit(
                _trim_in_worker,
                sequences[first : first + WORKER_TASK_SEQUENCES],
                list(map(raw_counts.__getitem__, sequences[first : first + WORKER_TASK_SEQUENCES])),
                self.kit,
                self.min_length,
                self.max_length,
                self.keep_long,
            )
            for first in range(half, len(sequences), WORKER_TASK_SEQUENCES)
        ]
        ours = sequences[:half]
        del sequences
        self.add(zip(ours, map(raw_counts.__getitem__, ours), strict=True))
        for future in futures:
            theirs_result, theirs_passing, theirs_long = future.result()
            for name in _ADDED_FATES:
                value = getattr(self.result, name) + getattr(theirs_result, name)
                setattr(self.result, name, value)
            self.result.insert_lengths.update(theirs_result.insert_lengths)
            self.passing.update(theirs_passing)
            self.long.update(theirs_long)

    def add(self, raw_items: Iterable[tuple[str, int]]) -> None:
        """Add the fates of (raw sequence, reads) items; see trim_sequences for the steps."""
        kit, result, passing = self.kit, self.result, self.passing
        min_length, max_length = self.min_length, self.max_length
        clip5, clip3, umi_length = kit.clip5, kit.clip3_after_adapter, kit.umi_length
        insert_lengths = result.insert_lengths
        locate = self.locator.span if self.locator is not None else None
        passing_get = passing.get
        long, keep_long = self.long, self.keep_long
        long_get = long.get
        distinct = reads_in = adapter_dimer = too_short = too_long = no_adapter = 0
        for raw, reads in raw_items:
            distinct += 1
            read = raw[clip5:] if clip5 else raw
            span = locate(read) if locate is not None else None
            if span is None:
                no_adapter += reads
                insert, umi = read, ""
            else:
                start, stop = span
                insert = read[:start]
                if clip3:
                    insert = insert[:-clip3] if len(insert) > clip3 else ""
                umi = read[stop : stop + umi_length] if umi_length else ""
            length = len(insert)
            insert_lengths[length] += reads
            reads_in += reads
            if span is not None and length <= ADAPTER_DIMER_MAX_INSERT:
                adapter_dimer += reads
            elif length < min_length:
                too_short += reads
            elif length > max_length:
                too_long += reads
                if keep_long:
                    key = (insert, umi) if umi_length else insert
                    long[key] = long_get(key, 0) + reads
            elif umi_length:
                passing[insert, umi] = passing_get((insert, umi), 0) + reads
            else:
                # dict.get, not Counter's +=: a new key would call Counter.__missing__ in Python
                passing[insert] = passing_get(insert, 0) + reads
        result.input += reads_in
        result.distinct_raw += distinct
        result.adapter_dimer += adapter_dimer
        result.too_short += too_short
        result.too_long += too_long
        result.no_adapter += no_adapter


def _trim_in_worker(
    sequences: list[str],
    reads: list[int],
    kit: Kit,
    min_length: int,
    max_length: int,
    keep_long: bool,
) -> tuple[TrimResult, Counter, Counter]:
    """Runs in the worker process: fates, passing and long inserts of its share."""
    fates = _Fates(kit, min_length, max_length, keep_long)
    fates.add(zip(sequences, reads, strict=True))
    return fates.result, fates.passing, fates.long
