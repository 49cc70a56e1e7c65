"""Saved chats in the browser: a server restart keeps the thread, the profile and the citations, both for
the open tab (which reconnects) and after a reload.

A chat server of its own (saved chats on, a SQLite file in tmp_path) is stopped and started again on the
same port and file while the browser keeps its cookies, as after a deployment or a crash.
"""

from __future__ import annotations

import re

import pytest
from browser_support import ANSWER_DONE, free_port, send
from playwright.sync_api import expect

from benchmarks.chat_client import start_chat_server, stop_chat_server

pytestmark = pytest.mark.browser

PATIENT = "I'm 41, I have lupus nephritis and I take mycophenolate. What are the study groups of NCT03171194?"


def test_a_restart_keeps_the_thread_the_profile_and_the_citations(
    seed_settings, seed_index, chromium_browser, tmp_path, artifacts, screenshots
):
    port = free_port()
    env = {"TRIALFINDER_SAVE_CHATS": "true", "TRIALFINDER_CHATS_DB": str(tmp_path / "chats.sqlite3")}

    def start(n: int):
        return start_chat_server(
            seed_settings.index_dir, artifacts / f"chat-server-saved-{n}.log", env, start_seconds=120, port=port
        )

    arms = next(c for c in seed_index.chunks("NCT03171194") if c.section == "arms")
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    process, url = start(1)
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        expect(page.get_by_text("saved on this server for this browser only")).to_be_visible()
        send(page, PATIENT)
        answer = page.locator('[data-step-type="assistant_message"]').first
        expect(answer).to_contain_text(ANSWER_DONE)
        expect(page).to_have_url(re.compile(r"/thread/[0-9a-f-]+$"))  # the saved thread's own address

        stop_chat_server(process)
        process, url = start(2)
        # The open tab reconnects by itself and the profile is back for the next turn.
        send(page, "Could I join it?")
        follow_up = page.locator('[data-step-type="assistant_message"]').nth(1)
        expect(follow_up).to_contain_text(ANSWER_DONE)
        expect(follow_up).to_contain_text("age 41")

        page.reload()
        answer = page.locator('[data-step-type="assistant_message"]').first
        expect(answer).to_contain_text(ANSWER_DONE)
        expect(page.locator('[data-step-type="user_message"]').first).to_contain_text("lupus nephritis")
        page.screenshot(path=str(screenshots / "chat-resumed.png"))
        page.locator("#chat-settings-open-modal").click()
        expect(page.get_by_role("dialog").locator("#diagnoses")).to_have_value(re.compile("lupus nephritis"))
        expect(page.get_by_role("dialog").locator("#age")).to_have_value("41")
        page.keyboard.press("Escape")

        answer.locator("a.element-link", has_text="NCT03171194 · Study groups").first.click()
        view = page.locator("#element-view")
        expect(view).to_contain_text(" ".join(arms.text.split()[:6]))
        expect(view).not_to_contain_text("An error occurred")
    finally:
        context.close()
        stop_chat_server(process)
