"""Headless Chromium for report tests and benchmarks: the DOM after the page's JavaScript
ran, a screenshot, and how long the page took to load."""

from __future__ import annotations

import resource
import shutil
import subprocess
import time
from pathlib import Path


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _flags(profile: Path, budget_ms: int) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--virtual-time-budget={budget_ms}",
    ]


def dump_dom(report: Path, profile: Path, budget_ms: int = 15000, timeout: int = 180) -> str:
    """The DOM once the page's scripts ran (plots drawn), as text."""
    command = [chromium(), *_flags(profile, budget_ms), "--dump-dom", report.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout).stdout


def screenshot(
    report: Path, out: Path, profile: Path, size: str = "1280,3000", budget_ms: int = 15000
) -> Path:
    command = [chromium(), *_flags(profile, budget_ms), f"--window-size={size}"]
    command += [f"--screenshot={out}", report.as_uri()]
    subprocess.run(command, capture_output=True, timeout=300)
    return out


def render_seconds(report: Path, profile: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds (all browser processes) for headless Chromium to load the
    report and run its scripts (real time, no virtual-time fast-forward), start-up included.
    CPU time is the figure to trust on a shared machine, where wall time waits for cores."""
    command = [chromium(), *_flags(profile, 0)[:-1], "--dump-dom", report.as_uri()]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, timeout=600)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu
