"""The patient profile of a chat session, edited as fields: age, sex, diagnoses, medicines with their dates,
tests and scores, and anything else.

Each field shows what the fact extractor understood, written back in words it reads the same way ("no
hepatitis B", "prednisone 10 mg daily, started in January 2023", "eGFR 95 mL/min/1.73m2"). Saving the form
re-reads every item of every field (items are separated by ";" or a new line) with the same extractor the
answer chain uses, so an edit means exactly what it would have meant in the chat, and the items become the
profile's statements ("you said: 'eGFR 95'"). `tests/app/test_chat_profile.py` checks the round trip: the
fields of a profile read back to the same facts.

Where the facts live (the session, or a saved chat) is the chat's business; the form says which.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

from app.conversation import Conversation
from app.render import facts_line
from eligibility import concepts
from eligibility.facts import Diagnosis, Measurement, Medication, PatientFacts

NOTHING_YET = "nothing yet"
NOT_SAID = "not said"
SEXES = (NOT_SAID, "female", "male")
_ITEM_SEPARATOR = re.compile(r"\s*(?:;|\n)\s*")


class ProfileField(BaseModel):
    """One input of the profile form (rendered by the chat as a Chainlit input widget)."""

    model_config = ConfigDict(frozen=True)

    id: str
    label: str
    initial: str
    description: str = ""
    placeholder: str = ""
    widget: Literal["text", "select"] = "text"
    options: tuple[str, ...] = ()
    multiline: bool = False


def understood(facts: PatientFacts | None) -> str:
    """The facts in one line as the checker will use them, or 'nothing yet'."""
    return (facts_line(facts) if facts is not None else None) or NOTHING_YET


def _month(day: date) -> str:
    return day.strftime("%B %Y")


def diagnosis_item(d: Diagnosis) -> str:
    """A diagnosis as the extractor reads it back: "no hepatitis B", "kidney transplant in June 2019"."""
    if d.negated:
        return f"no {d.label}"
    if d.family:
        return f"family history of {d.label}"
    when = d.when or d.onset
    if d.historical:
        return f"past {d.label}" + (f" in {_month(when)}" if when else "")
    return d.label + (f" diagnosed in {_month(d.onset)}" if d.onset else "")


def medication_item(m: Medication, today: date) -> str:
    """A medicine with its dose and dates: "not on rituximab", "cyclophosphamide, last taken in May 2024"."""
    if m.negated:
        return f"not on {m.name}"
    dose = f" {m.dose:g} {m.unit}" + ("/kg" if m.per_kg else "") if m.dose is not None and m.unit else ""
    often = {1.0: " daily", 2.0: " twice daily", 3.0: " three times daily"}.get(m.frequency_per_day or 0.0, "")
    if m.frequency_per_day is not None and abs(m.frequency_per_day - 1 / 7) < 1e-9:
        often = " weekly"
    words = f"{m.name}{dose}{often if dose else ''}"
    if m.current is False:
        return f"stopped {words}" + (f" in {_month(m.last_taken)}" if m.last_taken else "")
    if m.started is not None:
        return f"{words}, started in {_month(m.started)}"
    if m.current is None and m.last_taken is not None and m.last_taken != today:
        return f"{words}, last taken in {_month(m.last_taken)}"
    return words


def measurement_item(m: Measurement) -> str:
    """A test or score in the words it was read from ("eGFR 95 mL/min/1.73m2", "ANA positive")."""
    if m.span:
        return m.span
    label = concepts.label(m.name) or m.name
    if m.positive is not None:
        return f"{label} {'positive' if m.positive else 'negative'}"
    return f"{label} {m.value:g} {m.unit or ''}".strip() if m.value is not None else label


def other_items(f: PatientFacts) -> list[str]:
    """Weight, pregnancy and breastfeeding."""
    out = [f"{f.weight_kg:g} kg"] if f.weight_kg is not None else []
    for flag, word in ((f.pregnant, "pregnant"), (f.breastfeeding, "breastfeeding")):
        if flag is not None:
            out.append(word if flag else f"not {word}")
    return out


# The form's list fields (items separated by ";" or a new line): id, label, example.
LIST_FIELDS = (
    ("diagnoses", "Diagnoses (separate with ;)", "e.g. lupus nephritis diagnosed in March 2021; no hepatitis B"),
    (
        "medicines",
        "Medicines, with dose and dates (separate with ;)",
        "e.g. prednisone 10 mg daily, started in January 2023; stopped rituximab in May 2024",
    ),
    ("tests", "Tests and scores (separate with ;)", "e.g. eGFR 95; SLEDAI 6; anti-dsDNA positive"),
    ("other", "Anything else (weight, pregnancy; separate with ;)", "e.g. 70 kg; not pregnant"),
)


def profile_fields(conversation: Conversation, saved: bool = False) -> list[ProfileField]:
    """The profile form for `conversation`: one field per kind of fact, filled with what was understood."""
    f = conversation.facts
    items: dict[str, list[str]] = {
        "diagnoses": [diagnosis_item(d) for d in f.diagnoses if not d.hypothetical] if f else [],
        "medicines": [medication_item(m, f.today) for m in f.medications] if f else [],
        "tests": [measurement_item(m) for m in (*f.labs, *f.scores)] if f else [],
        "other": other_items(f) if f else [],
    }
    kept = "Saved with this chat." if saved else "Kept for this chat session only, never stored."
    return [
        ProfileField(
            id="age",
            label="Age (years)",
            initial=f"{f.age:g}" if f and f.age is not None else "",
            description=f"Understood so far: {understood(f)}. Edit any field to correct it. {kept}",
            placeholder="e.g. 34",
        ),
        ProfileField(
            id="sex",
            label="Sex",
            initial=f.sex if f and f.sex else NOT_SAID,
            widget="select",
            options=SEXES,
        ),
        *(
            ProfileField(id=key, label=label, initial="; ".join(items[key]), placeholder=example, multiline=True)
            for key, label, example in LIST_FIELDS
        ),
    ]


def statements_from_fields(values: dict[str, object]) -> list[str]:
    """The form's values as statements for the extractor, one per item."""
    out: list[str] = []
    age = str(values.get("age") or "").strip()
    if age:
        out.append(f"age {age}" if re.fullmatch(r"\d+(?:\.\d+)?", age) else age)
    sex = str(values.get("sex") or "").strip()
    if sex and sex != NOT_SAID:
        out.append(sex)
    for key, _, _ in LIST_FIELDS:
        out += [item for item in _ITEM_SEPARATOR.split(str(values.get(key) or "")) if item]
    return out


def facts_from_statements(statements: list[str], today: date | None = None) -> PatientFacts | None:
    """Read `statements` in order, a later statement winning over an earlier one (as in the chat)."""
    return Conversation().replace_statements(statements, today)


def apply_profile_edit(conversation: Conversation, values: dict[str, object], today: str | None = None) -> str:
    """Replace the session's patient facts with those read from the edited fields; say what they are."""
    statements = statements_from_fields(values)
    facts = conversation.replace_statements(statements, date.fromisoformat(today) if today else None)
    return f"**Patient profile updated.** Understood: {understood(facts)}."
