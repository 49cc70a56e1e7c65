"""Constants and helpers shared by the browser tests and their fixtures."""

from __future__ import annotations

import re
import socket
import time
from urllib.parse import urlsplit

from playwright.sync_api import expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
# Schemes that never touch the network (inline stylesheets, blob workers, error pages).
LOCAL_SCHEMES = {"data", "blob", "about", "chrome-error"}
SERVER_START_SECONDS = 120
ANSWER_SECONDS = 60
# The disclaimer ends every answer the chat sends, so an answer containing it is complete.
# The last line of every answer: the patient view's disclaimer, or the clinician view's.
ANSWER_DONE = re.compile(
    r"Not medical advice: (?:the study team decides who can join|talk to the study team or your doctor)\."
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_local(url: str) -> bool:
    """Whether loading `url` stays on this machine."""
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or (parts.hostname or "") in LOOPBACK_HOSTS


def send(page, text: str, scope: str = "") -> None:
    """Type `text` and send it once the app is connected (the send button enables only then)."""
    sent = page.locator(f'{scope} [data-step-type="user_message"]'.strip())
    before = sent.count()
    page.locator(f"{scope} #chat-input".strip()).fill(text)
    submit = page.locator(f"{scope} #chat-submit".strip())
    expect(submit).to_be_enabled()
    submit.click()
    expect(sent).to_have_count(before + 1)


def ask(page, text: str, timings: list[float] | None = None, scope: str = ""):
    """Send `text` and return the new assistant answer once complete; append the turn's seconds to `timings`.

    The time runs from the click on send to the answer's last line (the disclaimer) being on screen, as
    the person waits for it; it is reported (tests/artifacts/chat_timings.json), never asserted.
    """
    answers = page.locator(f'{scope} [data-step-type="assistant_message"]'.strip())
    before = answers.count()
    page.locator(f"{scope} #chat-input".strip()).fill(text)
    submit = page.locator(f"{scope} #chat-submit".strip())
    expect(submit).to_be_enabled()  # connected: the wait for the server starts with the click
    started = time.monotonic()
    submit.click()
    answer = answers.nth(before)
    expect(answer).to_contain_text(ANSWER_DONE, timeout=ANSWER_SECONDS * 1000)
    if timings is not None:
        timings.append(time.monotonic() - started)
    return answer


def no_horizontal_scroll(page) -> tuple[int, int]:
    """(scrollWidth, clientWidth) of the page: equal when nothing sticks out sideways."""
    return tuple(page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]"))
