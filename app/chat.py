"""The Chainlit chat: one `Assistant` per process, one `Conversation` per chat session.

Started by `app.chat_server.serve` (`trialfinder chat`), which calls `configure(settings)` before the
server accepts connections. Answers run on a pool of `Settings.answer_workers` threads, and one session
uses at most one of them at a time (a per-session lock), so a heavy session cannot stall the others; the
event loop stays free to stream. The index is safe to share between threads: the record store, the
lexical index and the chain's catalog each hold their own lock, Chroma's client is thread-safe and the
embedding model only runs inference. Message and profile sizes are bounded (`max_message_chars`,
`max_profile_chars`), which bounds the work one turn can ask for.
"""

from __future__ import annotations

import asyncio
import re
import sys
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import chainlit as cl
from chainlit.input_widget import InputWidget, Select, TextInput
from chainlit.types import ThreadDict

from app import chat_store, places
from app.chat_profile import ProfileField, apply_profile_edit, profile_fields, statements_from_fields
from app.chat_render import ChatReply, View, index_overview, render_reply
from app.conversation import Conversation, TurnKind, classify
from app.handoff import can_hand_off, handoff
from app.models import Answer
from trialfinder.settings import Settings

T = TypeVar("T")

STARTERS = (
    ("Find lupus trials", "Find lupus trials"),
    ("Am I eligible?", "Am I eligible? I'm 34, SLE, SLEDAI 6, eGFR 95"),
    ("Compare the scleroderma trials", "Compare the scleroderma trials"),
    ("Study groups of NCT03171194", "What are the study groups of NCT03171194?"),
)
# Streamed a dozen words at a time: enough to show progress, and each token redraws the whole message.
_STREAM_WORDS = 12
_STREAM_PAUSE_SECONDS = 0.01
_WORD = re.compile(r"\S+\s*|\s+")

_state: dict[str, Any] = {}


def configure(settings: Settings) -> None:
    """Open the index and build the answer chain (once per process), and start the answer workers."""
    pool = ThreadPoolExecutor(max_workers=settings.answer_workers, thread_name_prefix="trialfinder-assistant")
    pool.submit(_open, settings).result()
    _state["pool"] = pool


def _open(settings: Settings) -> None:
    from app.chain import Assistant
    from vectorstore.index import TrialIndex

    index = TrialIndex.open(settings)
    # Load the embedding model, the lexical index and the gazetteer now rather than during the first
    # user's question (the browser tests measured a first "near Seoul" at 1.5 s, the gazetteer's load).
    index.search("lupus", k=1)
    places.preload()
    _state.update(settings=settings, index=index, assistant=Assistant(index, settings))
    # The first screen's overview reads every trial record (seconds on a large index): once, here, a page at
    # a time so a large registry is never in memory whole.
    _state["overview"] = index_overview(index.iter_trials())


async def _on_worker(fn: Callable[..., T], *args, **kwargs) -> T:
    if "assistant" not in _state:
        raise RuntimeError(
            "app.chat is not configured: start it with `trialfinder chat` "
            "(app.chat_server.serve), which calls app.chat.configure(settings) first"
        )
    lock = cl.user_session.get("answer_lock")
    if lock is None:
        lock = asyncio.Lock()
        cl.user_session.set("answer_lock", lock)
    async with lock:  # one worker per session at a time: a second message waits for the first
        return await asyncio.get_running_loop().run_in_executor(_state["pool"], partial(fn, *args, **kwargs))


def _too_large(conversation: Conversation, text: str) -> str | None:
    """A plain reply when `text` is over the message limit or would grow the profile past its limit."""
    settings: Settings = _state["settings"]
    if len(text) > settings.max_message_chars:
        return (
            f"That message is {len(text):,} characters long; I read at most {settings.max_message_chars:,}. "
            "Please send the question or the patient's details in shorter parts."
        )
    profile = sum(len(words) for words in conversation.patient_texts)
    if profile + len(text) > settings.max_profile_chars and classify(text, conversation.pending) != TurnKind.META:
        return (
            f"The patient profile is full ({profile:,} of {settings.max_profile_chars:,} characters). "
            "Shorten it in the profile panel, or say 'start over' to begin a new one."
        )
    return None


def _conversation() -> Conversation:
    conversation = cl.user_session.get("conversation")
    if conversation is None:
        conversation = Conversation()
        cl.user_session.set("conversation", conversation)
    return conversation


