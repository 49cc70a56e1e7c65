"""A local Chroma server (`chroma run`) on loopback, for server-mode tests and benchmarks."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def chroma_server(folder: Path, *, timeout: float = 60) -> Iterator[str]:
    """Run `chroma run --path folder/data` on a free loopback port; yield "127.0.0.1:PORT".

    The server is always stopped on exit (terminate, then kill). Raises RuntimeError with the tail of the
    server log when it does not answer its heartbeat within `timeout` seconds.
    """
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        raise RuntimeError(f"{chroma} not found: install the project (`make setup`) to get Chroma's CLI")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(chroma), "run", "--path", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_heartbeat(process, port, timeout, log_path)
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_heartbeat(process: subprocess.Popen, port: int, timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"chroma server did not answer on port {port} (exit code {process.poll()}); "
                f"log: {log_path.read_text(errors='replace')[-2000:]}"
            )
        time.sleep(0.25)
