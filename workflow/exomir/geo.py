"""Public datasets (GEO series/samples, SRA/ENA accessions) → samples, their runs and metadata.

Reanalysing a published EV study starts from an accession, not from files. GEO knows the
series and its samples; ENA knows every sample's sequencing runs, FASTQ files, checksums
and the submitter's characteristics (group, time point, subject, ...). This module asks
both (NCBI E-utilities, the ENA portal and browser APIs) and returns one record per
biological sample, from which a sample sheet is proposed. Every service URL is a
parameter, so tests point them at a local server.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
import time
import urllib.parse
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exomir.atomic import atomic_open
from exomir.config import schema_default
from exomir.download import download
from exomir.errors import ExomirError

DEFAULT_EUTILS = schema_default("geo_services.eutils")
DEFAULT_ENA_BROWSER = schema_default("geo_services.ena_browser")
DEFAULT_ENA_PORTAL = schema_default("geo_services.ena_portal")
DEFAULT_RETRIES = schema_default("fastq_download.retries")

# What the ENA portal's filereport returns per run (see its returnFields for read_run).
READ_RUN_FIELDS = (
    "run_accession",
    "experiment_accession",
    "sample_accession",
    "secondary_sample_accession",
    "study_accession",
    "secondary_study_accession",
    "run_alias",
    "experiment_alias",
    "sample_alias",
    "sample_title",
    "library_layout",
    "library_strategy",
    "library_source",
    "instrument_model",
    "scientific_name",
    "read_count",
    "base_count",
    "fastq_ftp",
    "fastq_md5",
    "fastq_bytes",
)

SERIES = re.compile(r"^GSE[0-9]+$")
GEO_SAMPLE = re.compile(r"^GSM[0-9]+$")
RUN = re.compile(r"^[SED]RR[0-9]+$")
# Studies, experiments, samples and projects: the ENA portal lists their runs directly.
ENA_GROUP = re.compile(r"^([SED]R[PXS][0-9]+|PRJ(NA|EB|DB)[0-9]+|SAM(N|EA|D)[0-9]+)$")
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# GEO DataSets UIDs are the accession number plus a per-type offset (GSE 2e8, GSM 3e8);
# knowing it picks the right record among the many a "[GEO Accession]" search returns.
GEO_UID_OFFSET = {"GSE": 200_000_000, "GSM": 300_000_000}
MAX_SUMMARY_IDS = 50
ESEARCH_RETMAX = 10_000

# NCBI allows 3 requests per second without an API key; stay under it instead of
# collecting 429s.
EUTILS_MIN_INTERVAL = 0.34

# Sample-sheet columns written by this module; a characteristic with one of these names
# is renamed so it cannot overwrite them ("condition" is the exception, see below).
FIXED_COLUMNS = ("sample", "runs", "layout", "geo_accession", "title", "condition")
RESERVED_COLUMNS = frozenset(FIXED_COLUMNS) | {"fastq", "protocol", "adapter"}
# Archive bookkeeping attributes in ENA sample XML; not characteristics of the sample.
BOOKKEEPING_TAG = re.compile(r"^(ENA-|INSDC |SRA accession$)", re.IGNORECASE)

# Indirection so tests need not wait between requests.
sleep: Callable[[float], None] = time.sleep
_last_eutils_request = 0.0


@dataclass(frozen=True)
class Services:
    """Base URLs of the archives' APIs and how hard to retry them."""

    eutils: str = DEFAULT_EUTILS
    ena_browser: str = DEFAULT_ENA_BROWSER
    ena_portal: str = DEFAULT_ENA_PORTAL
    retries: int = DEFAULT_RETRIES
    backoff: float = 1.0

    def to_json(self) -> dict[str, str]:
        return {
            "eutils": self.eutils,
            "ena_browser": self.ena_browser,
            "ena_portal": self.ena_portal,
        }


@dataclass(frozen=True)
class RunFile:
    """One FASTQ file of a run at ENA: ``location`` is host/path (no scheme) or a full URL."""

    location: str
    md5: str | None
    size: int | None

    @property
    def name(self) -> str:
        return self.location.rstrip("/").rsplit("/", 1)[-1]

    @property
    def url(self) -> str:
        """ENA lists files as host/path without a scheme; HTTPS is reliable where FTP is not."""
        if "://" in self.location:
            return self.location
        return "https://" + self.location


