"""The chat server's web defenses: one ASGI middleware wrapped around Chainlit's app, plus session binding.

`SecurityMiddleware` sits in front of everything Chainlit serves (pages, REST endpoints, the socket.io
handshake in both transports) and enforces, before Chainlit sees a request:

- origins: a request whose `Origin` is neither the server's own nor in the allowed list is refused
  (HTTP 403, or a WebSocket closed before it is accepted). CORS alone only stops a hostile page from
  *reading* a response; socket.io's WebSocket is not covered by CORS at all;
- body size: a body over the limit gets 413 before it is read (`Content-Length`), or as soon as the limit
  is crossed (chunked);
- the browser identity: an HttpOnly, SameSite cookie (`BROWSER_COOKIE`) issued to every client that comes
  without one. A Chainlit session belongs to the browser that opened it: a socket.io connect or an HTTP
  call naming an existing session id from another browser is refused (`bind_sessions_to_browsers`);
- headers: a Content-Security-Policy allowing nothing off-host (inline scripts only with the page's
  nonce; `frame-ancestors` = the allowed origins), `X-Content-Type-Options: nosniff`,
  `Referrer-Policy: no-referrer`;
- the page: links and scripts that Chainlit's page template points off-host (Google Fonts, KaTeX on a CDN)
  are removed from the served HTML, so the page loads nothing external;
- FastAPI's `/docs`, `/redoc` and `/openapi.json` answer 404 unless configured.
"""

from __future__ import annotations

import gzip
import json
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The browser identity. Stable: other modules (saved chats) read it to know which browser asks.
BROWSER_COOKIE = "trialfinder_browser"
# Long enough for saved chats to find their browser again; the value is random, never patient data.
BROWSER_COOKIE_MAX_AGE = 30 * 24 * 3600
SOCKET_IO_PREFIX = "/ws/socket.io"
API_DOC_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})

# Stylesheets, preconnect hints and scripts that Chainlit's page template points at the internet
# (Google Fonts, the KaTeX stylesheet on jsDelivr). With the network closed a blocking stylesheet
# stalls the first paint, and the CSP would refuse them anyway.
_EXTERNAL_TAG = re.compile(
    r"<link\b[^>]*\bhref=\"(?:https?:)?//[^\"]*\"[^>]*>"
    r"|<script\b[^>]*\bsrc=\"(?:https?:)?//[^\"]*\"[^>]*>\s*</script>",
    re.IGNORECASE | re.DOTALL,
)
# Inline scripts of the template (theme variables, transports): they run only with the page's nonce.
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*\bnonce=)", re.IGNORECASE)


def strip_external_resources(html: str) -> str:
    """Remove every `<link href>` and `<script src>` that points off the serving host."""
    return _EXTERNAL_TAG.sub("", html)


def rewrite_page(html: str, nonce: str) -> str:
    """The served page with nothing off-host and its inline scripts carrying `nonce`."""
    return _INLINE_SCRIPT.sub(f'<script nonce="{nonce}"', strip_external_resources(html))


@dataclass(frozen=True)
class WebPolicy:
    """What the middleware enforces (built from `Settings` by app.chat_server)."""

    allowed_origins: tuple[str, ...]
    max_body_bytes: int
    serve_api_docs: bool = False


def content_security_policy(policy: WebPolicy, nonce: str | None) -> str:
    """The CSP: same-origin everything; inline styles (the React UI sets `style=`), inline scripts by nonce."""
    scripts = f"'self' 'nonce-{nonce}'" if nonce else "'self'"
    ancestors = " ".join(("'self'", *policy.allowed_origins))
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline' data:",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "media-src 'self' blob:",
            "worker-src 'self' blob:",
            # 'self' covers ws:/wss: to the same host in CSP Level 3 (Chromium, Firefox, Safari).
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            f"frame-ancestors {ancestors}",
        )
    )


def browser_token(cookie_header: str | None) -> str | None:
    """The browser identity in a `Cookie` header, if any."""
    if not cookie_header:
        return None
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(cookie_header)
    except Exception:  # a malformed Cookie header is no identity
        return None
    morsel = cookies.get(BROWSER_COOKIE)
    return morsel.value if morsel and morsel.value else None


