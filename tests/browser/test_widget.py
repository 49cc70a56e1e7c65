"""The embeddable widget: Chainlit's copilot mounted on the demo host page (another origin) answers."""

from __future__ import annotations

import re

import pytest
from browser_support import ANSWER_DONE, ANSWER_SECONDS, is_local, send
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_widget_on_the_demo_page_answers_with_citations(chat_server, demo_server, browser_page, screenshots):
    page = browser_page.page
    page.goto(demo_server.url + "/")
    expect(page.get_by_role("heading", name="Rheumatology patient network")).to_be_visible()

    page.locator("#chainlit-copilot-button").click()
    box = page.locator("#chainlit-copilot #chat-input")
    expect(box).to_be_visible()
    welcome = page.locator('#chainlit-copilot [data-step-type="assistant_message"]').first
    expect(welcome).to_contain_text("I know 5 clinical trials")  # what is indexed, counted from the index
    expect(welcome).to_contain_text("This is not medical advice.")
    send(page, "Which trials study scleroderma?", scope="#chainlit-copilot")

    answer = page.locator('#chainlit-copilot [data-step-type="assistant_message"]').nth(1)
    expect(answer).to_contain_text(ANSWER_DONE, timeout=ANSWER_SECONDS * 1000)
    expect(answer).to_contain_text("NCT")
    link = answer.locator("a.element-link", has_text=re.compile(r"^(NCT|KCT)\d+")).first  # a cited criterion
    expect(link).to_be_visible()
    # The cited passages open only on a click, never by themselves over the host page.
    passages = page.get_by_role("dialog").filter(has_not=page.locator("#chainlit-copilot-chat"))
    expect(passages).to_have_count(0)
    expect(answer).to_be_visible()
    answer.evaluate("element => element.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(screenshots / "widget.png"))

    name = link.text_content()
    link.click()
    expect(passages).to_have_count(1)
    expect(passages).to_contain_text(name)
    expect(passages).to_contain_text("Registry page")
    page.wait_for_timeout(500)  # the dialog's opening animation
    opened, chat = passages.bounding_box(), page.locator("#chainlit-copilot-chat").bounding_box()
    assert opened["x"] >= chat["x"] - 16 and opened["x"] + opened["width"] <= chat["x"] + chat["width"] + 16, (
        "the passage opened outside the widget's corner box",
        opened,
        chat,
    )

    origins = {url.split("/")[2] for url in browser_page.requests if url.startswith("http")}
    assert {demo_server.url.split("/")[2], chat_server.url.split("/")[2]} <= origins  # a cross-origin embed
    assert browser_page.blocked == [] and all(is_local(url) for url in browser_page.requests)
