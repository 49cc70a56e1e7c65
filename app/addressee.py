"""A question to the patient, put to whoever is answering for them.

The registry words every question to the patient ("Have you ever taken a biologic drug?"). When a carer or
a clinician speaks for someone else ("my mother has lupus, could she join?"), the same question is asked
about that person ("Has she ever taken a biologic drug?"). The rewrite works on the few shapes the
registry's questions take (an auxiliary and "you" opening the question, "your", "you" as an object), and a
test walks every question the checker can ask so that no "you" is left.
"""

from __future__ import annotations

import re

from eligibility.context.subject import RELATIVES

# The auxiliary that opens a question about "you", and its third-person form.
_AUXILIARY = {
    "are": "is",
    "were": "was",
    "have": "has",
    "do": "does",
    "did": "did",
    "can": "can",
    "could": "could",
    "will": "will",
    "would": "would",
    "had": "had",
}
# One pass over the question, so the words put in ("your patient") are never rewritten again. "If you know"
# stays: that "you" is the person answering, who is asked what they know.
_SECOND_PERSON = re.compile(
    r"(?i)\b(?:(?P<aux>" + "|".join(_AUXILIARY) + r")\s+you|you\s+(?P<verb>" + "|".join(_AUXILIARY) + r")|"
    r"(?P<word>yourself|your|you))\b"
    r"(?!\s+(?:know|remember|recall)\b)"
)


def _forms(subject: str) -> dict[str, str]:
    """The words standing for "you", "your" and "yourself" when the patient is `subject`."""
    relative = subject.removeprefix("your ").strip()
    pronoun = RELATIVES.get(relative)
    if pronoun == "she":
        return {"": "she", "you": "her", "your": "her", "yourself": "herself"}
    if pronoun == "he":
        return {"": "he", "you": "him", "your": "his", "yourself": "himself"}
    # "your child", "your patient": the noun reads better than "they"
    return {"": subject, "you": subject, "your": f"{subject}'s", "yourself": subject}


def address(question: str, subject: str) -> str:
    """`question` (worded to "you") asked about `subject` ("you", "your mother", "your patient")."""
    if subject == "you":
        return question
    forms = _forms(subject)

    def swap(m: re.Match[str]) -> str:
        if m.group("aux"):
            aux = m.group("aux")
            word = _AUXILIARY[aux.lower()]
            return f"{word.capitalize() if aux[0].isupper() else word} {forms['']}"
        if m.group("verb"):  # "how long you are expected to live": "you" as the subject, after the verb
            return f"{forms['']} {_AUXILIARY[m.group('verb').lower()]}"
        return forms[m.group("word").lower()]

    return _SECOND_PERSON.sub(swap, question)
