"""Saved chats (app/chat_store.py) against the real `trialfinder chat` over the seed index.

Off (the default): a whole patient conversation leaves no file behind and the first screen says chats are
not kept. On: a server restart keeps the thread, the profile and the cited passages, for the browser that
wrote them and no other.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import socketio

from app.chat_store import PASSAGE_ROUTE, browser_identifier, restore, state_metadata
from app.conversation import Conversation
from app.web_security import BROWSER_COOKIE
from benchmarks.chat_client import ChatClient, fetch_browser_cookie, start_chat_server, stop_chat_server

PATIENT = "I'm 41, I have lupus nephritis and I take mycophenolate. What are the study groups of NCT03171194?"


def run(coroutine):
    # A thread of its own: the browser tests' Playwright (sync API) may leave an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def get(url: str, cookie: str | None = None) -> tuple[int, bytes]:
    headers = {"Cookie": f"{BROWSER_COOKIE}={cookie}"} if cookie else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def first_screen(url: str, cookie: str) -> str:
    status, body = get(f"{url}/project/settings?language=en-US", cookie)
    assert status == 200, body
    return json.dumps(json.loads(body)["chatProfiles"])


def test_the_saved_state_round_trips_through_thread_metadata():
    chat = Conversation()
    chat.focus.append("NCT03171194")
    chat.asked.append("egfr")
    saved = json.loads(json.dumps(state_metadata(chat)))  # as the SQLite column gives it back
    assert restore({"metadata": json.dumps(saved)}).state() == chat.state()
    assert restore({"metadata": {}}).state() == Conversation().state()


def test_a_browser_identity_never_stores_the_cookie():
    token = "a-browser-cookie-value"
    identifier = browser_identifier(token)
    assert token not in identifier and identifier == browser_identifier(token)
    assert identifier != browser_identifier(token + "x")


def test_with_saving_off_a_conversation_writes_nothing(seed_settings, seed_index, tmp_path):
    data = tmp_path / "chats"
    env = {"TRIALFINDER_SAVE_CHATS": "false", "TRIALFINDER_CHATS_DB": str(data / "chats.sqlite3")}
    process, url = start_chat_server(seed_settings.index_dir, tmp_path / "server.log", env, start_seconds=120)
    try:
        cookie = fetch_browser_cookie(url)
        assert "not saved" in first_screen(url, cookie)

        async def scenario() -> None:
            client = ChatClient(url, cookie=cookie)
            await client.connect()
            reply = await client.ask(PATIENT)
            assert "NCT03171194" in reply.everything
            await client.close()

        run(scenario())
    finally:
        stop_chat_server(process)
    assert not data.exists(), f"saving is off, yet {sorted(data.rglob('*'))} were written"


@pytest.fixture
def saved_server(seed_settings, seed_index, tmp_path):
    """Start (and restart) `trialfinder chat` with saved chats in tmp_path; every server is stopped."""
    env = {"TRIALFINDER_SAVE_CHATS": "true", "TRIALFINDER_CHATS_DB": str(tmp_path / "chats" / "chats.sqlite3")}
    started = []

    def start() -> str:
        process, url = start_chat_server(
            seed_settings.index_dir, tmp_path / f"server-{len(started)}.log", env, start_seconds=120
        )
        started.append(process)
        return url

    def stop() -> None:
        stop_chat_server(started[-1])

    try:
        yield start, stop
    finally:
        for process in started:
            stop_chat_server(process)


def test_a_saved_chat_survives_a_restart_for_its_own_browser_only(saved_server, seed_index):
    start, stop = saved_server
    url = start()
    owner = fetch_browser_cookie(url)
    assert "saved on this server for this browser only" in first_screen(url, owner)

    async def first_visit() -> str:
        client = ChatClient(url, cookie=owner)
        await client.connect()
        reply = await client.ask(PATIENT)
        assert "NCT03171194" in reply.everything
        await client.close()
        return next(data["thread_id"] for event, data in client.events if event == "first_interaction")

    thread_id = run(first_visit())
    stop()
    url = start()  # a new process on the same file

    status, body = get(f"{url}/project/thread/{thread_id}", owner)
    assert status == 200, body
    thread = json.loads(body)
    assert any("lupus nephritis" in str(step.get("output")) for step in thread["steps"])
    passages = [e for e in thread["elements"] if e["type"] == "text"]
    assert passages and all(str(e["url"]).startswith(PASSAGE_ROUTE) for e in passages)
    arms = next(c for c in seed_index.chunks("NCT03171194") if c.section == "arms")
    cited = next(e for e in passages if "Study groups" in e["name"])
    status, text = get(url + cited["url"], owner)
    assert status == 200 and " ".join(arms.text.split()[:5]) in " ".join(text.decode().split())

    other = fetch_browser_cookie(url)
    assert get(url + cited["url"], other)[0] == 404, "another browser read a saved passage"
    assert get(f"{url}/project/thread/{thread_id}", other)[0] in (401, 403, 404)

    async def come_back() -> None:
        back = ChatClient(url, cookie=owner, thread_id=thread_id)
        await back.connect(resumed=True)
        await asyncio.sleep(2)  # the resume sends the saved profile back
        assert "lupus nephritis" in json.dumps(back.profile_events), "the profile did not come back"
        reply = await back.ask("Could I join it?")
        assert "age 41" in reply.everything, "the restored profile did not reach the checker"
        await back.close()

        stranger = ChatClient(url, cookie=other, thread_id=thread_id)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await stranger.connect(timeout=5, resumed=True)
        await stranger.close()
        assert "lupus nephritis" not in json.dumps([data for _, data in stranger.events])

    run(come_back())