@dataclass(frozen=True)
class Run:
    """One sequencing run as the ENA portal describes it."""

    accession: str
    sample: str
    geo_accession: str | None
    title: str
    layout: str
    files: tuple[RunFile, ...]
    fields: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.accession,
            "sample": self.sample,
            "geo_accession": self.geo_accession,
            "layout": self.layout,
            "files": [
                {"url": f.url, "md5": f.md5, "bytes": f.size, "name": f.name} for f in self.files
            ],
            "ena": dict(sorted(self.fields.items())),
        }


@dataclass
class DatasetSample:
    """One biological sample: its sheet name, GEO identity, runs and characteristics."""

    name: str
    geo_accession: str | None
    title: str
    archive_sample: str
    runs: list[Run] = field(default_factory=list)
    characteristics: dict[str, str] = field(default_factory=dict)
    requested_as: list[str] = field(default_factory=list)

    @property
    def layout(self) -> str:
        return ";".join(sorted({run.layout for run in self.runs}))

    def to_json(self) -> dict[str, Any]:
        return {
            "sample": self.name,
            "geo_accession": self.geo_accession,
            "title": self.title,
            "archive_sample": self.archive_sample,
            "requested_as": self.requested_as,
            "layout": self.layout,
            "characteristics": self.characteristics,
            "runs": [run.to_json() for run in self.runs],
        }


@dataclass
class Dataset:
    """Everything resolved from the requested accessions."""

    accessions: list[str]
    samples: list[DatasetSample]
    series: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


# --- accessions -----------------------------------------------------------------------------


def accession_kind(accession: str) -> str:
    """``series``, ``geo_sample``, ``run`` or ``ena_group``; ExomirError for anything else."""
    if SERIES.match(accession):
        return "series"
    if GEO_SAMPLE.match(accession):
        return "geo_sample"
    if RUN.match(accession):
        return "run"
    if ENA_GROUP.match(accession):
        return "ena_group"
    raise ExomirError(
        f"accession {accession!r}: not a GEO series/sample (GSE/GSM) or an SRA/ENA/DDBJ "
        "accession (SRR/ERR/DRR run, SRX/SRS/SRP, PRJNA/PRJEB, SAMN/SAMEA)"
    )


def normalise_accessions(values: str | Iterable[str]) -> list[str]:
    """Accessions from a config value (one string or a list), upper-cased, duplicates dropped."""
    if isinstance(values, str):
        values = [values]
    found: list[str] = []
    for value in values:
        for part in re.split(r"[\s,;]+", str(value).strip()):
            if part and part.upper() not in found:
                found.append(part.upper())
    if not found:
        raise ExomirError("no GEO/SRA accession given (config key geo)")
    for accession in found:
        accession_kind(accession)
    return found


def accession_sort_key(accession: str) -> tuple[str, int]:
    """Numeric order (GSM9 before GSM10), so sheets list samples as GEO does."""
    match = re.match(r"^([A-Za-z]+)([0-9]+)$", accession)
    if match is None:
        return (accession, -1)
    return (match.group(1), int(match.group(2)))


# --- HTTP -----------------------------------------------------------------------------------


def api_url(base: str, endpoint: str, params: dict[str, str | int]) -> str:
    """``base`` + ``endpoint`` + query, with ``base`` taken as a directory."""
    base = base if base.endswith("/") else base + "/"
    return base + endpoint + ("?" + urllib.parse.urlencode(params) if params else "")


def fetch_text(url: str, services: Services) -> str:
    """The body of ``url`` as text, retried like any download (429/5xx/truncation)."""
    with tempfile.TemporaryDirectory(prefix="exomir-api-") as tmp:
        path = download(
            url,
            Path(tmp) / "response",
            retries=services.retries,
            backoff=services.backoff,
        )
        return path.read_bytes().decode("utf-8", errors="replace")


def _fetch_for(accession: str, url: str, services: Services, archive: str) -> str:
    """Like fetch_text, but a 400/404 means the archive does not know ``accession``."""
    try:
        return fetch_text(url, services)
    except ExomirError as error:
        if re.match(r"^HTTP (400|404) ", str(error)):
            raise ExomirError(f"accession {accession}: unknown to {archive} ({error})") from None
        raise


def _eutils_text(accession: str, endpoint: str, params: dict, services: Services) -> Any:
    global _last_eutils_request
    wait = _last_eutils_request + EUTILS_MIN_INTERVAL - time.monotonic()
    if wait > 0:
        sleep(wait)
    url = api_url(services.eutils, endpoint, params)
    try:
        text = _fetch_for(accession, url, services, "NCBI GEO")
    finally:
        _last_eutils_request = time.monotonic()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ExomirError(f"{url}: response is not JSON (for accession {accession})") from None


# --- GEO (E-utilities, db=gds) --------------------------------------------------------------


