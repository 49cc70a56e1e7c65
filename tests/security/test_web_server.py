"""The chat server's web defenses (issue 14), against the real `trialfinder chat` over the seed index.

Clients are what an attacker would use: python-socketio (Chainlit's own dependency) speaking the browser's
handshake, urllib and raw sockets. The server runs in its own process group and is always stopped.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import socketio
from pydantic import ValidationError

from app.web_security import BROWSER_COOKIE
from benchmarks.chat_client import ChatClient, fetch_browser_cookie, start_chat_server, stop_chat_server
from trialfinder.settings import Settings

ALLOWED = "http://widget-host.example:8443"
HOSTILE = "http://evil.example"
BODY_LIMIT = 65_536
MESSAGE_LIMIT = 2_000
PATIENT = "I'm 29, pregnant and HIV positive, SLE with SLEDAI 7. Could I join NCT03171194?"


@dataclass
class ChatServer:
    url: str
    host: str
    port: int


@pytest.fixture(scope="module")
def server(seed_settings, seed_index, tmp_path_factory) -> Iterator[ChatServer]:
    env = {
        "TRIALFINDER_ALLOWED_ORIGINS": json.dumps([ALLOWED]),
        "TRIALFINDER_MAX_REQUEST_BYTES": str(BODY_LIMIT),
        "TRIALFINDER_MAX_MESSAGE_CHARS": str(MESSAGE_LIMIT),
    }
    log = tmp_path_factory.mktemp("web") / "chat-server.log"
    process, url = start_chat_server(seed_settings.index_dir, log, env, start_seconds=120)
    try:
        parts = urlsplit(url)
        yield ChatServer(url=url, host=parts.hostname or "", port=parts.port or 0)
    finally:
        stop_chat_server(process)


def request(url: str, method: str = "GET", headers: dict[str, str] | None = None, body: bytes | None = None):
    """(status, headers, body) of one HTTP request, errors included."""
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def run(coroutine):
    # A thread of its own: the browser tests' Playwright (sync API) may leave an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


# -- sessions -------------------------------------------------------------------------------------------


def test_a_stolen_session_id_sees_no_profile_and_no_facts(server):
    async def scenario() -> None:
        owner = ChatClient(server.url, cookie=fetch_browser_cookie(server.url))
        await owner.connect()
        reply = await owner.ask(PATIENT)
        assert "NCT03171194" in reply.everything
        assert any("pregnant" in json.dumps(p) for p in owner.profile_events), "the owner sees their own profile"

        thieves = [
            ChatClient(server.url, session_id=owner.session_id),  # no cookie at all
            ChatClient(server.url, session_id=owner.session_id, cookie=fetch_browser_cookie(server.url)),
            ChatClient(server.url, session_id=owner.session_id, origin=server.url, transports=("polling",)),
        ]
        for thief in thieves:
            with pytest.raises(socketio.exceptions.ConnectionError):
                # The refusal arrives at once; over polling the client only reports it when the wait ends.
                await thief.connect(timeout=5, resumed=True)
            await thief.close()
            seen = json.dumps([data for _, data in thief.events])
            assert "pregnant" not in seen and "Facts used" not in seen and thief.profile_events == []

        # Leaving does not free the id for others; the owner's own browser gets its chat back.
        await owner.close()
        late = ChatClient(server.url, session_id=owner.session_id, cookie=fetch_browser_cookie(server.url))
        with pytest.raises(socketio.exceptions.ConnectionError):
            await late.connect(resumed=True)
        await late.close()
        back = ChatClient(server.url, session_id=owner.session_id, cookie=owner.cookie)
        await back.connect(resumed=True)
        again = await back.ask("and now?")
        assert "NCT03171194" in again.everything
        await back.close()

        # Chainlit's REST calls that name a session are held to the same owner.
        thief_cookie = {"Cookie": f"{BROWSER_COOKIE}={fetch_browser_cookie(server.url)}"}
        owner_cookie = {"Cookie": f"{BROWSER_COOKIE}={owner.cookie}"}
        file_url = f"{server.url}/project/file/anything?session_id={owner.session_id}"
        assert request(file_url, headers=thief_cookie)[0] == 403
        assert request(file_url, headers=owner_cookie)[0] == 404  # past the owner check: no such file
        action = json.dumps({"sessionId": owner.session_id, "action": {"name": "x", "payload": {}}}).encode()
        json_headers = {**thief_cookie, "Content-Type": "application/json"}
        assert request(f"{server.url}/project/action", "POST", json_headers, action)[0] == 403

    run(scenario())


def test_the_browser_cookie_is_httponly_and_samesite(server):
    _, headers, _ = request(server.url + "/")
    cookie = next(c for c in headers.get_all("set-cookie") if c.startswith(BROWSER_COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie


# -- origins --------------------------------------------------------------------------------------------


def test_a_websocket_from_a_disallowed_origin_is_refused_in_both_transports(server):
    async def connects(origin: str, transport: str) -> bool:
        client = ChatClient(server.url, origin=origin, transports=(transport,))
        try:
            await client.connect()
            return True
        except (socketio.exceptions.ConnectionError, RuntimeError):
            return False
        finally:
            await client.close()

    for transport in ("websocket", "polling"):
        assert not run(connects(HOSTILE, transport)), transport
        assert run(connects(ALLOWED, transport)), transport
        assert run(connects(server.url, transport)), transport  # the chat's own page

    handshake = f"{server.url}/ws/socket.io/?EIO=4&transport=polling"
    assert request(handshake, headers={"Origin": HOSTILE})[0] == 403
    assert request(handshake, headers={"Origin": ALLOWED})[0] == 200


def test_cors_never_sends_a_wildcard_with_credentials(server):
    for origin in (ALLOWED, HOSTILE, server.url):
        status, headers, _ = request(
            server.url + "/project/settings",
            "OPTIONS",
            {"Origin": origin, "Access-Control-Request-Method": "GET"},
        )
        assert headers.get("access-control-allow-origin") != "*"
    _, headers, _ = request(
        server.url + "/project/settings", "OPTIONS", {"Origin": ALLOWED, "Access-Control-Request-Method": "GET"}
    )
    assert headers.get("access-control-allow-origin") == ALLOWED
    assert request(server.url + "/project/settings", headers={"Origin": HOSTILE})[0] == 403


# -- headers, page, API docs ----------------------------------------------------------------------------


def test_security_headers_and_a_page_that_points_nowhere_else(server):
    status, headers, body = request(server.url + "/")
    assert status == 200
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    csp = dict(d.strip().split(" ", 1) for d in headers["content-security-policy"].split(";"))
    assert csp["default-src"] == "'self'"
    assert csp["frame-ancestors"].split() == ["'self'", ALLOWED]
    assert csp["object-src"] == "'none'"
    html = body.decode()
    assert not re.findall(r"(?:href|src)=\"(?:https?:)?//[^\"]*\"", html), "served page points off-host"
    nonce = re.search(r"'nonce-([^']+)'", csp["script-src"]).group(1)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline and all(f'nonce="{nonce}"' in attrs for attrs in inline)
    assert "http" not in csp["script-src"] + csp["connect-src"] + csp["default-src"]
    # Every response carries them, not only the page.
    _, asset_headers, _ = request(server.url + "/health")
    assert asset_headers["x-content-type-options"] == "nosniff" and "content-security-policy" in asset_headers


def test_api_docs_are_not_served(server):
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert request(server.url + path)[0] == 404, path


# -- bounds ---------------------------------------------------------------------------------------------


def _raw_http(server: ChatServer, head: str, body_parts: list[bytes] = ()) -> str:
    """Send a request head (and optional body parts) on a raw socket and return the status line."""
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(head.encode())
        for part in body_parts:
            try:
                sock.sendall(part)
            except OSError:  # the server may close once it has refused
                break
        return sock.makefile("rb").readline().decode()


def test_an_oversized_body_is_refused_before_it_is_read(server):
    # Content-Length over the limit and not one byte of body sent: the answer comes anyway.
    declared = (
        f"POST /project/file?session_id=x HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {50 * BODY_LIMIT}\r\n\r\n"
    )
    assert " 413 " in _raw_http(server, declared)
    # Chunked (no length): refused once the limit is crossed, without waiting for the rest.
    chunked = (
        f"POST /project/action HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * 16_384
    parts = [f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"] * (BODY_LIMIT // len(chunk) + 2)
    assert " 413 " in _raw_http(server, chunked, parts)
    # Under the limit the request reaches Chainlit (which rejects the made-up action on its own terms).
    small = json.dumps({"sessionId": "no-such-session", "action": {}}).encode()
    status, _, _ = request(server.url + "/project/action", "POST", {"Content-Type": "application/json"}, small)
    assert status != 413


def test_an_over_long_message_gets_a_plain_answer_and_the_chat_goes_on(server):
    async def scenario() -> None:
        client = ChatClient(server.url, cookie=fetch_browser_cookie(server.url))
        await client.connect()
        long = await client.ask("I have lupus. " * (MESSAGE_LIMIT // 14 + 5))
        assert f"at most {MESSAGE_LIMIT:,}" in long.everything
        assert "NCT" not in long.everything and len(client.profile_events) == 1  # not answered, profile untouched
        short = await client.ask("What are the study groups of NCT03171194?")
        assert "NCT03171194" in short.everything
        # over Engine.IO's 1 MB default: still a plain answer, not a silent disconnect
        huge = await client.ask("x" * 1_200_000)
        assert "1,200,000 characters" in huge.everything
        await client.close()

    run(scenario())


# -- configuration --------------------------------------------------------------------------------------


@pytest.mark.parametrize("origins", [["*"], ["evil.example"], ["http://a.example/path"], ["file:///tmp/x"]])
def test_allowed_origins_must_be_explicit_origins(origins):
    with pytest.raises(ValidationError, match="is not an origin"):
        Settings(allowed_origins=origins)


def test_allowed_origins_default_to_none_but_the_chats_own():
    assert Settings().allowed_origins == []
    assert Settings(allowed_origins=["https://hospital.example/"]).allowed_origins == ["https://hospital.example"]
