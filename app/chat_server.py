"""Start the Chainlit chat (and its embeddable copilot widget) for `trialfinder chat`.

Chainlit reads its configuration (`.chainlit/config.toml`, `public/`, `chainlit.md`) from the folder in
`CHAINLIT_APP_ROOT` at import time, so this module sets that to the project root before importing
Chainlit, then applies what `Settings` decides (allowed origins, host, port) and runs uvicorn itself:
`chainlit run` would load `app/chat.py` as a loose file and could not be handed a `Settings`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from app import chat_store
from app.web_security import SecurityMiddleware, WebPolicy, bind_sessions_to_browsers, session_browser
from trialfinder.settings import PROJECT_ROOT, Settings


def _import_chainlit_config():
    """Import Chainlit's config with the project root as its app root (it is read at import)."""
    already = "chainlit.config" in sys.modules
    os.environ["CHAINLIT_APP_ROOT"] = str(PROJECT_ROOT)
    from chainlit import config as chainlit_config

    if already and os.path.realpath(chainlit_config.APP_ROOT) != os.path.realpath(PROJECT_ROOT):
        raise RuntimeError(
            f"Chainlit was imported with app root {chainlit_config.APP_ROOT} before app.chat_server "
            f"could point it at {PROJECT_ROOT}; start the chat through `trialfinder chat` or "
            f"app.chat_server.serve() in a fresh process."
        )
    return chainlit_config


SOCKET_MESSAGE_BYTES = 8 * 1024 * 1024


def serve(host: str, port: int, settings: Settings) -> None:
    """Run the chat on http://host:port until the process is stopped.

    Loads the index and the answer chain once, before the server accepts connections, so the first
    page load already talks to a ready assistant. Serves the chat at `/` and the widget script at
    `/copilot/index.js`; embedding sites must be listed in `settings.allowed_origins`.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    chainlit_config = _import_chainlit_config()
    config = chainlit_config.config
    config.run.host = host
    config.run.port = port
    config.run.headless = True
    # The CORS middleware is built when chainlit.server is imported, so the origins go in first. Empty
    # means same-origin only: Starlette then sends no Access-Control-Allow-Origin at all (never `*`).
    config.project.allow_origins = list(settings.allowed_origins)
    # Chainlit writes each session's elements (the cited passages a click opens) under one `.files`
    # folder, by default the app root's, and deletes that whole folder when a server stops: two servers
    # on one checkout would delete each other's files. Each server gets a folder of its own instead,
    # owner-only, in the temp folder, which Chainlit removes at its stop.
    files = Path(tempfile.mkdtemp(prefix="trialfinder-chat-files-"))
    chainlit_config.FILES_DIRECTORY = files

    import uvicorn
    from chainlit import server as chainlit_server
    from chainlit.session import WebsocketSession

    chainlit_server.FILES_DIRECTORY = files  # bound at its import; set again in case it came first

    from app import chat

    chat.configure(settings)
    _configure_login(settings)
    # Engine.IO closes the socket, without a word to the user, on a message over its 1 MB default. A message
    # up to SOCKET_MESSAGE_BYTES reaches the chat instead, whose own limit answers it in plain words.
    chainlit_server.sio.eio.max_http_buffer_size = SOCKET_MESSAGE_BYTES
    # Registered after chainlit.socket's own handler (imported by chainlit.server), which it wraps.
    bind_sessions_to_browsers(chainlit_server.sio, WebsocketSession.get_by_id)
    inner: Any = chainlit_server.app
    if chat_store.enable(settings, chainlit_server.app) and not settings.auth_header:
        inner = chat_store.BrowserLogin(inner)  # each browser signed in as itself (app.chat_store)
    app = secured_app(inner, settings, WebsocketSession.get_by_id)

    async def run() -> None:
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_level="warning",
                # Open long-polls and sockets would otherwise hold a stop for as long as they live.
                timeout_graceful_shutdown=5,
            )
        )
        await server.serve()

    print(
        f"trialfinder chat: http://{host}:{port} (widget: http://{host}:{port}/copilot/index.js)",
        file=sys.stderr,
        flush=True,
    )
    # The plain asyncio loop, as `chainlit run` uses (Chainlit's sync helpers are not uvloop-safe).
    asyncio.run(run())


def secured_app(app, settings: Settings, existing_session):
    """Chainlit's ASGI app behind the web defenses of app.web_security, configured from `settings`."""
    policy = WebPolicy(
        allowed_origins=tuple(settings.allowed_origins),
        max_body_bytes=settings.max_request_bytes,
        serve_api_docs=settings.serve_api_docs,
    )

    def session_owner(session_id: str) -> str | None:
        session = existing_session(session_id)
        return None if session is None else session_browser(session.environ) or ""

    return SecurityMiddleware(app, policy, session_owner)


def _configure_login(settings: Settings) -> None:
    """Chainlit's header login, for deployments whose reverse proxy authenticates people (off by default).

    Chainlit then requires a login for the page, the REST calls and the socket, and ties sessions and
    saved threads to the user; its JWT is signed with CHAINLIT_AUTH_SECRET (`chainlit create-secret`).
    """
    if not settings.auth_header:
        return
    if not os.environ.get("CHAINLIT_AUTH_SECRET"):
        raise RuntimeError(
            f"TRIALFINDER_AUTH_HEADER={settings.auth_header} needs CHAINLIT_AUTH_SECRET to sign logins: "
            "generate one with `chainlit create-secret` and set it in the environment."
        )
    import chainlit as cl

    header = settings.auth_header.lower()

    @cl.header_auth_callback
    async def login(headers) -> cl.User | None:
        identity = headers.get(header)
        return cl.User(identifier=identity, metadata={"provider": "header"}) if identity else None
