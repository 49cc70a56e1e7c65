"""What a lay patient sees, in Debian chromium against the real server and seed index.

The journey (lupus with kidney involvement, one plain question at a time, a plain verdict), a place
question, citations that open only on a click, trial cards that fit a phone and the widget without
sideways scrolling, and a widget that stays in its corner of the host page. Each view is photographed
into docs/screenshots/ (the README shows them); each patient turn's time goes to chat_timings.json.
"""

from __future__ import annotations

import re

import pytest
from browser_support import ask, no_horizontal_scroll
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
# Words a patient must never see: backend names, internal fact names, chunk ids, escaped line breaks.
JARGON = re.compile(
    r"extractive|backend|possibly_eligible|_last_dose|\bsledai\b,|[A-Z]{3}\d{7,8}:[a-z]+[.:]|\\n|LLMs can make mistakes"
)
QUESTION = re.compile(r"Next question:\s*(.+)")


def no_panel_open(page, scope: str = "") -> None:
    """No side panel, passage page or passage dialog opened by itself."""
    expect(page.locator("#side-view-title")).to_have_count(0)
    expect(page.locator("#element-view")).to_have_count(0)
    dialogs = page.get_by_role("dialog")
    if scope:  # the widget's own popover is a dialog; a passage dialog would be a second one
        dialogs = dialogs.filter(has_not=page.locator("#chainlit-copilot-chat"))
    expect(dialogs).to_have_count(0)


def plain(answer) -> str:
    text = answer.inner_text()
    assert not JARGON.search(text), f"jargon in a patient answer: {JARGON.search(text).group(0)!r}\n{text}"
    return text


def test_lay_patient_journey_one_plain_question_at_a_time(chat_server, browser_page, screenshots, turn_timings):
    page = browser_page.page
    page.goto(chat_server.url)

    answer = ask(page, "I have lupus with kidney involvement. Could I join a trial?", turn_timings)
    asked: list[str] = []
    for _ in range(5):
        no_panel_open(page)
        text = plain(answer)
        expect(answer.locator("table")).to_have_count(0)
        expect(answer.locator("blockquote").first).to_be_visible()  # one card per trial
        questions = QUESTION.findall(text)
        assert len(questions) <= 1, questions  # one question at a time
        if not questions or "does not fit you" in text:
            break
        question = questions[0]
        assert question not in asked, f"asked again: {question}"
        asked.append(question)
        reply = "I'm 16" if re.search(r"\bhow old\b", question, re.IGNORECASE) else "No"
        answer = ask(page, reply, turn_timings)
    assert asked and re.search(r"\bhow old\b", asked[0], re.IGNORECASE), asked  # age first: everyone knows it
    assert "(RA)" not in asked[0]  # the rule cited for a question is one of a group the patient may still join
    assert len(QUESTION.findall(plain(answer))) == 1, "the next question follows, one at a time"
    # Render once: each answer's cards arrive in a single streamed token, never word by word.
    with_cards = [frame for frame in browser_page.stream_tokens if "I need a few more answers to be sure" in frame]
    assert 0 < len(with_cards) == len(asked) + 1, f"{len(with_cards)} tokens carried cards for {len(asked) + 1} answers"

    card = answer.locator("blockquote", has_text="This trial does not fit you.").first
    expect(card).to_contain_text(re.compile(r"[Yy]our age 16 is below the minimum of 18"))  # adults only
    closed = answer.locator("blockquote", has_text="NCT03171194").first
    expect(closed).to_contain_text("Not enrolling now.")  # a completed trial is never screened
    answer.locator("blockquote").first.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "chat-answer.png"))

    link = card.locator("a.element-link").first
    name = link.text_content()
    link.click()
    view = page.locator("#element-view")
    expect(view).to_contain_text(name, ignore_case=True)
    expect(view).to_contain_text(re.compile("age", re.IGNORECASE))
    page.screenshot(path=str(screenshots / "chat-citation.png"))
    view.get_by_role("button", name="Back to the chat").click()
    expect(page.locator('[data-step-type="assistant_message"]').last).to_contain_text("does not fit you")


def test_a_place_question_names_the_nearest_site(chat_server, browser_page, turn_timings):
    page = browser_page.page
    page.goto(chat_server.url)

    near = ask(page, "Are there lupus trials near Seoul?", turn_timings)
    expect(near).to_contain_text(re.compile(r"closest to Seoul is KCT0004337", re.IGNORECASE))
    far = ask(page, "Which trials are near Chicago?", turn_timings)
    expect(far).to_contain_text(re.compile(r"closest is NCT\d{8} in [A-Z][a-z]+.*about [\d,]+ km away"))
    plain(far)
    no_panel_open(page)


