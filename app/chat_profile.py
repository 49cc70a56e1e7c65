"""The patient profile of a chat session: what the person said about the patient, editable.

The profile is the list of the person's own statements that carried patient facts (one per line), with
what the fact extractor understood from them shown alongside. Editing a line, deleting it or adding one
re-reads the statements with the same extractor the answer chain uses, so a correction means exactly
what it would have meant in the chat. Nothing here is written anywhere: the facts live in the
session's `Conversation` object and disappear with it.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from app.conversation import Conversation
from app.render import facts_line
from eligibility.facts import PatientFacts

PROFILE_FIELD = "patient_statements"
NOTHING_YET = "nothing yet"


class ProfileField(BaseModel):
    """One input of the profile form (rendered by the chat as a Chainlit `TextInput`)."""

    model_config = ConfigDict(frozen=True)

    id: str
    label: str
    initial: str
    description: str
    placeholder: str
    multiline: bool = True


def understood(facts: PatientFacts | None) -> str:
    """The facts in one line as the checker will use them, or 'nothing yet'."""
    return (facts_line(facts) if facts is not None else None) or NOTHING_YET


def profile_fields(conversation: Conversation) -> list[ProfileField]:
    """The profile form for `conversation`: its patient statements, and what was understood from them."""
    return [
        ProfileField(
            id=PROFILE_FIELD,
            label="Patient profile: what you told me, one statement per line",
            initial="\n".join(conversation.patient_texts),
            description=(
                f"Understood: {understood(conversation.facts)}. Edit, delete or add a line to "
                "correct it. Kept for this chat session only, never stored."
            ),
            placeholder="e.g. I'm 34, female, SLE since 2019, SLEDAI 6, eGFR 95, on prednisone 10 mg daily",
        )
    ]


def facts_from_statements(statements: list[str], today: date | None = None) -> PatientFacts | None:
    """Read `statements` in order, a later statement winning over an earlier one (as in the chat)."""
    return Conversation().replace_statements(statements, today)


def apply_profile_edit(conversation: Conversation, values: dict, today: str | None = None) -> str:
    """Replace the session's patient facts with those read from the edited profile; say what they are."""
    text = values.get(PROFILE_FIELD) or ""
    statements = [line.strip() for line in str(text).splitlines() if line.strip()]
    facts = conversation.replace_statements(statements, date.fromisoformat(today) if today else None)
    return f"**Patient profile updated.** Understood: {understood(facts)}."