def geo_record(accession: str, services: Services) -> dict[str, Any]:
    """The esummary record of a GSE or GSM; ExomirError when GEO does not know it."""
    found = _eutils_text(
        accession,
        "esearch.fcgi",
        {
            "db": "gds",
            "term": f"{accession}[GEO Accession]",
            "retmode": "json",
            "retmax": ESEARCH_RETMAX,
        },
        services,
    )
    result = found.get("esearchresult", {}) if isinstance(found, dict) else {}
    if "ERROR" in result:
        raise ExomirError(f"accession {accession}: NCBI esearch error: {result['ERROR']}")
    ids = [str(uid) for uid in result.get("idlist", [])]
    if not ids:
        raise ExomirError(f"accession {accession}: unknown to NCBI GEO (no search hit)")
    conventional = str(GEO_UID_OFFSET[accession[:3]] + int(accession[3:]))
    candidates = [conventional] if conventional in ids else ids[:MAX_SUMMARY_IDS]
    summary = _eutils_text(
        accession,
        "esummary.fcgi",
        {"db": "gds", "id": ",".join(candidates), "retmode": "json"},
        services,
    )
    records = summary.get("result", {}) if isinstance(summary, dict) else {}
    for uid in candidates:
        record = records.get(uid)
        if isinstance(record, dict) and str(record.get("accession", "")).upper() == accession:
            return record
    raise ExomirError(f"accession {accession}: unknown to NCBI GEO (no summary record)")


def sra_relations(record: dict[str, Any]) -> list[str]:
    """SRA accessions a GEO record links to (SRP for a series, SRX for a sample)."""
    return [
        str(relation["targetobject"])
        for relation in record.get("extrelations") or []
        if str(relation.get("relationtype", "")).upper() == "SRA" and relation.get("targetobject")
    ]


# --- ENA ------------------------------------------------------------------------------------


def ena_runs(accession: str, services: Services) -> list[Run]:
    """Runs the ENA portal lists for ``accession`` (a run, experiment, sample or study)."""
    url = api_url(
        services.ena_portal,
        "filereport",
        {"accession": accession, "result": "read_run", "fields": ",".join(READ_RUN_FIELDS)},
    )
    text = _fetch_for(accession, url, services, "ENA")
    return parse_read_runs(text, source=url)


def parse_read_runs(text: str, source: str = "ENA filereport") -> list[Run]:
    """Runs of a filereport TSV, in accession order; an empty report (HTTP 204) has none."""
    if not text.strip():
        return []
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
    if not rows:
        return []
    if "run_accession" not in rows[0]:
        raise ExomirError(f"{source}: unexpected response (no run_accession column)")
    runs = [_run_from_row({k: (v or "").strip() for k, v in row.items() if k}) for row in rows]
    return sorted(runs, key=lambda run: accession_sort_key(run.accession))


def _run_from_row(row: dict[str, str]) -> Run:
    accession = row["run_accession"]
    locations = _split(row.get("fastq_ftp", ""))
    md5s = _split(row.get("fastq_md5", ""))
    sizes = _split(row.get("fastq_bytes", ""))
    files = tuple(
        RunFile(
            location,
            md5s[i] if i < len(md5s) else None,
            int(sizes[i]) if i < len(sizes) and sizes[i].isdigit() else None,
        )
        for i, location in enumerate(locations)
    )
    geo = next(
        (
            row[key]
            for key in ("experiment_alias", "sample_alias")
            if GEO_SAMPLE.match(row.get(key, ""))
        ),
        None,
    )
    return Run(
        accession=accession,
        sample=row.get("secondary_sample_accession") or row.get("sample_accession") or accession,
        geo_accession=geo,
        title=clean_value(row.get("sample_title", "")),
        layout=(row.get("library_layout") or "unknown").upper(),
        files=files,
        fields=row,
    )


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";")] if value.strip() else []


def sample_characteristics(sample: str, services: Services) -> tuple[str, dict[str, str]]:
    """Title and characteristics (tag → value) of an ENA/SRA sample, from its browser XML."""
    url = api_url(services.ena_browser, f"xml/{urllib.parse.quote(sample)}", {})
    text = _fetch_for(sample, url, services, "ENA")
    return parse_sample_xml(text, source=url)


