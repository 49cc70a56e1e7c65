"""A socket.io client that talks to the real chat server as Chainlit's own page does (load test, security tests).

It connects to `/ws/socket.io` with the handshake the browser sends (`auth` with a session id, the
browser cookie, optionally an `Origin`), sends a message as `client_message` and collects what comes back
until the server says the task ended: the streamed answer text, the messages and the patient profile
(`chat_settings`) it received.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import socketio

from app.web_security import BROWSER_COOKIE, browser_token
from benchmarks.children import child_env
from trialfinder.settings import PROJECT_ROOT


def start_chat_server(
    index_dir: Path,
    log: Path,
    env: Mapping[str, str] | None = None,
    start_seconds: float = 180,
    port: int | None = None,
) -> tuple[subprocess.Popen, str]:
    """`trialfinder chat` over `index_dir` on `port` (default: a free loopback port), in its own process
    group; (process, url)."""
    if port is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    environ = child_env(TRIALFINDER_INDEX_DIR=str(index_dir), TRIALFINDER_BACKEND="extractive", **(env or {}))
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "chat", "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + start_seconds
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return process, url
        except OSError as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                stop_chat_server(process)
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the chat server did not start; log {log}:\n{tail}") from exc
            time.sleep(0.3)


def stop_chat_server(process: subprocess.Popen) -> None:
    """Stop the server's process group (SIGTERM, then SIGKILL)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


def fetch_browser_cookie(url: str) -> str:
    """Load the chat page once, as a browser does, and return the browser cookie it was given."""
    with urllib.request.urlopen(url, timeout=30) as response:
        for header in response.headers.get_all("set-cookie") or []:
            if token := browser_token(header.split(";", 1)[0]):
                return token
    raise RuntimeError(f"{url} set no {BROWSER_COOKIE} cookie")


@dataclass
class Reply:
    """What the server sent for one message, in order."""

    text: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    first_token_seconds: float | None = None

    @property
    def everything(self) -> str:
        """Streamed text plus the content of every message and element sent (to search for leaks)."""
        return "\n".join([self.text, *(str(m.get("output", "")) for m in self.messages)])


@dataclass
class ChatClient:
    """One chat session over socket.io. `session_id` may be someone else's (the stolen-id test)."""

    url: str
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    cookie: str | None = None
    origin: str | None = None
    transports: tuple[str, ...] = ("websocket",)
    thread_id: str = ""  # a saved thread to resume (saved chats only)
    profile_events: list[Any] = field(default_factory=list)
    events: list[tuple[str, Any]] = field(default_factory=list)
    _sio: socketio.AsyncClient | None = None
    _done: asyncio.Event | None = None
    _task_started: bool = False
    _times: list[float] = field(default_factory=list)
    _ended: int = 0

    async def connect(self, timeout: float = 30, *, resumed: bool = False) -> None:
        """Open the session (raises socketio.exceptions.ConnectionError when the server refuses).

        A new session waits for the chat start; `resumed` (reconnecting to a session that already talked)
        does not, as the server starts nothing then.
        """
        headers = {}
        if self.cookie:
            headers["Cookie"] = f"{BROWSER_COOKIE}={self.cookie}"
        if self.origin:
            headers["Origin"] = self.origin
        sio = socketio.AsyncClient(reconnection=False)
        self._sio, self._done = sio, asyncio.Event()

        @sio.on("*")
        async def anything(event: str, data: Any = None) -> None:
            self.events.append((event, data))
            self._times.append(time.perf_counter())
            if event == "chat_settings":
                self.profile_events.append(data)
            elif event == "task_start":
                self._task_started = True
            elif event == "task_end" and self._task_started and self._done is not None:
                self._ended += 1
                # Only the end of a task that started after `ask` (connecting sends a task_end too).
                self._done.set()

        await sio.connect(
            self.url,
            socketio_path="/ws/socket.io",
            headers=headers,
            transports=list(self.transports),
            auth={"clientType": "webapp", "sessionId": self.session_id, "threadId": self.thread_id, "userEnv": "{}"},
            wait_timeout=timeout,
        )
        # The server then runs the chat start (welcome, empty profile) as a task of its own.
        self._done.clear()
        self._task_started = False
        await sio.emit("connection_successful")
        if not resumed:
            await asyncio.wait_for(self._done.wait(), timeout)

    async def ask(self, text: str, timeout: float = 120) -> Reply:
        """Send `text` as the user and wait for the end of the answer."""
        assert self._sio is not None and self._done is not None, "connect() first"
        self._done.clear()
        self._task_started = False
        first = len(self.events)
        started = time.perf_counter()
        await self._send(text)
        await asyncio.wait_for(self._done.wait(), timeout)
        reply = Reply(seconds=time.perf_counter() - started)
        for (event, data), at in zip(self.events[first:], self._times[first:], strict=True):
            if event == "stream_start" and reply.first_token_seconds is None:
                reply.first_token_seconds = at - started
            if event == "stream_start" and isinstance(data, dict):
                reply.text += str(data.get("output", ""))
            elif event == "stream_token" and isinstance(data, dict):
                reply.text += str(data.get("token", ""))
            elif event in ("new_message", "update_message", "element") and isinstance(data, dict):
                reply.messages.append(data)
        return reply

    async def flood(self, texts: list[str], timeout: float = 300) -> float:
        """Send all `texts` without waiting between them (as a hostile client may), then wait until every
        one was answered; returns the seconds that took."""
        assert self._sio is not None, "connect() first"
        started, ended = time.perf_counter(), self._ended
        self._task_started = False
        count = len(texts)
        for text in texts:
            await self._send(text)
        deadline = time.monotonic() + timeout
        while self._ended - ended < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count - (self._ended - ended)} of {count} flooded messages unanswered")
            await asyncio.sleep(0.05)
        return time.perf_counter() - started

    async def _send(self, text: str) -> None:
        assert self._sio is not None
        message = {
            "id": str(uuid.uuid4()),
            "name": "User",
            "type": "user_message",
            "output": text,
            "createdAt": datetime.now(UTC).isoformat(),
        }
        await self._sio.emit("client_message", {"message": message, "fileReferences": []})

    async def close(self) -> None:
        """Leave: close the Engine.IO connection (the server then ends the socket.io session).

        `abort` skips waiting for the long-poll of the polling transport, which would otherwise return only
        at the next ping (25 s).
        """
        if self._sio is not None and self._sio.connected:
            await self._sio.eio.disconnect(abort=True)
