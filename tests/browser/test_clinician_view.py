"""The clinician view, in Debian chromium against the real server and seed index: chosen in the chat
settings, it lays a comparison out side by side, one column per trial, with citations that open."""

from __future__ import annotations

import re

import pytest
from browser_support import ask, send
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PAIR = ("NCT03171194", "NCT04356287")


def test_clinician_compare_is_a_side_by_side_table_with_citations(chat_server, browser_page, screenshots):
    page = browser_page.page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(chat_server.url)
    send(page, "Hello")  # the settings open once the session exists
    page.locator("#chat-settings-open-modal").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("#view").click()
    page.get_by_role("option", name=re.compile("Clinician")).click()
    dialog.get_by_role("button", name=re.compile("confirm", re.IGNORECASE)).click()
    expect(page.locator('[data-step-type="assistant_message"]', has_text="laid out for a clinician")).to_be_visible()
    expect(page.locator('[data-step-type="assistant_message"]', has_text="Patient profile updated")).to_have_count(0)

    answer = ask(page, f"Compare {PAIR[0]} and {PAIR[1]}")

    table = answer.locator("table")
    expect(table).to_have_count(1)
    header = table.locator("thead th")
    expect(header).to_have_count(3)
    expect(header.nth(1)).to_have_text(PAIR[0])
    expect(header.nth(2)).to_have_text(PAIR[1])
    rows = table.locator("tbody tr")
    for n, label in enumerate(
        ("Conditions", "Age", "Sex", "Key inclusions", "Key exclusions", "Intervention", "Status", "Sites")
    ):
        expect(rows.nth(n).locator("td").first).to_have_text(label)
    sites = rows.nth(7).locator("td").nth(1)
    expect(sites).to_contain_text("Atlanta")
    header.first.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "clinician-compare.png"))

    sites.locator("a", has_text=f"{PAIR[0]} · Locations").first.click()
    expect(page.locator("#element-view")).to_contain_text("Emory University")