def parse_sample_xml(text: str, source: str = "ENA sample XML") -> tuple[str, dict[str, str]]:
    try:
        root = ElementTree.fromstring(text.encode("utf-8"))
    except ElementTree.ParseError as error:
        raise ExomirError(f"{source}: not valid XML ({error})") from None
    element = root if root.tag == "SAMPLE" else root.find("SAMPLE")
    if element is None:
        raise ExomirError(f"{source}: unexpected response (no SAMPLE element)")
    title = clean_value(element.findtext("TITLE") or "")
    characteristics: dict[str, str] = {}
    for attribute in element.iter("SAMPLE_ATTRIBUTE"):
        tag = clean_value(attribute.findtext("TAG") or "")
        if not tag or BOOKKEEPING_TAG.match(tag):
            continue
        characteristics.setdefault(tag, clean_value(attribute.findtext("VALUE") or ""))
    return title, characteristics


# --- resolving requested accessions ---------------------------------------------------------


def resolve_dataset(accessions: Sequence[str], services: Services) -> Dataset:
    """Samples (with runs and characteristics) for GSE/GSM/run/ENA accessions, in request order.

    A sample reached twice (a series and one of its GSMs) appears once; a run accession
    selects only that run of its sample.
    """
    dataset = Dataset(list(accessions), [])
    by_key: dict[str, DatasetSample] = {}
    for accession in accessions:
        kind = accession_kind(accession)
        if kind == "series":
            found = _series_samples(accession, services, dataset)
        elif kind == "geo_sample":
            found = [_geo_sample(accession, services)]
        else:
            found = _ena_samples(accession, services)
        if not found:
            raise ExomirError(f"accession {accession}: no sequencing runs found at ENA")
        for sample in found:
            key = sample.geo_accession or sample.archive_sample
            if key in by_key:
                known = by_key[key]
                runs = {run.accession: run for run in [*known.runs, *sample.runs]}
                known.runs = [runs[r] for r in sorted(runs, key=accession_sort_key)]
                known.requested_as.append(accession)
                continue
            sample.requested_as.append(accession)
            by_key[key] = sample
            dataset.samples.append(sample)
    for sample in dataset.samples:
        title, characteristics = sample_characteristics(sample.archive_sample, services)
        sample.characteristics = characteristics
        sample.title = sample.title or title
        _note_unusual_runs(sample, dataset.warnings)
    _name_samples(dataset.samples)
    return dataset


def _series_samples(accession: str, services: Services, dataset: Dataset) -> list[DatasetSample]:
    record = geo_record(accession, services)
    members = {
        str(s["accession"]).upper(): clean_value(str(s.get("title", "")))
        for s in record.get("samples") or []
        if GEO_SAMPLE.match(str(s.get("accession", "")).upper())
    }
    studies = sra_relations(record)
    dataset.series[accession] = {
        "title": clean_value(str(record.get("title", ""))),
        "summary": clean_value(str(record.get("summary", ""))),
        "taxon": record.get("taxon", ""),
        "type": record.get("gdstype", ""),
        "sra_studies": studies,
        "samples": sorted(members, key=accession_sort_key),
        "pubmed_ids": record.get("pubmedids", []),
    }
    if not members:
        raise ExomirError(f"accession {accession}: GEO lists no samples for this series")
    runs_by_gsm: dict[str, list[Run]] = {}
    for study in studies:
        for run in ena_runs(study, services):
            if run.geo_accession in members:
                runs_by_gsm.setdefault(run.geo_accession, []).append(run)
    samples = []
    for gsm in sorted(members, key=accession_sort_key):
        if gsm in runs_by_gsm:
            runs = sorted(runs_by_gsm[gsm], key=lambda run: accession_sort_key(run.accession))
            sample = DatasetSample(gsm, gsm, members[gsm], runs[0].sample, runs)
        else:
            # Not in the series' SRA study (SuperSeries, re-linked samples): ask per sample.
            try:
                sample = _geo_sample(gsm, services, title=members[gsm])
            except ExomirError as error:
                dataset.warnings.append(f"{accession}: sample {gsm} skipped: {error}")
                continue
        samples.append(sample)
    if not samples:
        raise ExomirError(
            f"accession {accession}: none of its {len(members)} samples has sequencing runs "
            "in SRA/ENA (a microarray series?)"
        )
    return samples


def _geo_sample(accession: str, services: Services, title: str | None = None) -> DatasetSample:
    record = geo_record(accession, services)
    experiments = sra_relations(record)
    if not experiments:
        raise ExomirError(f"accession {accession}: GEO links no SRA experiment to this sample")
    runs: list[Run] = []
    for experiment in experiments:
        runs.extend(ena_runs(experiment, services))
    if not runs:
        raise ExomirError(
            f"accession {accession}: ENA lists no runs for {', '.join(experiments)} "
            "(not yet public?)"
        )
    runs.sort(key=lambda run: accession_sort_key(run.accession))
    title = title or clean_value(str(record.get("title", ""))) or runs[0].title
    return DatasetSample(accession, accession, title, runs[0].sample, runs)


