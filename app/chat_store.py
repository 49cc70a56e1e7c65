"""Saved chats: threads, the dialogue state and the cited passages in one local SQLite file.

On only when `Settings.save_chats` is set (off by default: then no data layer exists and nothing is
written). What is kept, and for whom (docs/DESIGN.md, "Saved chats"; docs/SECURITY.md):

- Chainlit's own SQLAlchemy data layer keeps users, threads, messages (steps) and elements in the
  tables of `SCHEMA`, created here at server start (Chainlit creates none);
- the dialogue state (`Conversation.state()`, the profile with the words each fact came from) lives in
  the thread's metadata under `STATE_KEY`, written after every turn and profile edit and read back by
  `restore` when Chainlit resumes the thread;
- the text of each cited passage (a `cl.Text` element) goes to `PassageStorage`, a table of the same
  file, served back at `PASSAGE_ROUTE` to the browser that owns the thread, so a citation in an old
  message opens after a restart;
- the chat is anonymous, but Chainlit resumes threads only for an authenticated user. `BrowserLogin`
  gives every browser a Chainlit user derived from its `trialfinder_browser` cookie (a hash of it, never
  the cookie itself), so each browser sees and resumes only its own threads and nobody logs in.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from app.conversation import Conversation, ConversationState
from app.web_security import ASGIApp, Receive, Scope, Send, browser_token
from trialfinder.settings import Settings

STATE_KEY = "trialfinder_state"
PASSAGE_ROUTE = "/trialfinder/passage/"
# Chainlit's auth cookie (chainlit.auth.cookie; CHAINLIT_AUTH_COOKIE_NAME renames it).
_AUTH_COOKIE = os.environ.get("CHAINLIT_AUTH_COOKIE_NAME", "access_token")

# The tables Chainlit's SQLAlchemyDataLayer reads and writes (its documented schema, in SQLite types),
# plus `passages` for PassageStorage. Every column a StepDict or ElementDict may carry is listed:
# `TrialfinderDataLayer` drops keys outside them rather than fail a write.
SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    "id" TEXT PRIMARY KEY, "identifier" TEXT NOT NULL UNIQUE, "metadata" TEXT NOT NULL, "createdAt" TEXT
);
CREATE TABLE IF NOT EXISTS threads (
    "id" TEXT PRIMARY KEY, "createdAt" TEXT, "name" TEXT, "userId" TEXT, "userIdentifier" TEXT,
    "tags" TEXT, "metadata" TEXT,
    FOREIGN KEY ("userId") REFERENCES users("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS steps (
    "id" TEXT PRIMARY KEY, "name" TEXT NOT NULL, "type" TEXT NOT NULL, "threadId" TEXT NOT NULL,
    "parentId" TEXT, "command" TEXT, "modes" TEXT, "streaming" BOOLEAN NOT NULL, "waitForAnswer" BOOLEAN,
    "isError" BOOLEAN, "metadata" TEXT, "tags" TEXT, "input" TEXT, "output" TEXT, "createdAt" TEXT,
    "start" TEXT, "end" TEXT, "generation" TEXT, "showInput" TEXT, "defaultOpen" BOOLEAN,
    "autoCollapse" BOOLEAN, "language" TEXT, "icon" TEXT,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS elements (
    "id" TEXT PRIMARY KEY, "threadId" TEXT, "type" TEXT, "url" TEXT, "chainlitKey" TEXT,
    "name" TEXT NOT NULL, "display" TEXT, "objectKey" TEXT, "size" TEXT, "page" INTEGER,
    "language" TEXT, "forId" TEXT, "mime" TEXT, "props" TEXT DEFAULT '{}', "autoPlay" BOOLEAN, "playerConfig" TEXT,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS feedbacks (
    "id" TEXT PRIMARY KEY, "forId" TEXT NOT NULL, "threadId" TEXT, "value" INTEGER NOT NULL, "comment" TEXT
);
CREATE TABLE IF NOT EXISTS passages (
    "objectKey" TEXT PRIMARY KEY, "mime" TEXT NOT NULL, "content" BLOB NOT NULL
);
"""
_STEP_COLUMNS = frozenset(
    [
        "id",
        "name",
        "type",
        "threadId",
        "parentId",
        "command",
        "modes",
        "streaming",
        "waitForAnswer",
        "isError",
        "metadata",
        "tags",
        "input",
        "output",
        "createdAt",
        "start",
        "end",
        "generation",
        "showInput",
        "defaultOpen",
        "autoCollapse",
        "language",
        "icon",
    ]
)


