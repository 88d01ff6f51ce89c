"""exomir download: one URL to one file, complete and checksum-verified or not at all."""

from __future__ import annotations

import argparse

from exomir.config import schema_default
from exomir.download import download

HELP = "download a URL (http, https, ftp, file or a path) to a file, with retries and checksums"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", required=True, help="destination; a .gz one is test-decompressed")
    parser.add_argument("--md5", help="expected md5 (hex)")
    parser.add_argument("--sha256", help="expected sha256 (hex)")
    parser.add_argument(
        "--retries",
        type=int,
        default=schema_default("fastq_download.retries"),
        help="attempts after the first",
    )
    parser.add_argument("--timeout", type=float, default=60, help="seconds per network read")


def run(args: argparse.Namespace) -> int:
    download(
        args.url,
        args.out,
        md5=args.md5,
        sha256=args.sha256,
        retries=args.retries,
        timeout=args.timeout,
    )
    return 0
