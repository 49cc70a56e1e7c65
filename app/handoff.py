"""The chat's "summary for my doctor": the printable page (HTML and Markdown, `app.summary`) and the same
trials and verdicts as a FHIR R4 Bundle (`app.fhir`), made from one conversation's current state.

The three files are for the person to download and hand on; nothing here writes to disk (the chat hands
the bytes to Chainlit, which serves them to this session only).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from app.conversation import Conversation
from app.fhir import results_bundle_json
from app.places import Place
from app.summary import doctor_summary, summarised_trials
from eligibility.evaluate import check_trial
from vectorstore.index import TrialIndex


class Handoff(BaseModel):
    """The files of a hand-off, by their download names."""

    model_config = ConfigDict(frozen=True)

    html: str
    markdown: str
    fhir_json: str

    def files(self) -> list[tuple[str, str, str]]:
        """(file name, MIME type, content) of each download."""
        return [
            ("trial-summary.html", "text/html", self.html),
            ("trial-summary.md", "text/markdown", self.markdown),
            ("trial-summary.fhir.json", "application/fhir+json", self.fhir_json),
        ]


def can_hand_off(conversation: Conversation) -> bool:
    """A summary says something only once there is a profile and a trial to check it against."""
    return conversation.facts is not None and bool(summarised_trials(conversation))


def handoff(conversation: Conversation, index: TrialIndex, place: Place | None = None) -> Handoff:
    """The hand-off files for the conversation's profile and trials, with the checker's current verdicts."""
    page = doctor_summary(conversation, index, place)
    trials = [t for tid in summarised_trials(conversation) if (t := index.trial(tid)) is not None]
    facts = conversation.facts
    verdicts = (
        [v for t in trials for v in check_trial(t, facts, rules=index.store.compiled_rules)]
        if facts is not None
        else []
    )
    # The person is described in words: the Patient resource carries only what they said of sex.
    patient: dict[str, str] = {"resourceType": "Patient", "id": "patient"}
    if facts is not None and facts.sex is not None:
        patient["gender"] = facts.sex
    return Handoff(html=page.html, markdown=page.markdown, fhir_json=results_bundle_json(trials, verdicts, patient))