def create_schema(path: Path) -> None:
    """Create the SQLite file and its tables (idempotent); the folder is made if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
    os.chmod(path, 0o600)  # patient words: readable by the server's user only


def browser_identifier(token: str) -> str:
    """The Chainlit user of one browser: a hash of its cookie, so the database never holds the cookie."""
    return "browser-" + hashlib.sha256(token.encode()).hexdigest()[:32]


def state_metadata(conversation: Conversation) -> dict[str, Any]:
    """The thread metadata entry that keeps `conversation` (JSON-ready)."""
    return {STATE_KEY: conversation.state().model_dump(mode="json")}


def restore(thread: Mapping[str, object]) -> Conversation:
    """The conversation saved in a thread's metadata (an empty one when the thread has none)."""
    metadata = thread.get("metadata") or {}
    if isinstance(metadata, str):  # SQLite hands JSON columns back as text
        metadata = json.loads(metadata)
    saved = metadata.get(STATE_KEY) if isinstance(metadata, dict) else None
    return Conversation.from_state(ConversationState.model_validate(saved)) if saved else Conversation()


def _data_layer_class() -> type:
    from chainlit.data.sql_alchemy import SQLAlchemyDataLayer

    class TrialfinderDataLayer(SQLAlchemyDataLayer):
        """Chainlit's SQLAlchemy layer made to fit SQLite, which binds no lists or dicts."""

        async def update_thread(self, thread_id, name=None, user_id=None, metadata=None, tags=None):
            # Tags (the chat profile's name) are never read back here; SQLite cannot bind the list.
            await super().update_thread(thread_id, name=name, user_id=user_id, metadata=metadata)

        async def create_step(self, step_dict):
            await super().create_step(
                {
                    key: json.dumps(value)
                    if isinstance(value, list | dict) and key not in ("metadata", "generation")
                    else value
                    for key, value in step_dict.items()
                    if key in _STEP_COLUMNS
                }
            )

    return TrialfinderDataLayer


def _passage_storage_class() -> type:
    from chainlit.data.storage_clients.base import BaseStorageClient
    from sqlalchemy import text

    class PassageStorage(BaseStorageClient):
        """Element contents (the cited passages) in the `passages` table, read back at PASSAGE_ROUTE."""

        def __init__(self, engine: Any):
            self.engine = engine

        async def upload_file(
            self, object_key, data, mime="application/octet-stream", overwrite=True, content_disposition=None
        ):
            content = data.encode() if isinstance(data, str) else data
            async with self.engine.begin() as db:
                await db.execute(
                    text(
                        'INSERT INTO passages ("objectKey", "mime", "content") VALUES (:key, :mime, :content) '
                        'ON CONFLICT ("objectKey") DO UPDATE SET "mime" = :mime, "content" = :content'
                    ),
                    {"key": object_key, "mime": mime, "content": content},
                )
            return {"object_key": object_key, "url": await self.get_read_url(object_key)}

        async def delete_file(self, object_key: str) -> bool:
            async with self.engine.begin() as db:
                await db.execute(text('DELETE FROM passages WHERE "objectKey" = :key'), {"key": object_key})
            return True

        async def get_read_url(self, object_key: str) -> str:
            return PASSAGE_ROUTE + quote(object_key, safe="/")

        async def close(self) -> None:
            """The engine belongs to the data layer, which disposes of it."""

        async def read(self, object_key: str, user_identifier: str) -> tuple[bytes, str] | None:
            """The passage under `object_key` if it belongs to a thread of `user_identifier`, else None."""
            query = text(
                'SELECT p."content", p."mime" FROM passages p JOIN users u ON p."objectKey" LIKE u."id" || \'/%\' '
                'WHERE p."objectKey" = :key AND u."identifier" = :identifier'
            )
            async with self.engine.connect() as db:
                row = (await db.execute(query, {"key": object_key, "identifier": user_identifier})).first()
            return None if row is None else (bytes(row[0]), str(row[1]))

    return PassageStorage