def _widget(f: ProfileField) -> InputWidget:
    if f.widget == "select":
        return Select(
            id=f.id, label=f.label, values=list(f.options), initial_value=f.initial, description=f.description
        )
    return TextInput(
        id=f.id,
        label=f.label,
        initial=f.initial,
        description=f.description,
        placeholder=f.placeholder,
        multiline=f.multiline,
    )


VIEWS = {"Patient: plain cards": "patient", "Clinician: full checker table, side-by-side comparisons": "clinician"}


def _view() -> View:
    """How answers are laid out in this session: the patient view unless the user chose the clinician one
    (the widget, a small corner of someone else's page, always shows the patient view)."""
    if cl.user_session.get("client_type") == "copilot":
        return "patient"
    return "clinician" if cl.user_session.get("view") == "clinician" else "patient"


async def _send_profile(conversation: Conversation) -> None:
    """Show the view setting and the patient facts understood so far, as editable fields, in the chat
    settings panel."""
    saved = _state["settings"].save_chats if "settings" in _state else False
    fields = profile_fields(conversation, saved=saved)
    cl.user_session.set("profile_form", {f.id: f.initial for f in fields})
    inputs: list[InputWidget] = [_widget(f) for f in fields]
    if cl.user_session.get("client_type") != "copilot":
        inputs.insert(
            0, Select(id="view", label="Show answers for", items=VIEWS, initial_value=_view(), description="")
        )
    await cl.ChatSettings(inputs).send()


FIRST_SCREEN_NOTE = (
    "Ask in your own words. I answer only from these trials' documents and link each answer to the "
    "passage it comes from. **This is not medical advice.** I only decide the trial rules I fully "
    "understood; the study team decides who can join."
)


KEPT_NOTE = (
    "Your conversation is saved on this server for this browser only, so it is still here after a reload or a restart."
)
NOT_KEPT_NOTE = "Conversations are not saved: reloading the page starts a new one and nothing you type is stored."


def _first_screen_note() -> str:
    kept = KEPT_NOTE if _state["settings"].save_chats else NOT_KEPT_NOTE
    return f"{FIRST_SCREEN_NOTE} {kept}"


async def _save(conversation: Conversation) -> None:
    """Keep the dialogue state in the thread (saved chats only: without a data layer nothing is written).

    The session's copy is updated too: Chainlit writes the session into the thread's metadata again when
    the browser disconnects, and a stale copy there would undo this turn."""
    from chainlit.data import get_data_layer

    if (data_layer := get_data_layer()) is None or not cl.context.session.has_first_interaction:
        return
    metadata = chat_store.state_metadata(conversation)
    for key, value in metadata.items():
        cl.user_session.set(key, value)
    await data_layer.update_thread(thread_id=cl.context.session.thread_id, metadata=metadata)


@cl.set_starters
async def starters(user: Any = None, language: str | None = None) -> list[cl.Starter]:
    """The first screen's example questions."""
    return [cl.Starter(label=label, message=message) for label, message in STARTERS]


@cl.set_chat_profiles
async def first_screen(user: Any = None, language: str | None = None) -> list[cl.ChatProfile]:
    """The first screen's text, as Chainlit's one supported place for it: a single chat profile's
    description (with one profile Chainlit shows no profile picker). It says what is indexed, counted
    from the index, and what the answers are and are not."""
    return [
        cl.ChatProfile(
            name="trialfinder",
            markdown_description=f"{_state['overview']}\n\n{_first_screen_note()}",
            icon="/public/favicon.svg",
            default=True,
        )
    ]


@cl.on_chat_start
async def start() -> None:
    """A new session: an empty conversation and an empty patient profile.

    The widget (Chainlit's copilot) shows no chat profile description, so there the first screen's
    overview and disclaimer come as its first message, with example questions in their place.
    """
    await _send_profile(_conversation())
    if cl.user_session.get("client_type") == "copilot":
        examples = " or ".join(f"“{message}”" for _, message in STARTERS[:2])
        await cl.Message(content=f"{_state['overview']}\n\n{_first_screen_note()}\n\nFor example: {examples}.").send()


@cl.on_chat_resume
async def resume(thread: ThreadDict) -> None:
    """A saved chat reopened (a reload, or a new visit from the same browser): its profile comes back."""
    conversation = chat_store.restore(thread)
    cl.user_session.set("conversation", conversation)
    await _send_profile(conversation)