def _origin_key(origin: str) -> str:
    """`scheme://host[:port]`, lower case, default ports dropped, for comparing origins."""
    parts = urlsplit(origin.strip().lower())
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return origin
    host = parts.hostname or ""
    netloc = host if port in (None, default) else f"{host}:{port}"
    return f"{parts.scheme}://{netloc}"


class SecurityMiddleware:
    """ASGI middleware in front of Chainlit (see the module docstring for what it enforces).

    `session_owner(session_id)` returns the browser token that opened a live Chainlit session, or None
    when no such session exists; HTTP calls naming a session of another browser are refused with it.
    """

    def __init__(self, app: ASGIApp, policy: WebPolicy, session_owner: Callable[[str], str | None]):
        self.app = app
        self.policy = policy
        self.session_owner = session_owner
        self._allowed = frozenset(_origin_key(o) for o in policy.allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        path = scope.get("path", "")
        if path in API_DOC_PATHS and not self.policy.serve_api_docs:
            await _refuse(scope, send, 404, "Not found.")
            return
        origin = headers.get("origin")
        # A preflight goes on to the CORS middleware, which answers it without allowing anything.
        preflight = scope["type"] == "http" and scope.get("method") == "OPTIONS"
        if origin and not preflight and not self.origin_allowed(origin, scope, headers):
            await _refuse(scope, send, 403, f"Origin {origin} is not allowed to use this chat.")
            return
        token = browser_token(headers.get("cookie"))
        new_token = None
        if token is None:
            # Chainlit binds a session to the environ of its first connect: give it the identity now.
            token = new_token = secrets.token_urlsafe(32)
            _add_request_cookie(scope, token)
        if scope["type"] == "http":
            refused = await self._http_checks(scope, receive, headers, token)
            if isinstance(refused, tuple):
                await _refuse(scope, send, *refused)
                return
            await self.app(scope, refused, self._http_send(scope, send, new_token))
        else:
            await self.app(scope, receive, self._websocket_send(send, new_token))

    async def _http_checks(
        self, scope: Scope, receive: Receive, headers: dict[str, str], token: str
    ) -> Receive | tuple[int, str]:
        """The body limit and the session owner: the `receive` to hand on, or (status, text) to refuse with."""
        limit = self.policy.max_body_bytes
        too_large = (413, f"Request body over the limit of {limit} bytes.")
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return too_large  # refused before a byte of the body is read
        body: bytes | None = None
        is_json = headers.get("content-type", "").split(";")[0].strip() == "application/json"
        chunked = declared is None and "chunked" in headers.get("transfer-encoding", "")
        if chunked or (is_json and scope.get("method") in ("POST", "PUT", "PATCH", "DELETE")):
            # Read now, never past the limit: a chunked body has no length to check, and a JSON body may
            # name a session id (Chainlit's REST calls carry `sessionId`).
            body = await _read_body(receive, limit)
            if body is None:
                return too_large
        for session_id in _claimed_sessions(scope, body):
            owner = self.session_owner(session_id)
            if owner is not None and owner != token:
                return (403, "This chat session belongs to another browser.")
        return receive if body is None else _replay(body, receive)

    def origin_allowed(self, origin: str, scope: Scope, headers: dict[str, str]) -> bool:
        """The server's own origin (the `Host` the browser addressed) or one of the allowed origins.

        Scheme is not compared for the own origin: behind a TLS proxy the server sees http while the
        browser says https, and a hostile page cannot choose the host the browser sends.
        """
        key = _origin_key(origin)
        if key in self._allowed:
            return True
        host = headers.get("host", "")
        own_http = _origin_key(f"http://{host}")
        own_https = _origin_key(f"https://{host}")
        return bool(host) and key in (own_http, own_https)

    def _http_send(self, scope: Scope, send: Send, new_token: str | None) -> Send:
        nonce = secrets.token_urlsafe(16)
        start: Message | None = None
        page_parts: list[bytes] = []

        async def wrapped(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                response_headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"content-security-policy"
                ]
                is_page = _header(response_headers, b"content-type").startswith(b"text/html")
                response_headers += self._security_headers(nonce if is_page else None, scope, new_token)
                message = {**message, "headers": response_headers}
                if is_page:
                    start = message  # held until the whole page is read and rewritten
                    return
                await send(message)
                return
            if message["type"] == "http.response.body" and start is not None:
                page_parts.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                await self._send_page(send, start, b"".join(page_parts), nonce)
                return
            await send(message)

        return wrapped

    async def _send_page(self, send: Send, start: Message, body: bytes, nonce: str) -> None:
        headers = list(start["headers"])
        compressed = _header(headers, b"content-encoding") == b"gzip"
        html = (gzip.decompress(body) if compressed else body).decode("utf-8")
        rewritten = rewrite_page(html, nonce).encode("utf-8")
        if compressed:
            rewritten = gzip.compress(rewritten)
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(rewritten)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": rewritten, "more_body": False})

    def _websocket_send(self, send: Send, new_token: str | None) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "websocket.accept" and new_token is not None:
                headers = list(message.get("headers", []))
                headers.append((b"set-cookie", _cookie(new_token, secure=False).encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        return wrapped

    def _security_headers(self, nonce: str | None, scope: Scope, new_token: str | None) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"content-security-policy", content_security_policy(self.policy, nonce).encode("latin-1")),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
        ]
        if new_token is not None:
            secure = scope.get("scheme") == "https"
            headers.append((b"set-cookie", _cookie(new_token, secure=secure).encode("latin-1")))
        return headers


def _cookie(token: str, *, secure: bool) -> str:
    # Over https the widget may be embedded cross-site, which needs SameSite=None (allowed only with Secure);
    # over plain http (loopback, same site) Lax keeps the cookie off other sites' requests.
    same_site = "None; Secure" if secure else "Lax"
    return f"{BROWSER_COOKIE}={token}; Path=/; Max-Age={BROWSER_COOKIE_MAX_AGE}; HttpOnly; SameSite={same_site}"


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it passes `limit` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the already-read body on, then whatever the client sends next (disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _claimed_sessions(scope: Scope, body: bytes | None) -> list[str]:
    """Session ids an HTTP request names: `?session_id=` or a JSON body's `sessionId` / `session_id`."""
    claimed = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_id", [])
    if body:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            claimed += [v for k in ("sessionId", "session_id") if isinstance(v := payload.get(k), str)]
    return claimed


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes:
    return next((v for k, v in headers if k.lower() == name), b"")


def _add_request_cookie(scope: Scope, token: str) -> None:
    headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"cookie"]
    existing = next((v for k, v in scope.get("headers", []) if k.lower() == b"cookie"), b"")
    cookie = f"{BROWSER_COOKIE}={token}".encode("latin-1")
    headers.append((b"cookie", existing + b"; " + cookie if existing else cookie))
    scope["headers"] = headers


async def _refuse(scope: Scope, send: Send, status: int, text: str) -> None:
    if scope["type"] == "websocket":
        # Closing before accepting makes the server answer the handshake with 403.
        await send({"type": "websocket.close", "code": 1008})
        return
    body = text.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def session_browser(environ: dict[str, Any] | None) -> str | None:
    """The browser token in a socket.io environ (the WSGI-style dict of the connecting request)."""
    return browser_token((environ or {}).get("HTTP_COOKIE"))


def bind_sessions_to_browsers(sio: Any, existing_session: Callable[[str], Any]) -> None:
    """Wrap the socket.io `connect` handler: a session id already open in another browser is refused.

    `existing_session(session_id)` returns the live Chainlit session (with its `environ`) or None. The
    first connect of a session id binds it to the connecting browser's cookie; Chainlit keeps that
    environ, so a later connect or reconnect must present the same cookie.
    """
    import socketio

    handler = sio.handlers["/"]["connect"]

    async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any] | None = None) -> Any:
        session_id = (auth or {}).get("sessionId")
        if not isinstance(session_id, str) or not session_id:
            raise socketio.exceptions.ConnectionRefusedError("a session id is required")
        session = existing_session(session_id)
        if session is not None and session_browser(session.environ) != session_browser(environ):
            raise socketio.exceptions.ConnectionRefusedError("this chat session belongs to another browser")
        return await handler(sid, environ, auth)

    sio.on("connect", connect)
