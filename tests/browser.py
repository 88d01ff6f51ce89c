"""Headless Chromium for report tests and benchmarks: the DOM after the page's JavaScript
ran, a screenshot, and how long the page took to load."""

from __future__ import annotations

import contextlib
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


class _DevTools:
    """Chrome DevTools protocol over --remote-debugging-pipe (fds 3 and 4: no websocket)."""

    def __init__(self, profile: Path):
        import os

        self._to_chrome_r, self._to_chrome_w = os.pipe()
        self._from_chrome_r, self._from_chrome_w = os.pipe()
        command = [chromium(), *_flags(profile, 0)[:-1], "--remote-debugging-pipe"]
        # chromium reads commands on fd 3 and writes replies on fd 4
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=lambda: (
                os.dup2(self._to_chrome_r, 3),
                os.dup2(self._from_chrome_w, 4),
            ),
        )
        os.close(self._to_chrome_r)
        os.close(self._from_chrome_w)
        self._reader = os.fdopen(self._from_chrome_r, "rb")
        self._writer = os.fdopen(self._to_chrome_w, "wb")
        self._next_id = 0
        self._buffer = b""

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        import json

        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._writer.write(json.dumps(message).encode() + b"\0")
        self._writer.flush()
        while True:
            while b"\0" not in self._buffer:
                chunk = self._reader.read1(1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, OSError, ValueError):
            self.call("Browser.close")
        self.process.wait(timeout=30)


def time_to_plots(
    report: Path, profile: Path, quiet_seconds: float = 3.0, timeout: float = 300.0
) -> tuple[float, int]:
    """Seconds from navigation until the report's last plot was drawn (Plotly SVG count stops
    changing for ``quiet_seconds``), and how many plot SVGs there were. Browser start-up is
    not included."""
    tools = _DevTools(profile)
    try:
        target = tools.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = tools.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        count_js = {"expression": "document.querySelectorAll('.main-svg').length"}
        start = time.perf_counter()
        tools.call("Page.navigate", {"url": report.as_uri()}, session)
        last_count, last_change = -1, start
        while True:
            now = time.perf_counter()
            result = tools.call("Runtime.evaluate", count_js, session)
            count = int(result.get("result", {}).get("value") or 0)
            if count != last_count:
                last_count, last_change = count, now
            elif count > 0 and now - last_change >= quiet_seconds:
                return last_change - start, count
            if now - start > timeout:
                return now - start, count
            time.sleep(0.05)
    finally:
        tools.close()
