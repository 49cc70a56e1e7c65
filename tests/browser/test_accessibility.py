"""axe-core (axe-playwright-python) on the chat and the widget, plus the names a screen reader needs.

0 critical or serious violations on: the chat's first screen, a patient answer, an opened citation, the
widget on its host page (open, with an answer) and the chat on a 390 px phone. The first screen says
what is indexed, counted from the index, and gives a plain disclaimer.
"""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from browser_support import ask
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

BLOCKING = {"critical", "serious"}


def assert_axe_clean(page, where: str) -> None:
    # trialfinder-a11y.js names what React just drew on the next animation frame: let it run first.
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    results = Axe().run(page)
    assert results.response["passes"], f"axe checked nothing on {where}"
    blocking = [
        f"{v['impact']} {v['id']}: {[n['html'][:120] for n in v['nodes'][:3]]}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]
    assert not blocking, f"axe on {where}:\n" + "\n".join(blocking)


def test_chat_first_screen_says_what_is_indexed_and_is_accessible(
    chat_server, browser_page, seed_trials, screenshots, turn_timings
):
    page = browser_page.page
    page.goto(chat_server.url)
    welcome = page.locator("#welcome-screen")

    expect(welcome).to_contain_text(f"I know {len(seed_trials)} clinical trials")
    expect(welcome).to_contain_text("systemic lupus erythematosus")
    expect(welcome).to_contain_text("This is not medical advice.")
    expect(welcome).to_contain_text("I only decide the trial rules I fully understood")
    expect(page.get_by_text("LLMs can make mistakes")).to_have_count(0)
    expect(page.get_by_role("main")).to_have_count(1)
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    for name in ("New chat", "Patient profile", "Send message"):
        expect(page.get_by_role("button", name=name, exact=True)).to_have_count(1)
    expect(page.get_by_role("log", name="Conversation")).to_have_attribute("aria-live", "polite")
    logos = page.locator("img")
    assert all(alt and alt != "logo" for alt in logos.evaluate_all("imgs => imgs.map(i => i.alt)"))
    page.screenshot(path=str(screenshots / "chat-first-screen.png"))
    assert_axe_clean(page, "the chat's first screen")

    answer = ask(page, "I'm 40 and I have systemic sclerosis. Could I join a trial?", turn_timings)
    expect(page.get_by_role("log", name="Conversation")).to_contain_text("systemic sclerosis")
    assert_axe_clean(page, "a patient answer")

    answer.locator("a.element-link").first.click()
    expect(page.locator("#element-view")).to_be_visible()
    expect(page.get_by_role("button", name="Back to the chat")).to_be_visible()
    assert_axe_clean(page, "an opened citation")


def test_chat_on_a_phone_is_accessible(chat_server, browser_page, turn_timings):
    page = browser_page.page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(chat_server.url)
    ask(page, "Are there trials for lupus nephritis?", turn_timings)
    assert_axe_clean(page, "the chat on a 390 px phone")


def test_widget_is_named_and_accessible(chat_server, demo_server, browser_page):
    page = browser_page.page
    page.goto(demo_server.url + "/")
    launcher = page.get_by_role("button", name="Open the trial finder chat")
    expect(launcher).to_be_visible()
    assert_axe_clean(page, "the host page with the closed widget")

    launcher.click()
    dialog = page.get_by_role("dialog", name="Trial finder chat")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Send message")).to_have_count(1)
    expect(dialog.locator('[data-step-type="assistant_message"]').first).to_contain_text("This is not medical advice.")
    ask(page, "Which trials study scleroderma?", scope="#chainlit-copilot")
    expect(dialog.get_by_role("log", name="Conversation")).to_contain_text(re.compile("NCT|KCT"))
    assert_axe_clean(page, "the open widget with an answer")
