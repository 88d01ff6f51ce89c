"""The one command-line entry point the Snakemake rules call: ``exomir <command> ...``.

Each command lives in its own module under :mod:`exomir.commands` and defines
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``; they are found
by name, so adding a command never touches this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import signal
import sys
from collections.abc import Sequence
from types import FrameType, ModuleType

from exomir import __version__, commands
from exomir.errors import ExomirError


def command_names() -> list[str]:
    """CLI names of all commands (module names with dashes), found without importing them."""
    return sorted(
        info.name.replace("_", "-")
        for info in pkgutil.iter_modules(commands.__path__)
        if not info.name.startswith("_")
    )


def _command_modules(only: str | None = None) -> dict[str, ModuleType]:
    names = [only] if only is not None else command_names()
    return {
        name: importlib.import_module(f"{commands.__name__}.{name.replace('-', '_')}")
        for name in names
    }


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of command ``only``."""
    parser = argparse.ArgumentParser(prog="exomir", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"exomir {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in _command_modules(only).items():
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (snakemake stopping, a scheduler's kill) would end Python without running
    # `finally` blocks; as SystemExit it lets atomic writes delete their temporary files.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Import only the command being run: importing all of them (pandas, pysam, cutadapt...)
    # costs a second or two, paid by every job of a run.
    only = argv[0] if argv and argv[0] in command_names() else None
    args = build_parser(only).parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        return int(args._run(args) or 0)
    except ExomirError as error:
        message = str(error)
        sample = getattr(args, "sample", None)
        if sample and f"sample {sample}" not in message:
            # Per-sample jobs name the sample: their messages often only name a file.
            message = f"{message} (sample {sample})"
        print(f"exomir {args.command}: error: {message}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)  # main() may be called in-process (tests)


if __name__ == "__main__":
    sys.exit(main())
