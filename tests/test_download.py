"""download(): complete, verified files or none at all, against a scripted local server."""

from __future__ import annotations

import gzip
import hashlib
import socket
from pathlib import Path

import pytest

from exomir import download as download_module
from exomir.cli import main
from exomir.download import download, file_digests
from exomir.errors import ExomirError

pytest_plugins = ["httpserver"]

BODY = b"".join(f"line {i} of a reference file\n".encode() for i in range(2000))


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record back-off delays instead of sleeping through them."""
    recorded: list[float] = []
    monkeypatch.setattr(download_module, "sleep", recorded.append)
    return recorded


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_success_writes_the_exact_body(http_server, tmp_path, sleeps):
    url = http_server.serve("/ref.txt", BODY)
    dest = download(url, tmp_path / "ref.txt")
    assert dest == tmp_path / "ref.txt"
    assert dest.read_bytes() == BODY
    assert sleeps == []


def test_request_identifies_exomir_and_asks_for_no_transfer_encoding(http_server, tmp_path):
    url = http_server.serve("/ref.txt", BODY)
    download(url, tmp_path / "ref.txt")
    headers = http_server.requests[0].headers
    assert headers["User-Agent"].startswith("exomir/")
    assert headers["Accept-Encoding"] == "identity"


def test_destination_directory_is_created(http_server, tmp_path):
    url = http_server.serve("/ref.txt", BODY)
    dest = download(url, tmp_path / "a" / "b" / "ref.txt")
    assert dest.read_bytes() == BODY


def test_404_fails_at_once_naming_the_url(http_server, tmp_path, sleeps):
    url = http_server.serve("/missing", 404)
    with pytest.raises(ExomirError, match=f"^HTTP 404 for {url}$"):
        download(url, tmp_path / "missing")
    assert http_server.hits("/missing") == 1
    assert sleeps == []
    assert leftovers(tmp_path) == []


def test_403_is_not_retried(http_server, tmp_path, sleeps):
    url = http_server.serve("/secret", 403)
    with pytest.raises(ExomirError, match="HTTP 403"):
        download(url, tmp_path / "secret")
    assert http_server.hits("/secret") == 1


def test_429_then_success_waits_as_retry_after_asks(http_server, tmp_path, sleeps):
    url = http_server.serve(
        "/busy", http_server.Reply(429, b"slow down", {"Retry-After": "7"}), BODY
    )
    dest = download(url, tmp_path / "busy", backoff=0.5)
    assert dest.read_bytes() == BODY
    assert http_server.hits("/busy") == 2
    assert sleeps == [7.0]


def test_long_retry_after_is_replaced_by_own_backoff(http_server, tmp_path, sleeps):
    url = http_server.serve("/busy", http_server.Reply(429, b"", {"Retry-After": "3600"}), BODY)
    download(url, tmp_path / "busy", backoff=0.5)
    assert sleeps == [0.5]


def test_retry_after_as_http_date_is_understood(http_server, tmp_path, sleeps):
    url = http_server.serve(
        "/busy", http_server.Reply(503, b"", {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), BODY
    )
    download(url, tmp_path / "busy", backoff=0.5)
    assert sleeps == [0.0]  # a date in the past: retry at once


def test_persistent_500_gives_up_after_retries_with_exponential_backoff(
    http_server, tmp_path, sleeps
):
    url = http_server.serve("/broken", 500)
    with pytest.raises(ExomirError, match=f"download of {url} failed after 4 attempts: HTTP 500"):
        download(url, tmp_path / "broken", retries=3, backoff=0.25)
    assert http_server.hits("/broken") == 4
    assert sleeps == [0.25, 0.5, 1.0]
    assert leftovers(tmp_path) == []


def test_retries_zero_means_a_single_attempt(http_server, tmp_path, sleeps):
    url = http_server.serve("/broken", 502)
    with pytest.raises(ExomirError, match="after 1 attempts"):
        download(url, tmp_path / "broken", retries=0)
    assert http_server.hits("/broken") == 1


def test_truncated_body_leaves_no_file(http_server, tmp_path, sleeps):
    url = http_server.serve("/cut", http_server.Reply(200, BODY, truncate_to=1000))
    with pytest.raises(ExomirError, match=f"truncated body: got 1000 of {len(BODY)} bytes"):
        download(url, tmp_path / "cut", retries=2)
    assert http_server.hits("/cut") == 3
    assert leftovers(tmp_path) == []


def test_truncated_then_complete_body_succeeds(http_server, tmp_path, sleeps):
    url = http_server.serve("/cut", http_server.Reply(200, BODY, truncate_to=10), BODY)
    assert download(url, tmp_path / "cut").read_bytes() == BODY
    assert len(sleeps) == 1


def test_failed_download_keeps_the_previous_file(http_server, tmp_path, sleeps):
    dest = tmp_path / "ref.txt"
    dest.write_bytes(b"previous good copy\n")
    url = http_server.serve("/ref.txt", http_server.Reply(200, BODY, truncate_to=100))
    with pytest.raises(ExomirError):
        download(url, dest, retries=1)
    assert dest.read_bytes() == b"previous good copy\n"
    assert leftovers(tmp_path) == ["ref.txt"]


def test_matching_checksums_are_accepted(http_server, tmp_path):
    url = http_server.serve("/ref.txt", BODY)
    dest = download(
        url,
        tmp_path / "ref.txt",
        md5=hashlib.md5(BODY).hexdigest(),
        sha256=hashlib.sha256(BODY).hexdigest().upper(),
    )
    assert dest.read_bytes() == BODY


def test_md5_mismatch_names_url_expected_and_got_and_leaves_no_file(http_server, tmp_path, sleeps):
    url = http_server.serve("/ref.txt", BODY)
    wrong = "0" * 32
    got = hashlib.md5(BODY).hexdigest()
    with pytest.raises(ExomirError, match=f"md5 mismatch for {url}: expected {wrong}, got {got}"):
        download(url, tmp_path / "ref.txt", md5=wrong)
    assert leftovers(tmp_path) == []
    assert http_server.hits("/ref.txt") == 1  # a wrong checksum is not a transient failure


def test_sha256_mismatch_leaves_no_file(http_server, tmp_path):
    url = http_server.serve("/ref.txt", BODY)
    with pytest.raises(ExomirError, match="sha256 mismatch"):
        download(url, tmp_path / "ref.txt", sha256="a" * 64)
    assert leftovers(tmp_path) == []


def test_malformed_checksum_is_refused_before_downloading(http_server, tmp_path):
    url = http_server.serve("/ref.txt", BODY)
    with pytest.raises(ExomirError, match="md5 checksum 'xyz' is not a hex digest"):
        download(url, tmp_path / "ref.txt", md5="xyz")
    assert http_server.hits("/ref.txt") == 0


def test_valid_gzip_is_accepted(http_server, tmp_path):
    packed = gzip.compress(BODY, mtime=0)
    url = http_server.serve("/ref.fa.gz", packed)
    dest = download(url, tmp_path / "ref.fa.gz")
    assert gzip.decompress(dest.read_bytes()) == BODY


def test_corrupt_gzip_leaves_no_file(http_server, tmp_path, sleeps):
    packed = bytearray(gzip.compress(BODY, mtime=0))
    packed[len(packed) // 2] ^= 0xFF
    url = http_server.serve("/ref.fa.gz", bytes(packed))
    with pytest.raises(ExomirError, match="corrupt gzip"):
        download(url, tmp_path / "ref.fa.gz", retries=1)
    assert leftovers(tmp_path) == []


def test_gzip_cut_short_by_the_server_without_length_is_caught(http_server, tmp_path, sleeps):
    packed = gzip.compress(BODY, mtime=0)
    url = http_server.serve("/ref.fa.gz", packed[: len(packed) // 2])
    with pytest.raises(ExomirError, match="corrupt gzip"):
        download(url, tmp_path / "ref.fa.gz", retries=0)
    assert leftovers(tmp_path) == []


def test_connection_refused_is_retried_then_reported(tmp_path, sleeps):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x"
    with pytest.raises(ExomirError, match=f"download of {url} failed after 3 attempts"):
        download(url, tmp_path / "x", retries=2, backoff=0.1)
    assert sleeps == [0.1, 0.2]
    assert leftovers(tmp_path) == []


def test_file_url_and_plain_path_are_copied(tmp_path):
    source = tmp_path / "source.txt"
    source.write_bytes(BODY)
    assert download(source.as_uri(), tmp_path / "a.txt").read_bytes() == BODY
    assert download(str(source), tmp_path / "b.txt").read_bytes() == BODY


def test_local_copy_is_checksum_verified(tmp_path):
    source = tmp_path / "source.txt"
    source.write_bytes(BODY)
    with pytest.raises(ExomirError, match="md5 mismatch"):
        download(str(source), tmp_path / "copy.txt", md5="f" * 32)
    assert not (tmp_path / "copy.txt").exists()


def test_missing_local_file_is_reported(tmp_path):
    with pytest.raises(ExomirError, match="no such file"):
        download(str(tmp_path / "absent.fa"), tmp_path / "copy.fa")


def test_unsupported_scheme_is_reported(tmp_path):
    with pytest.raises(ExomirError, match="unsupported URL scheme 'gopher'"):
        download("gopher://example.org/x", tmp_path / "x")


def test_file_digests_match_hashlib(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(BODY)
    assert file_digests(path) == {
        "md5": hashlib.md5(BODY).hexdigest(),
        "sha256": hashlib.sha256(BODY).hexdigest(),
    }


def test_cli_downloads_with_checksum(http_server, tmp_path):
    url = http_server.serve("/ref.txt", BODY)
    out = tmp_path / "ref.txt"
    status = main(
        ["download", "--url", url, "--out", str(out), "--sha256", hashlib.sha256(BODY).hexdigest()]
    )
    assert status == 0
    assert out.read_bytes() == BODY


def test_cli_reports_404_on_one_line(http_server, tmp_path, capsys):
    url = http_server.serve("/missing", 404)
    status = main(["download", "--url", url, "--out", str(tmp_path / "m"), "--retries", "0"])
    err = capsys.readouterr().err
    assert status == 1
    assert err == f"exomir download: error: HTTP 404 for {url}\n"


def test_negative_retries_are_refused(tmp_path):
    with pytest.raises(ExomirError, match="retries must be 0 or more"):
        download("http://127.0.0.1:9/x", tmp_path / "x", retries=-1)
