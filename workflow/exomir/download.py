"""Fetch one file over HTTP(S) (or copy a local one) so that ``dest`` is either complete or absent.

References and, later, GEO/ENA runs are downloaded from servers that rate-limit (429),
fail transiently (5xx) and drop connections mid-body. A pipeline that trusted whatever
arrived would count reads from half a FASTQ, so the body goes to a temporary file that is
renamed into place only after its length, gzip integrity and checksums are confirmed;
transient failures are retried with exponential back-off, permanent ones (404, 403) are not.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import http.client
import logging
import os
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from exomir import __version__
from exomir.atomic import atomic_path
from exomir.config import schema_default
from exomir.errors import ExomirError

DEFAULT_RETRIES = schema_default("fastq_download.retries")

log = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20
MAX_RETRY_AFTER = 60.0  # a server asking for a longer pause gets our own back-off instead
RETRYABLE_STATUS = frozenset({408, 425, 429})  # plus every 5xx
NETWORK_SCHEMES = frozenset({"http", "https", "ftp"})

# Indirection so tests can record the back-off delays instead of sleeping through them.
sleep: Callable[[float], None] = time.sleep


class _TransientFailure(Exception):
    """A failed attempt worth repeating; ``retry_after`` is the server's requested pause."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def file_digests(path: str | os.PathLike) -> dict[str, str]:
    """md5 and sha256 of a file, read once (references record both for provenance)."""
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            md5.update(chunk)
            sha256.update(chunk)
    return {"md5": md5.hexdigest(), "sha256": sha256.hexdigest()}


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    md5: str | None = None,
    sha256: str | None = None,
    retries: int = DEFAULT_RETRIES,
    backoff: float = 1.0,
    timeout: float = 60,
) -> Path:
    """Download ``url`` to ``dest`` and return ``dest``; raise ExomirError if that cannot be done.

    ``retries`` is the number of attempts after the first; the n-th retry waits
    ``backoff * 2**(n-1)`` seconds, or the server's Retry-After when that is at most
    60 s. ``file://`` URLs and plain paths are copied with the same checks.
    """
    if retries < 0:
        raise ExomirError(f"{url}: retries must be 0 or more, not {retries}")
    dest = Path(dest)
    expected = _expected_digests(url, md5=md5, sha256=sha256)
    local = _local_source(url)
    if local is not None:
        with atomic_path(dest) as tmp:
            _copy_local(local, url, tmp)
            _check_gzip(tmp, dest, url, transient=False)
            _check_digests(tmp, url, expected)
        return dest
    for attempt in range(retries + 1):
        try:
            with atomic_path(dest) as tmp:
                _fetch(url, tmp, timeout)
                _check_gzip(tmp, dest, url, transient=True)
                _check_digests(tmp, url, expected)
            return dest
        except _TransientFailure as failure:
            if attempt == retries:
                raise ExomirError(
                    f"download of {url} failed after {attempt + 1} attempts: {failure}"
                ) from None
            delay = backoff * 2**attempt
            if failure.retry_after is not None and failure.retry_after <= MAX_RETRY_AFTER:
                delay = failure.retry_after
            log.warning("%s: %s; retrying in %.1f s", url, failure, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # the loop returns or raises


def _expected_digests(url: str, **given: str | None) -> dict[str, str]:
    lengths = {"md5": 32, "sha256": 64}
    expected = {}
    for algorithm, value in given.items():
        if value is None:
            continue
        value = value.strip().lower()
        if len(value) != lengths[algorithm] or any(c not in "0123456789abcdef" for c in value):
            raise ExomirError(f"{url}: {algorithm} checksum {value!r} is not a hex digest")
        expected[algorithm] = value
    return expected


def _local_source(url: str) -> Path | None:
    """The path a ``file://`` URL or a plain path names; None for network URLs."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path))
    if parsed.scheme in NETWORK_SCHEMES:
        return None
    if parsed.scheme and len(parsed.scheme) > 1:
        raise ExomirError(f"{url}: unsupported URL scheme {parsed.scheme!r}")
    return Path(url)


def _copy_local(source: Path, url: str, tmp: Path) -> None:
    if not source.is_file():
        raise ExomirError(f"{url}: no such file")
    with open(source, "rb") as src, open(tmp, "wb") as out:
        shutil.copyfileobj(src, out, CHUNK_SIZE)


def _fetch(url: str, tmp: Path, timeout: float) -> None:
    request = urllib.request.Request(
        url, headers={"User-Agent": f"exomir/{__version__}", "Accept-Encoding": "identity"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as out:
            announced = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(CHUNK_SIZE):
                out.write(chunk)
                received += len(chunk)
    except urllib.error.HTTPError as error:
        if error.code in RETRYABLE_STATUS or 500 <= error.code < 600:
            retry_after = _retry_after_seconds(error.headers.get("Retry-After"))
            raise _TransientFailure(f"HTTP {error.code}", retry_after) from None
        raise ExomirError(f"HTTP {error.code} for {url}") from None
    except (
        urllib.error.URLError,
        http.client.HTTPException,
        ConnectionError,
        TimeoutError,
    ) as error:
        reason = getattr(error, "reason", None) or error
        raise _TransientFailure(f"{type(error).__name__}: {reason}") from None
    # urllib returns a short body silently when the server closes early; only the
    # announced length tells a truncated transfer from a complete one.
    if announced is not None and announced.isdigit() and received != int(announced):
        raise _TransientFailure(f"truncated body: got {received} of {announced} bytes")


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _check_gzip(tmp: Path, dest: Path, url: str, *, transient: bool) -> None:
    """A ``.gz`` destination must decompress to its end: corruption shows here, not mid-pipeline."""
    if dest.suffix != ".gz":
        return
    try:
        with gzip.open(tmp, "rb") as handle:
            while handle.read(CHUNK_SIZE):
                pass
    except (OSError, EOFError, zlib.error) as error:
        reason = f"corrupt gzip: {error}"
        if transient:
            raise _TransientFailure(reason) from None
        raise ExomirError(f"{url}: {reason}") from None


def _check_digests(tmp: Path, url: str, expected: dict[str, str]) -> None:
    if not expected:
        return
    got = file_digests(tmp)
    for algorithm, value in expected.items():
        if got[algorithm] != value:
            raise ExomirError(
                f"{algorithm} mismatch for {url}: expected {value}, got {got[algorithm]}"
            )