@cl.on_settings_update
async def profile_updated(values: dict[str, Any]) -> None:
    """The user corrected the patient profile: replace the facts and say what they now are."""
    conversation = _conversation()
    view = values.pop("view", None)
    if view in VIEWS.values() and view != _view():
        cl.user_session.set("view", view)
        await cl.Message(content=f"Answers are now laid out for a {view}.", author="settings").send()
    if statements_from_fields(values) == statements_from_fields(cl.user_session.get("profile_form") or {}):
        return  # only the view changed
    edited = "\n".join(str(v) for v in values.values())
    if len(edited) > _state["settings"].max_profile_chars:
        await cl.Message(
            content=f"That profile is {len(edited):,} characters long; it may have at most "
            f"{_state['settings'].max_profile_chars:,}. Please shorten it.",
            author="patient profile",
        ).send()
        await _send_profile(conversation)
        return
    today = _state["settings"].today if "settings" in _state else None
    summary = await _on_worker(apply_profile_edit, conversation, values, today)
    await _send_profile(conversation)
    await cl.Message(content=summary, author="patient profile").send()
    # The last check or search, run again at once with the edited profile.
    answer = await _on_worker(_state["assistant"].recheck, conversation, "Checked again with the edited profile.")
    if answer is not None:
        await _reply(answer, conversation)
    await _save(conversation)


@cl.on_message
async def on_message(message: cl.Message) -> None:
    """Answer one turn: ask the chain, stream the text, attach the cited passages, refresh the profile."""
    conversation = _conversation()
    if refusal := _too_large(conversation, message.content):
        await cl.Message(content=refusal).send()
        return
    profile_before = conversation.patient_texts
    try:
        answer = await _on_worker(_state["assistant"].ask, message.content, conversation=conversation)
        await _reply(answer, conversation)
    except Exception as exc:  # shown to the user instead of a silent spinner; the traceback goes to the log
        # The stack and the exception's type only: its message may quote the patient's words (privacy).
        stack = "".join(traceback.format_tb(exc.__traceback__))
        print(f"answering a message failed: {type(exc).__name__}\n{stack}", file=sys.stderr, flush=True)
        await cl.ErrorMessage(
            content=f"Sorry, answering that failed ({type(exc).__name__}: {exc}). "
            f"Please rephrase or try again; the server log has the details."
        ).send()
        return
    await _save(conversation)
    if conversation.patient_texts != profile_before:  # re-sent only when it changed
        await _send_profile(conversation)


async def _reply(answer: Answer, conversation: Conversation) -> None:
    """Send `answer` laid out for the chat: the text streamed, then the cards or table and the cited passages."""
    rendered: ChatReply = await _on_worker(
        render_reply, answer, _state["index"], view=_view(), who=conversation.subject
    )
    reply = cl.Message(content="")
    await _stream(reply, rendered.body)
    if rendered.details:
        # The cards (or table) and notes arrive as one token: the message is drawn with them once.
        await reply.stream_token(("\n\n" if rendered.body else "") + rendered.details)
    # "page" elements open only when their citation is clicked (in the chat as a page with a back
    # button, in the widget as a dialog); Chainlit opens every new "side" element by itself.
    # Chainlit annotates `Message.elements` with an unbound TypeVar (ElementBased), so no list type fits it.
    reply.elements = [cl.Text(name=p.name, content=p.content, display="page") for p in rendered.passages]  # type: ignore[misc]
    if answer.eligibility and can_hand_off(conversation):
        reply.actions = [cl.Action(name=HANDOFF_ACTION, payload={}, label="Summary for my doctor", icon="file-text")]
    await reply.send()


HANDOFF_ACTION = "doctor_summary"
HANDOFF_NOTE = (
    "Your summary for your doctor, from what you told me and the checker's current verdicts: a printable page "
    "(HTML), the same page as Markdown, and the trials and verdicts as a FHIR R4 file for clinical systems."
)


@cl.action_callback(HANDOFF_ACTION)
async def hand_off(action: cl.Action) -> None:
    """The "Summary for my doctor" button: the hand-off files for this conversation, to download."""
    files = await _on_worker(handoff, _conversation(), _state["index"])
    elements = [
        cl.File(name=name, content=content.encode(), mime=mime, display="inline")
        for name, mime, content in files.files()
    ]
    await cl.Message(content=HANDOFF_NOTE, elements=elements, author="summary").send()


async def _stream(message: cl.Message, text: str) -> None:
    words = _WORD.findall(text)
    for start in range(0, len(words), _STREAM_WORDS):
        await message.stream_token("".join(words[start : start + _STREAM_WORDS]))
        await asyncio.sleep(_STREAM_PAUSE_SECONDS)
