"""The chat page end to end in Debian chromium, against the real server and the real seed index."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest
from browser_support import ANSWER_DONE, ANSWER_SECONDS, is_local, send
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

VERDICTS = re.compile(r"You meet every rule I could check|You may fit|This trial does not fit you|Not enrolling now")


def answer_number(page, n: int):
    """The n-th (1-based) assistant answer, once it is complete (its last line is the disclaimer)."""
    answer = page.locator('[data-step-type="assistant_message"]').nth(n - 1)
    expect(answer).to_contain_text(ANSWER_DONE, timeout=ANSWER_SECONDS * 1000)
    return answer


def assert_stayed_on_loopback(recorded) -> None:
    assert recorded.requests, "the page made no requests at all"
    assert recorded.blocked == [], f"requests that tried to leave loopback: {recorded.blocked}"
    assert all(is_local(url) for url in recorded.requests), [u for u in recorded.requests if not is_local(u)]


def test_first_screen_renders_offline_with_starters_and_welcome(chat_server, browser_page):
    page = browser_page.page
    with urllib.request.urlopen(chat_server.url, timeout=10) as response:
        html = response.read().decode()
    assert not re.findall(r"(?:href|src)=\"(?:https?:)?//[^\"]*\"", html), "served page points off-host"

    page.goto(chat_server.url)

    for label in ("Find lupus trials", "Am I eligible?", "Compare the scleroderma trials"):
        expect(page.get_by_text(label, exact=True)).to_be_visible()
    page.locator("#readme-button").click()
    expect(page.get_by_text("not medical advice").first).to_be_visible()
    expect(page.get_by_text("only from the trial documents in its index", exact=False).first).to_be_visible()
    assert_stayed_on_loopback(browser_page)


def test_answer_streams_in_with_a_citation_that_opens_the_passage(chat_server, browser_page, seed_index, artifacts):
    page = browser_page.page
    arms = next(c for c in seed_index.chunks("NCT03171194") if c.section == "arms")
    page.goto(chat_server.url)

    send(page, "What are the study groups of NCT03171194?")
    answer = answer_number(page, 1)

    expect(answer).not_to_contain_text("extractive")  # no backend jargon
    events = browser_page.socket_events
    assert "stream_start" in events and events.count("stream_token") >= 2, "the answer was not streamed"
    link = answer.locator("a.element-link", has_text="NCT03171194 · Study groups").first
    expect(link).to_be_visible()
    expect(answer.locator('a[href="https://clinicaltrials.gov/study/NCT03171194"]').first).to_be_visible()
    link.click()
    view = page.locator("#element-view")
    expect(view).to_contain_text("NCT03171194 · Study groups")
    expect(view).to_contain_text(" ".join(arms.text.split()[:6]))
    expect(view.locator('a[href="https://clinicaltrials.gov/study/NCT03171194"]')).to_have_count(1)
    page.screenshot(path=str(artifacts / "chat.png"))
    assert_stayed_on_loopback(browser_page)


def test_eligibility_conversation_over_three_turns_ends_with_a_card_per_trial(chat_server, browser_page, artifacts):
    page = browser_page.page
    page.goto(chat_server.url)

    send(page, "Am I eligible for NCT03171194?")
    first = answer_number(page, 1)
    expect(first.locator("blockquote").first).to_contain_text("NCT03171194")
    send(page, "I'm 34 and I have SLE")
    answer_number(page, 2)
    send(page, "My SLEDAI is 6 and my eGFR is 95")
    third = answer_number(page, 3)

    card = third.locator("blockquote", has_text="NCT03171194").first
    expect(card).to_contain_text(VERDICTS)
    expect(third.locator("table")).to_have_count(0)  # the wide table is for clinicians
    expect(third).to_contain_text("age 34")  # the facts of all three turns reached the checker
    expect(third).to_contain_text(re.compile(r"sledai[a-z ]* 6", re.IGNORECASE))
    expect(third).to_contain_text(re.compile(r"egfr\)? 95", re.IGNORECASE))
    third.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "chat-eligibility.png"))

    page.locator("#chat-settings-open-modal").click()
    dialog = page.get_by_role("dialog")  # the profile as fields, filled with what was understood
    expect(dialog.locator("#age")).to_have_value("34")
    expect(dialog.locator("#diagnoses")).to_have_value(re.compile("lupus", re.IGNORECASE))
    expect(dialog.locator("#tests")).to_have_value(re.compile(r"eGFR[^;]*95", re.IGNORECASE))
    assert_stayed_on_loopback(browser_page)


def test_correcting_the_profile_changes_the_next_verdict(chat_server, browser_page):
    page = browser_page.page
    page.goto(chat_server.url)
    send(page, "I'm 34 and I have SLE. Am I eligible for NCT06888973?")
    before = answer_number(page, 1).locator("blockquote", has_text="NCT06888973").first
    expect(before).to_contain_text("You may fit")

    page.locator("#chat-settings-open-modal").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("#age").fill("15")
    dialog.get_by_role("button", name=re.compile("confirm", re.IGNORECASE)).click()
    notice = page.locator('[data-step-type="assistant_message"]', has_text="Patient profile updated.")
    expect(notice).to_contain_text("Understood: age 15")

    # The edit re-runs the last check at once: no need to ask again.
    answer = answer_number(page, 3)  # the profile notice is the second assistant message
    expect(answer).to_contain_text("Checked again with the edited profile.")
    card = answer.locator("blockquote", has_text="NCT06888973").first
    expect(card).to_contain_text("This trial does not fit you.")  # its lupus group takes adults only
    expect(card).to_contain_text("SLE group: your age 15 is below the minimum of 18")


def test_cors_admits_only_the_configured_origins(chat_server, demo_port):
    def preflight(origin: str) -> tuple[int, str | None]:
        request = urllib.request.Request(
            f"{chat_server.url}/project/settings",
            method="OPTIONS",
            headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers.get("access-control-allow-origin")
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("access-control-allow-origin")

    allowed = f"http://127.0.0.1:{demo_port}"
    assert preflight(allowed) == (200, allowed)
    status, header = preflight("http://elsewhere.example")
    assert status == 400 and header is None
