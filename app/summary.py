"""The hand-off page: "summary for my doctor", one printable page in Markdown and HTML.

It holds the profile in the person's own words (each statement with its turn) and, per trial in focus
(or every trial checked when none is), the checker's verdict (none for a trial not enrolling now), the failed criteria with their citations,
what is still unknown, the trial's status and its site nearest to the user's place with the contact the
record gives (the site's facility, the overall investigators). Nothing here is new judgement: it
re-states the checker's verdicts for the facts as they are now.

Every text from a document or from the person goes through `app.inert.inert`, and the HTML is rendered
with images, links and raw HTML switched off: the page is printed and handed on, so it must show words only
and load nothing.
"""

from __future__ import annotations

from html import escape

from markdown_it import MarkdownIt
from pydantic import BaseModel, ConfigDict

from app import vocabulary as vocab
from app.chain import NOT_ENROLLING
from app.conversation import Conversation
from app.inert import inert
from app.places import Place, nearest_site
from app.verify import VERDICT_WORDS, best_verdicts
from eligibility.evaluate import check_trial
from eligibility.questions import question_for
from vectorstore.index import TrialIndex

DISCLAIMER = (
    "This page lists what the trial documents say and what a rule checker found for the facts "
    "given. It is not medical advice; the study team decides who can take part."
)


class Summary(BaseModel):
    model_config = ConfigDict(frozen=True)

    markdown: str
    html: str


def summarised_trials(conversation: Conversation) -> list[str]:
    """The trials a hand-off is about: those in focus, else every trial the conversation discussed."""
    return list(dict.fromkeys(conversation.focus or [tid for t in conversation.turns for tid in t.trial_ids]))


def doctor_summary(conversation: Conversation, index: TrialIndex, place: Place | None = None) -> Summary:
    """The page for the conversation's profile and trials in focus (see the module docstring)."""
    lines = ["# Clinical trial summary for my doctor", "", DISCLAIMER, "", "## What I said about the patient", ""]
    lines += [f'- (turn {s.turn + 1}) "{inert(s.words)}"' for s in conversation.statements] or ["- (nothing yet)"]
    trial_ids = summarised_trials(conversation)
    lines += ["", "## Trials", ""]
    if not trial_ids:
        lines.append("No trial was discussed yet.")
    facts = conversation.facts
    for tid in trial_ids:
        trial = index.trial(tid)
        if trial is None:
            continue
        lines += [f"### {tid}: {inert(trial.title)}", ""]
        lines.append(f"- Status: {(trial.status or 'not stated').replace('_', ' ').lower()}")
        if (trial.status or "").upper() in NOT_ENROLLING:
            # As the chat's card says: a trial that takes no one now is not screened, so no verdict is handed on.
            lines.append("- Not enrolling now: it takes no new patients, so no checker's verdict is given.")
        elif facts is not None:
            verdicts = check_trial(trial, facts, rules=index.store.compiled_rules)
            for v in best_verdicts(verdicts).values():
                cohort = f" ({inert(v.cohort)} cohort)" if v.cohort else ""
                lines.append(f"- Checker's verdict{cohort}: **{VERDICT_WORDS[v.verdict]}**")
                for f in v.failed:
                    lines.append(
                        f"  - Not met ({f.kind}): {inert(' '.join(f.criterion.split()))} — {inert(f.reason)} "
                        f"[{f.citation.trial_id} · {f.citation.section}]"
                    )
                needs = list(dict.fromkeys(n for u in v.unknown for n in u.needs))
                for n in needs[:8]:
                    lines.append(f"  - Still open: {question_for(n)}")
                if len(needs) > 8:
                    lines.append(f"  - … and {len(needs) - 8} more open questions")
        site = nearest_site(trial, place, vocab.REGISTRY_COUNTRY.get(tid[:3])) if place is not None else None
        if site is not None:
            where = inert(f"{site.name}, {site.city}, {site.country}")
            lines.append(f"- Nearest site: {where} (about {site.distance_km:,.0f} km)")
        elif trial.locations:
            loc = trial.locations[0]
            lines.append("- Site: " + inert(", ".join(x for x in (loc.facility, loc.city, loc.country) if x)))
        contacts = [inert(i.name + (f" ({i.role})" if i.role else "")) for i in trial.investigators]
        lines.append(
            f"- Contact: {'; '.join(contacts) if contacts else 'the record names no contact'}"
            + (f"; sponsor {inert(trial.sponsor)}" if trial.sponsor else "")
        )
        lines.append("")
    markdown = "\n".join(lines).rstrip() + "\n"
    body = MarkdownIt("commonmark", {"html": False}).disable(["image", "link", "autolink"]).render(markdown)
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>'
        f"{escape('Clinical trial summary')}</title><style>body{{font-family:sans-serif;max-width:48rem;"
        "margin:2rem auto;line-height:1.4}}@media print{{body{{margin:0}}}}</style></head><body><main>"
        f"{body}</main></body></html>"
    )
    return Summary(markdown=markdown, html=html)
