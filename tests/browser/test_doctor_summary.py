"""'Summary for my doctor' in Debian chromium against the real server: after an eligibility answer the button
gives three downloads (the printable page, Markdown, a FHIR R4 Bundle), served by the chat's own origin."""

from __future__ import annotations

import json
import re

import pytest
from browser_support import ask, is_local
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_the_summary_button_gives_the_page_and_a_fhir_bundle(chat_server, browser_page, screenshots):
    page = browser_page.page
    page.goto(chat_server.url)
    answer = ask(page, "I'm a 52 year old woman with systemic sclerosis. Could I join NCT04356287?")

    answer.get_by_role("button", name="Summary for my doctor").click()
    note = page.locator('[data-step-type="assistant_message"]', has_text="Your summary for your doctor")
    expect(note).to_be_visible()
    links = {
        name: note.get_by_role("link", name=re.compile(re.escape(name)))
        for name in ("trial-summary.html", "trial-summary.md", "trial-summary.fhir.json")
    }
    for link in links.values():
        expect(link.first).to_be_visible()
    note.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "doctor-summary.png"))

    def fetched(name: str) -> str:
        url = links[name].first.get_attribute("href")
        assert url and (url.startswith("/") or is_local(url)), url
        response = page.request.get(url if not url.startswith("/") else chat_server.url + url)
        assert response.ok, (url, response.status)
        return response.text()

    html = fetched("trial-summary.html")
    assert "NCT04356287" in html and re.search(r"verdict[^<]*: <strong>[a-z ]+</strong>", html), html[:2000]
    assert "52 year old woman with systemic sclerosis" in fetched("trial-summary.md")
    bundle = json.loads(fetched("trial-summary.fhir.json"))
    assert bundle["resourceType"] == "Bundle"
    subjects = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ResearchSubject"]
    assert [s["study"]["display"] for s in subjects] == ["NCT04356287"]
    assert subjects[0]["status"] in ("candidate", "ineligible")