def _ena_samples(accession: str, services: Services) -> list[DatasetSample]:
    runs = ena_runs(accession, services)
    if not runs:
        raise ExomirError(f"accession {accession}: unknown to ENA (empty file report)")
    if RUN.match(accession):
        runs = [run for run in runs if run.accession == accession]
        if not runs:
            raise ExomirError(f"accession {accession}: ENA file report does not list this run")
    grouped: dict[str, list[Run]] = {}
    for run in runs:
        grouped.setdefault(run.geo_accession or run.sample, []).append(run)
    return [
        DatasetSample(key, group[0].geo_accession, group[0].title, group[0].sample, group)
        for key, group in grouped.items()
    ]


def _note_unusual_runs(sample: DatasetSample, warnings: list[str]) -> None:
    for run in sample.runs:
        if not run.files:
            warnings.append(
                f"sample {sample.name}: run {run.accession} has no FASTQ at ENA; "
                "fetch it with fastq_download: {method: fasterq-dump}"
            )
    if len({run.layout for run in sample.runs}) > 1:
        warnings.append(f"sample {sample.name}: runs differ in layout ({sample.layout})")


def _name_samples(samples: list[DatasetSample]) -> None:
    """Sheet names: the GSM (or ENA sample) accession, made safe and unique."""
    used: set[str] = set()
    for sample in samples:
        base = sample.geo_accession or sample.archive_sample
        name = base if SAFE_NAME.match(base) else re.sub(r"[^A-Za-z0-9._-]+", "_", base)
        name = name.lstrip("._-") or "sample"
        candidate, n = name, 1
        while candidate in used:
            n += 1
            candidate = f"{name}_{n}"
        used.add(candidate)
        sample.name = candidate


# --- the proposed sample sheet --------------------------------------------------------------


def clean_value(value: str) -> str:
    """One line, single spaces: tabs and newlines in archive text would break the TSV."""
    return " ".join(str(value).split())


def column_name(tag: str) -> str:
    """A characteristic tag as a sheet/design column: lower case, ``[a-z0-9_]``."""
    name = re.sub(r"[^a-z0-9]+", "_", tag.lower()).strip("_") or "characteristic"
    if name[0].isdigit():
        name = "c_" + name
    return name


def characteristic_columns(samples: Sequence[DatasetSample]) -> dict[str, str]:
    """Characteristic tag → column name, in first-seen order, names unique and unreserved.

    A characteristic called ``condition`` fills the ``condition`` column; any other
    collision with a fixed column gets a ``characteristic_`` prefix.
    """
    columns: dict[str, str] = {}
    taken = set(FIXED_COLUMNS)
    for sample in samples:
        for tag in sample.characteristics:
            if tag in columns:
                continue
            name = column_name(tag)
            if name == "condition" and "condition" not in columns.values():
                columns[tag] = name
                continue
            if name in RESERVED_COLUMNS:
                name = "characteristic_" + name
            candidate, n = name, 1
            while candidate in taken:
                n += 1
                candidate = f"{name}_{n}"
            taken.add(candidate)
            columns[tag] = candidate
    return columns


def proposed_sheet(samples: Sequence[DatasetSample]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the proposed sample sheet (see config/README.md for the columns)."""
    columns = characteristic_columns(samples)
    extra = [name for name in columns.values() if name != "condition"]
    header = [*FIXED_COLUMNS, *extra]
    rows = []
    for sample in samples:
        values = {
            "sample": sample.name,
            "runs": ";".join(run.accession for run in sample.runs),
            "layout": sample.layout,
            "geo_accession": sample.geo_accession or "",
            "title": sample.title,
            "condition": "",
        }
        for tag, value in sample.characteristics.items():
            values[columns[tag]] = value
        rows.append([clean_value(values.get(column, "")) for column in header])
    return header, rows


def write_sheet(path: str | Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        for row in [header, *rows]:
            handle.write("\t".join(row) + "\n")


def dataset_metadata(dataset: Dataset, services: Services) -> dict[str, Any]:
    """The metadata.json document: everything resolved, so the sheet can be audited."""
    columns = characteristic_columns(dataset.samples)
    return {
        "accessions": dataset.accessions,
        "services": services.to_json(),
        "series": dataset.series,
        "columns": columns,
        "condition": (
            "filled from the characteristic named 'condition'"
            if "condition" in columns.values()
            else "left empty: fill it in, or point design/contrasts at other columns"
        ),
        "samples": [sample.to_json() for sample in dataset.samples],
        "warnings": dataset.warnings,
    }