def test_cards_fit_a_390px_phone_without_sideways_scrolling(chat_server, browser_page, screenshots, turn_timings):
    page = browser_page.page
    page.set_viewport_size(PHONE)
    page.goto(chat_server.url)
    expect(page.locator("#welcome-screen")).to_contain_text("clinical trials")
    scroll, client = no_horizontal_scroll(page)
    assert scroll <= client, f"the first screen scrolls sideways on a phone: {scroll} > {client}"

    answer = ask(page, "I'm 34 and I have lupus nephritis. Which trials could I join?", turn_timings)

    expect(answer.locator("blockquote").first).to_be_visible()
    scroll, client = no_horizontal_scroll(page)
    assert scroll <= client, f"the page scrolls sideways on a phone: {scroll} > {client}"
    widths = answer.locator(".message-content").evaluate_all("els => els.map(e => [e.scrollWidth, e.clientWidth])")
    assert all(s <= c for s, c in widths), widths
    expect(page.locator("#chat-input")).to_be_visible()
    answer.locator("blockquote").first.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "phone.png"))


@pytest.mark.parametrize("viewport", [{"width": 450, "height": 900}, PHONE], ids=["widget-360px", "phone-390px"])
def test_widget_stays_in_its_corner_and_its_cards_fit(chat_server, demo_server, browser_page, screenshots, viewport):
    page = browser_page.page
    page.set_viewport_size(viewport)
    page.goto(demo_server.url + "/")
    heading = page.get_by_role("heading", name="Looking for a clinical trial?")
    launcher = page.locator("#chainlit-copilot-button")
    expect(launcher).to_be_visible()

    # Closed, the widget is its launcher button in the bottom right corner and nothing else.
    box = launcher.bounding_box()
    assert box["width"] <= 72 and box["height"] <= 72
    assert box["x"] >= viewport["width"] / 2 and box["y"] >= viewport["height"] / 2
    assert _host_element_at(page, heading) == "H2"

    launcher.click()
    chat = page.locator("#chainlit-copilot-chat")
    expect(page.locator("#chainlit-copilot #chat-input")).to_be_visible()
    welcome = page.locator('#chainlit-copilot [data-step-type="assistant_message"]').first
    expect(welcome).to_contain_text("clinical trials")  # the widget's first screen, before the first question
    answer = ask(page, "I have lupus and I'm 34. Could I join a trial?", scope="#chainlit-copilot")
    no_panel_open(page, scope="#chainlit-copilot")
    plain(answer)

    # Open, it keeps to a box inside the screen and leaves the rest of the page reachable.
    popover = chat.bounding_box()
    assert popover["x"] >= 0 and popover["x"] + popover["width"] <= viewport["width"] + 0.5
    assert popover["y"] >= 0 and popover["y"] + popover["height"] <= viewport["height"] + 0.5
    if viewport["width"] > PHONE["width"]:
        assert 340 <= popover["width"] <= 400, popover  # the 360 px widget the cards must fit
        banner = page.get_by_role("heading", name="Rheumatology patient network")
        assert _host_element_at(page, banner) == "H1"  # outside its box, no overlay hides the host page
    scroll, client = no_horizontal_scroll(page)
    assert scroll <= client
    wide = chat.evaluate(
        "root => [...root.querySelectorAll('.message-content')].filter(e => e.scrollWidth > e.clientWidth).length"
    )
    assert wide == 0, "a card scrolls sideways inside the widget"

    if viewport == PHONE:  # the desktop view is test_widget.py's
        answer.locator("blockquote").first.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "widget-phone.png"))

    link = answer.locator("a.element-link").first
    link.click()  # a click, and only a click, opens the passage
    passages = page.get_by_role("dialog").filter(has_not=page.locator("#chainlit-copilot-chat"))
    expect(passages).to_have_count(1)
    expect(passages).to_contain_text(link.text_content())
    # The passage opens over the widget's own box, not over the middle of the host page.
    page.wait_for_timeout(500)  # its opening animation
    opened = passages.bounding_box()
    slack = 16
    assert opened["x"] >= popover["x"] - slack and opened["y"] >= popover["y"] - slack, (opened, popover)
    assert opened["x"] + opened["width"] <= popover["x"] + popover["width"] + slack, (opened, popover)
    assert opened["y"] + opened["height"] <= popover["y"] + popover["height"] + slack, (opened, popover)


def _host_element_at(page, locator) -> str:
    """The tag of the topmost element at the centre of `locator` (a host page element when uncovered)."""
    box = locator.bounding_box()
    return page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y).tagName",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
