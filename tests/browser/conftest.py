"""Real-browser fixtures: the real chat server, the widget demo host page, Debian chromium via Playwright.

One chat server per test session, started as `python -m app.cli chat` on a free loopback port over the
session's seed index (`seed_index` from tests/conftest.py). Both servers run in their own process
group and are terminated (then killed) in `finally`, so a failing test never leaves one behind.
Every page records its requests and aborts any that would leave loopback: the app must work offline.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from browser_support import ANSWER_SECONDS, CHROMIUM, CHROMIUM_ARGS, SERVER_START_SECONDS, free_port, is_local

from trialfinder.settings import PROJECT_ROOT

ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
# The README shows these: each view as the tests last saw it.
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"


def _start(command: list[str], env: dict[str, str], log: Path, url: str, ready_path: str) -> Server:
    log.parent.mkdir(parents=True, exist_ok=True)
    out = log.open("wb")
    # Own process group: stopping it stops whatever the server started too.
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    out.close()
    server = Server(url=url, process=process, log=log)
    ready_url = url + ready_path
    deadline = time.monotonic() + SERVER_START_SECONDS
    while True:
        try:
            with urllib.request.urlopen(ready_url, timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            raise RuntimeError(
                f"{' '.join(command)} did not answer at {ready_url} within "
                f"{SERVER_START_SECONDS}s (exit code {process.poll()}); log {log}:\n"
                f"{server.log_tail()}"
            )
        time.sleep(0.3)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """tests/artifacts/ (git-ignored): screenshots and server logs of the last run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """docs/screenshots/ (committed, shown by the README): overwritten by each run."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def turn_timings(artifacts) -> Iterator[list[float]]:
    """Seconds per patient turn, as measured in the browser; p50/p95 written to chat_timings.json at the end.

    Speed is reported here, not asserted (GUIDE: speed is measured, not tested).
    """
    seconds: list[float] = []
    yield seconds
    if seconds:
        ranked = sorted(seconds)

        def quantile(q: float) -> float:
            return round(ranked[min(len(ranked) - 1, math.ceil(q * len(ranked)) - 1)], 3)

        report = {"turns": len(ranked), "p50_s": quantile(0.5), "p95_s": quantile(0.95), "max_s": round(ranked[-1], 3)}
        (artifacts / "chat_timings.json").write_text(json.dumps({**report, "seconds": [round(x, 3) for x in seconds]}))


@pytest.fixture(scope="session")
def demo_port() -> int:
    return free_port()


@contextmanager
def run_chat_server(index_dir: Path, log: Path, allowed_origins: list[str] | None = None) -> Iterator[Server]:
    """`trialfinder chat` (extractive backend) over `index_dir` on a free loopback port, stopped on exit."""
    port = free_port()
    env = {
        **os.environ,
        "TRIALFINDER_INDEX_DIR": str(index_dir),
        "TRIALFINDER_BACKEND": "extractive",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    if allowed_origins is not None:
        env["TRIALFINDER_ALLOWED_ORIGINS"] = json.dumps(allowed_origins)
    server = _start(
        [sys.executable, "-m", "app.cli", "chat", "--host", "127.0.0.1", "--port", str(port)],
        env,
        log,
        f"http://127.0.0.1:{port}",
        "/health",
    )
    try:
        yield server
    finally:
        _stop(server.process)


@pytest.fixture(scope="session")
def chat_server(seed_index, seed_settings, artifacts, demo_port) -> Iterator[Server]:
    """`trialfinder chat` over the seed index, allowing only the demo page's origin to embed it."""
    with run_chat_server(
        seed_settings.index_dir, artifacts / "chat-server.log", [f"http://127.0.0.1:{demo_port}"]
    ) as server:
        yield server


@pytest.fixture(scope="session")
def demo_server(chat_server, demo_port, artifacts) -> Iterator[Server]:
    """The widget demo host page (`make widget-demo`) on its own port, embedding `chat_server`."""
    server = _start(
        [
            sys.executable,
            "-m",
            "app.widget.serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(demo_port),
            "--chat-server",
            chat_server.url,
        ],
        dict(os.environ),
        artifacts / "widget-demo.log",
        f"http://127.0.0.1:{demo_port}",
        "/",
    )
    try:
        yield server
    finally:
        _stop(server.process)


@pytest.fixture(scope="session")
def chromium_browser():
    """Debian chromium driven by Playwright (never `playwright install`)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run `make browser-deps` (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class RecordedPage:
    """A Playwright page plus every URL it requested and those it was refused (off loopback)."""

    page: object
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    socket_events: list[str] = field(default_factory=list)
    stream_tokens: list[str] = field(default_factory=list)


def _event_name(payload) -> str:
    """The Socket.IO event name of a received frame (`42["stream_token",{...}]` -> stream_token)."""
    text = payload if isinstance(payload, str) else payload.decode(errors="replace")
    match = re.match(r'\d+\["([^"]+)"', text)
    return match.group(1) if match else ""


@pytest.fixture
def browser_page(chromium_browser) -> Iterator[RecordedPage]:
    """A fresh browser context (no shared cookies or session) with the network closed beyond loopback."""
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    recorded = RecordedPage(page=None)

    def guard(route) -> None:
        url = route.request.url
        if is_local(url):
            route.continue_()
        else:
            recorded.blocked.append(url)
            route.abort("internetdisconnected")

    context.route("**/*", guard)
    page = context.new_page()
    page.set_default_timeout(ANSWER_SECONDS * 1000)
    page.on("request", lambda request: recorded.requests.append(request.url))

    def watch(socket) -> None:
        recorded.requests.append(socket.url)

        def received(payload) -> None:
            name = _event_name(payload)
            recorded.socket_events.append(name)
            if name == "stream_token":
                recorded.stream_tokens.append(payload if isinstance(payload, str) else payload.decode(errors="replace"))

        socket.on("framereceived", received)

    page.on("websocket", watch)
    recorded.page = page
    try:
        yield recorded
    finally:
        context.close()


@pytest.fixture(scope="session")
def start_chat_server():
    """`run_chat_server`, for tests that serve an index of their own."""
    return run_chat_server
