"""A fake GEO + ENA for the GEO/run-fetching tests, on top of the scripted HTTP server.

Loaded as a pytest plugin (``pytest_plugins = ["httpserver", "geo_archive"]``), it gives
the ``archive`` fixture: the ``http_server`` serving every fixture of tests/data/geo/ at
the paths the real services use (E-utilities under /eutils/, ENA under /ena/...), and
back-off waits recorded instead of slept. Routes match on the URL path plus the query
parameters a route names (others, such as ``fields`` or ``retmax``, may differ), so
tests say what is asked, not how the query string is spelled; the newest route wins.
"""

from __future__ import annotations

import hashlib
import re
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from exomir import download, geo, runs

GEO_DATA = Path(__file__).resolve().parent / "data" / "geo"
FASTQ = GEO_DATA / "fastq"
PLACEHOLDER = re.compile(r"\{(md5|bytes):([^}]+)\}")


def _split(route: str) -> tuple[str, dict[str, str]]:
    parsed = urllib.parse.urlsplit(route)
    return parsed.path, dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))


class Archive:
    """The scripted server dressed as GEO and ENA; ``serve`` overrides any route."""

    def __init__(self, server) -> None:
        self.server = server
        self.Reply = server.Reply
        self._lock = threading.Lock()
        self._routes: list[tuple[str, dict[str, str], list]] = []
        server._next_reply = self._next_reply  # route by path + named query parameters
        self.services = geo.Services(
            eutils=server.url("/eutils/"),
            ena_browser=server.url("/ena/browser/api/"),
            ena_portal=server.url("/ena/portal/api/"),
            retries=2,
            backoff=0.5,
        )
        self._load_fixtures()

    # --- routing ---

    def serve(self, route: str, *replies) -> str:
        """Script ``route`` (path?param=value...); later scripts win over earlier ones."""
        path, params = _split(route)
        with self._lock:
            self._routes.insert(0, (path, params, [self._as_reply(r) for r in replies]))
        return self.server.url(route)

    def _as_reply(self, item):
        if isinstance(item, self.Reply):
            return item
        if isinstance(item, bytes):
            return self.Reply(200, item)
        return self.Reply(item, f"status {item}\n".encode())

    def _match(self, raw: str) -> list | None:
        """The newest route whose path and named parameters match the request."""
        path, params = _split(raw)
        for route_path, route_params, replies in self._routes:
            if route_path == path and all(params.get(k) == v for k, v in route_params.items()):
                return replies
        return None

    def _next_reply(self, raw: str):
        with self._lock:
            replies = self._match(raw)
            if not replies:
                return self.Reply(404, b"not found\n")
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def hits(self, route: str) -> int:
        path, params = _split(route)
        count = 0
        for request in self.server.requests:
            got_path, got = _split(request.path)
            if got_path == path and all(got.get(k) == v for k, v in params.items()):
                count += 1
        return count

    # --- fixtures ---

    def fastq_bytes(self, name: str) -> bytes:
        return (FASTQ / name).read_bytes()

    def fill(self, text: str) -> str:
        """Put this server's address and the fixture files' MD5s and sizes into a template."""

        def value(match: re.Match) -> str:
            data = self.fastq_bytes(match.group(2))
            return hashlib.md5(data).hexdigest() if match.group(1) == "md5" else str(len(data))

        return PLACEHOLDER.sub(value, text.replace("{base}", self.server.base_url))

    def _load_fixtures(self) -> None:
        for path in sorted(GEO_DATA.glob("esearch_*.json")):
            accession = path.stem.split("_", 1)[1]
            self.serve(
                f"/eutils/esearch.fcgi?db=gds&term={accession}[GEO Accession]", path.read_bytes()
            )
        for path in sorted(GEO_DATA.glob("esummary_*.json")):
            uid = path.stem.split("_", 1)[1]
            self.serve(f"/eutils/esummary.fcgi?db=gds&id={uid}", path.read_bytes())
        for path in sorted(GEO_DATA.glob("xml_*.xml")):
            self.serve(f"/ena/browser/api/xml/{path.stem.split('_', 1)[1]}", path.read_bytes())
        for path in sorted(GEO_DATA.glob("filereport_*.tsv")):
            text = self.fill(path.read_text())
            header, *rows = text.splitlines()
            # ENA answers a run accession with that run's row of the report.
            for row in rows:
                self.serve(self.report_route(row.split("\t")[0]), f"{header}\n{row}\n".encode())
            self.serve(self.report_route(path.stem.split("_", 1)[1]), text.encode())
        for path in sorted(FASTQ.glob("*.fastq.gz")):
            self.serve(f"/fastq/{path.name}", path.read_bytes())

    @staticmethod
    def report_route(accession: str) -> str:
        return f"/ena/portal/api/filereport?accession={accession}&result=read_run"


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Back-off delays asked for by downloads and fasterq-dump retries, not slept."""
    recorded: list[float] = []
    monkeypatch.setattr(download, "sleep", recorded.append)
    monkeypatch.setattr(runs, "sleep", recorded.append)
    monkeypatch.setattr(geo, "sleep", lambda seconds: None)
    monkeypatch.setattr(geo, "EUTILS_MIN_INTERVAL", 0.0)
    return recorded


@pytest.fixture
def archive(http_server, waits) -> Iterator[Archive]:
    yield Archive(http_server)