class BrowserLogin:
    """ASGI middleware (inside `SecurityMiddleware`, which guarantees the browser cookie): every request
    reaches Chainlit signed in as its browser's user, so threads are saved and resumed per browser with
    no login page. A Chainlit token the client sent itself is dropped: the identity is the cookie's."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            cookie = next((v for k, v in scope.get("headers", []) if k.lower() == b"cookie"), b"").decode("latin-1")
            token = browser_token(cookie)
            if token is not None:
                scope["headers"] = _with_auth_cookie(scope.get("headers", []), cookie, _chainlit_token(token))
        await self.app(scope, receive, send)


def _chainlit_token(browser: str) -> str:
    import chainlit as cl
    from chainlit.auth import create_jwt

    # Minted per request and never sent to the browser: the browser's own cookie is its credential.
    return create_jwt(cl.User(identifier=browser_identifier(browser), display_name="This browser"))


def _with_auth_cookie(headers: list[tuple[bytes, bytes]], cookie: str, jwt: str) -> list[tuple[bytes, bytes]]:
    kept = [
        part.strip()
        for part in cookie.split(";")
        if part.strip() and not part.strip().split("=", 1)[0].startswith(_AUTH_COOKIE)
    ]
    kept.append(f"{_AUTH_COOKIE}={jwt}")
    other = [(k, v) for k, v in headers if k.lower() != b"cookie"]
    return [*other, (b"cookie", "; ".join(kept).encode("latin-1"))]


def enable(settings: Settings, chainlit_app: Any) -> bool:
    """Turn saved chats on for this server if `settings.save_chats` (else do nothing and return False).

    Creates the SQLite schema, registers the data layer with Chainlit and serves the passages. Without a
    reverse-proxy login (`auth_header`), Chainlit's custom auth is switched on and `BrowserLogin` (which
    the caller must put in front of Chainlit) signs each browser in; the signing secret is random per
    process unless CHAINLIT_AUTH_SECRET is set, as the tokens never leave the server.
    """
    if not settings.save_chats:
        return False
    import chainlit as cl
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    path = settings.chats_db.resolve()
    create_schema(path)
    layer_class, storage_class = _data_layer_class(), _passage_storage_class()
    storage: Any = None

    @cl.data_layer
    def data_layer() -> Any:
        nonlocal storage
        layer = layer_class(conninfo=f"sqlite+aiosqlite:///{path}", storage_provider=None)
        storage = layer.storage_provider = storage_class(layer.engine)
        return layer

    if not settings.auth_header:
        os.environ["CHAINLIT_CUSTOM_AUTH"] = "1"
        os.environ.setdefault("CHAINLIT_AUTH_SECRET", secrets.token_urlsafe(48))

    async def passage(request: Request) -> Response:
        from chainlit.auth import authenticate_user, get_token_from_cookies
        from chainlit.data import get_data_layer

        get_data_layer()  # builds the layer (and `storage`) on a first request after a restart
        token = get_token_from_cookies(request.cookies)
        try:
            user = await authenticate_user(token or "")
        except Exception:
            return Response("Not signed in.", status_code=401, media_type="text/plain")
        found = await storage.read(unquote(request.path_params["key"]), user.identifier)
        if found is None:
            return Response("No such passage in your saved chats.", status_code=404, media_type="text/plain")
        content, mime = found
        return Response(content, media_type=mime, headers={"Cache-Control": "private, no-store"})

    # Ahead of Chainlit's catch-all page route, which would otherwise answer this path with the app.
    chainlit_app.router.routes.insert(0, Route(PASSAGE_ROUTE + "{key:path}", passage, methods=["GET"]))
    return True
