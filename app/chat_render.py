"""Turn an `Answer` into what the chat shows: markdown plus the cited passages a click opens.

Pure functions, no Chainlit import, so the layout is testable without a browser. Chainlit links an
element into a message wherever the element's *name* occurs in the message text; each cited passage
therefore becomes a `Passage` whose name is the citation marker the answer text uses
(`NCT03171194 · Study groups`, i.e. trial id and the chunk's section title).

Two views: the patient view (the default in the chat and the widget) shows one compact card per trial,
in plain words, narrow enough for a 360 px widget; the clinician view shows the checker's full table.
Text from documents (titles, passages, criteria, notes) goes through `app.inert.inert`: it shows as
words, never as an image, a link, HTML or a heading of ours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from app.chain import NOT_ENROLLING
from app.compare import comparison_table
from app.generators.extractive import ExtractiveGenerator
from app.inert import inert
from app.models import Answer
from app.vocabulary import REGISTRY_COUNTRY
from eligibility.lexicon import find_terms
from eligibility.models import TrialVerdict
from eligibility.questions import fact_label
from ingest.models import Chunk, Citation, Trial

View = Literal["patient", "clinician"]

# Symbols from common text fonts (not emoji), so the table reads the same without an emoji font.
VERDICT_LABELS = {
    "eligible": "✓ eligible",
    "possibly_eligible": "? possibly eligible",
    "ineligible": "✗ ineligible",
}
# What a card says of a trial's best verdict. "Eligible" only ever comes from the checker, and even
# then the study team decides: the words say so.
PLAIN_VERDICTS = {
    "eligible": "**{Who} {meet} every rule I could check.** The study team makes the final decision.",
    "possibly_eligible": "**{Who} may fit.** I need a few more answers to be sure.",
    "ineligible": "**This trial does not fit {who}.**",
}
# Registry statuses in plain words; those in `app.chain.NOT_ENROLLING` take no one now and are never screened.
STATUS_WORDS = {
    "RECRUITING": "Recruiting",
    "NOT_YET_RECRUITING": "Not yet recruiting",
    "ENROLLING_BY_INVITATION": "Enrolling by invitation only",
    "ACTIVE_NOT_RECRUITING": "Not enrolling (running, closed to new patients)",
    "COMPLETED": "Not enrolling (completed)",
    "TERMINATED": "Not enrolling (stopped early)",
    "WITHDRAWN": "Not enrolling (withdrawn)",
    "SUSPENDED": "Not enrolling (paused)",
    "UNKNOWN": "Not enrolling (status unknown)",
}
# The checker words its reasons about "the patient"; a card speaks to them. Applied in order.
SECOND_PERSON = (
    (r"\bthe patient's\b", "your"),
    (r"\bthe patient is\b", "you are"),
    (r"\bthe patient has\b", "you have"),
    (r"\bthe patient reports\b", "you report"),
    (r"\bthe patient takes\b", "you take"),
    (r"\bthe patient\b", "you"),
)
# A reason that starts with a measured value ("age 70 is above …", "eGFR 25 is below …") is about yours.
_MEASURED = re.compile(r"^[A-Za-z][\w-]* [<>≤≥]?\d")
# Lexicon categories that name what a trial studies (not a procedure, a symptom or an allergy).
OVERVIEW_CATEGORIES = frozenset({"disease", "cancer", "infection"})
CELL_CHARS = 140
TITLE_CHARS = 90
MAX_REASONS = 3
INLINE_WARNINGS = 3


class TrialLookup(Protocol):
    """The part of `TrialIndex` the chat needs to label citations."""

    def chunk(self, chunk_id: str) -> Chunk | None: ...

    def trial(self, trial_id: str) -> Trial | None: ...


class Passage(BaseModel):
    """A cited passage, opened when its name is clicked in the answer."""

    model_config = ConfigDict(frozen=True)

    name: str
    content: str


class ChatReply(BaseModel):
    """One assistant turn as the chat shows it."""

    model_config = ConfigDict(frozen=True)

    body: str
    details: str
    passages: list[Passage]

    @property
    def markdown(self) -> str:
        """The whole message: the streamed answer text, then the cards or table, sources and notes."""
        return _join(self.body, self.details)


def marker_name(trial_id: str, title: str) -> str:
    """The citation marker text (without brackets) for a passage of `trial_id` titled `title`."""
    return f"{trial_id} · {inert(title)}"


def render_reply(answer: Answer, index: TrialLookup, view: View = "patient", who: str = "you") -> ChatReply:
    """Lay out `answer` for `view`: streamed text, then the verdicts, next question, sources and notes.

    `who` is the patient as the conversation names them ("you", "your mother": `Conversation.subject`).

    The patient view shows one compact card per trial (status, verdict in plain words, a few reasons
    in the second person, each linked to its verbatim criterion); the clinician view the full checker
    table. Either goes in `details`, which the chat sends as one update, never redrawn per streamed word.
    """
    names: dict[str, list[Citation]] = {}
    for citation in _unique(answer.citations):
        names.setdefault(_citation_name(citation, index), []).append(citation)
    question = answer.next_question.question if answer.next_question else None
    body = _without(answer.answer.strip(), question)
    details: list[str] = []
    criteria: dict[str, Citation] = {}
    if answer.eligibility:
        head, facts_used, rest = split_verdicts(body)
        if view == "patient":
            # The passages an eligibility answer lists per trial read as claims next to the cards, which
            # already say what matters; only the lead sentence stays.
            body = _join(_lead(head) if answer.intent == "eligibility" else head, rest)
            if facts_used:
                details.append(f"**What you told me:** {facts_used}")
            details.append(trial_cards(answer.eligibility, index, criteria, who))
        else:
            body = _join(head, rest)
            table = _eligibility_table(answer.eligibility, index, criteria)
            details.append(_join(table, f"Facts used: {facts_used}" if facts_used else ""))
    if view == "clinician" and answer.intent == "compare":
        side_by_side = comparison_table(body, {name: cites[0] for name, cites in names.items()})
        if side_by_side is not None:
            body = "The trials side by side, each cell quoting the passage it links to:"
            details.append(side_by_side)
    if question:
        why = _asked_for(answer, index, criteria) if view == "patient" else None
        label = "Next question" if view == "patient" else "To narrow this down"
        details.append(f"**{label}:** {question}" + (f" (for the rule {why})" if why else ""))
    for name, citation in criteria.items():
        names.setdefault(name, []).append(citation)
    if not (view == "patient" and answer.eligibility):
        sources = _sources(answer.citations, index, names)
        if sources:
            details.append(sources)
    extra: dict[str, str] = {}
    details.append(_notes(answer, extra) if view == "clinician" else _patient_notes(answer, extra))
    text = _join(body, *details)
    passages = [
        Passage(name=name, content=_passage_text(cites, index)) for name, cites in names.items() if name in text
    ]
    passages += [Passage(name=name, content=content) for name, content in extra.items()]
    return ChatReply(body=_unbracket(body, passages), details=_unbracket(_join(*details), passages), passages=passages)


def _unbracket(text: str, passages: list[Passage]) -> str:
    """Citation markers without their brackets: the chat draws each one as a link already."""
    for passage in passages:
        text = text.replace(f"[{passage.name}]", passage.name)
    return text


def _asked_for(answer: Answer, index: TrialLookup, names: dict[str, Citation]) -> str | None:
    """The citation name of the first criterion the next question settles, so its text is one click away."""
    fact = answer.next_question.fact if answer.next_question else None
    for verdict in answer.eligibility:
        if verdict.verdict == "ineligible":  # a group the patient is already out of is not why we ask
            continue
        for item in verdict.unknown:
            if fact in item.needs and item.citation is not None:
                name = _criterion_name(item.citation, index)
                names[name] = item.citation
                return name
    return None


def split_verdicts(body: str) -> tuple[str, str | None, str]:
    """Split the chain's text around its verdict list: (text before, the "Facts used:" value, text after).

    The chain writes the checker's verdicts as a bullet list under a line starting `**Eligibility check**`
    (so the CLI shows them too); the chat shows them as cards or a table instead.
    """
    lines = body.split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith("**Eligibility check**")), None)
    if start is None:
        return body, None, ""
    end = start + 1
    facts_used = None
    while end < len(lines) and lines[end].startswith(("- ", "  ", "Facts used:")):
        if lines[end].startswith("Facts used:"):
            facts_used = lines[end].removeprefix("Facts used:").strip()
        end += 1
    return "\n".join(lines[:start]).strip(), facts_used, "\n".join(lines[end:]).strip()


def trial_cards(verdicts: list[TrialVerdict], index: TrialLookup, names: dict[str, Citation], who: str = "you") -> str:
    """One card per trial (its cohorts folded together), in the order the chain ranked them.

    `names` receives the citation name of each failed criterion a card links to.
    """
    by_trial: dict[str, list[TrialVerdict]] = {}
    for verdict in verdicts:
        by_trial.setdefault(verdict.trial_id, []).append(verdict)
    return "\n\n".join(_card(tid, cohorts, index, names, who) for tid, cohorts in by_trial.items())


def second_person(reason: str, who: str = "you") -> str:
    """A checker reason ("the patient's diagnosis (lupus) is not …") said to the patient, as a sentence;
    said to whoever speaks for them when `who` is someone else ("your mother's diagnosis …")."""
    text = " ".join(reason.split())
    if who == "you":
        for said, plain in SECOND_PERSON:
            text = re.sub(said, plain, text, flags=re.IGNORECASE)
    else:
        text = re.sub(r"\bthe patient\b", who, text, flags=re.IGNORECASE)
    if _MEASURED.match(text):
        text = ("your " if who == "you" else f"{who}'s ") + text
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def index_overview(trials: Iterable[Trial], top: int = 6) -> str:
    """The first screen's line on what is indexed: how many trials, and the diseases most of them study.

    Diseases are the lexicon's disease terms named in each trial's title, conditions and keywords (the
    registry's condition field alone is often empty or a broad category); a trial naming none counts
    under its listed conditions.
    """
    count = 0
    studied: dict[str, int] = {}
    for trial in trials:
        count += 1
        text = " ; ".join([trial.title, *trial.conditions, *trial.keywords])
        labels = {term.label for _, _, term in find_terms(text) if term.category in OVERVIEW_CATEGORIES}
        for label in labels or {" ".join(c.split()).lower() for c in trial.conditions if c.strip()}:
            studied[label] = studied.get(label, 0) + 1
    if not count:
        return "No trials are indexed yet."
    ranked = sorted(studied.items(), key=lambda item: (-item[1], item[0]))[:top]
    what = f"I know **{count:,} clinical {'trial' if count == 1 else 'trials'}**"
    if not ranked:
        return what + "."
    listed = _and([inert(f"{label} ({n})" if n > 1 else label) for label, n in ranked])
    more = ", among others" if len(studied) > top else ""
    return f"{what}. They study {listed}{more}."


def _verdict_line(best: str, who: str) -> str:
    you = who == "you"
    return PLAIN_VERDICTS[best].format(
        Who="You" if you else who[:1].upper() + who[1:], who=who, meet="meet" if you else "meets"
    )


def _card(
    trial_id: str, cohorts: list[TrialVerdict], index: TrialLookup, names: dict[str, Citation], who: str = "you"
) -> str:
    trial = index.trial(trial_id)
    title = inert(_short(trial.title, TITLE_CHARS)) if trial else ""
    status = (trial.status or "").upper() if trial else ""
    about = [STATUS_WORDS.get(status, status.replace("_", " ").capitalize()) if status else "Status not stated"]
    where = _where(trial) if trial else None
    if where:
        about.append(inert(where))
    if trial and trial.registry_url:
        about.append(f"[registry page]({trial.registry_url})")
    lines = [f"**{trial_id}** · {title}" if title else f"**{trial_id}**", "", " · ".join(about), ""]
    if status in NOT_ENROLLING:
        lines.append(f"**Not enrolling now.** It takes no new patients, so I did not check it for {who}.")
        return _quote("\n".join(lines))
    fitting = [v for v in cohorts if v.verdict != "ineligible"]
    if any(v.verdict == "eligible" for v in fitting):
        best = "eligible"
    else:
        best = "possibly_eligible" if fitting else "ineligible"
    lines.append(_verdict_line(best, who))
    reasons = _reasons(cohorts, fitting, index, names, who)
    if reasons:
        lines += ["", *[f"- {reason}" for reason in reasons[:MAX_REASONS]]]
    return _quote("\n".join(lines))


def _reasons(
    cohorts: list[TrialVerdict],
    fitting: list[TrialVerdict],
    index: TrialLookup,
    names: dict[str, Citation],
    who: str = "you",
) -> list[str]:
    """A card's plain reasons, most telling first: the rules you fail, or what is left to settle."""
    out: list[str] = []
    if not fitting:
        # The group closest to fitting (fewest rules failed) is most likely the patient's own: its reasons first.
        for verdict in sorted(cohorts, key=lambda v: len(v.failed)):
            group = f"{inert(verdict.cohort)} group: " if verdict.cohort else ""
            for item in verdict.failed:
                said = inert(second_person(item.reason, who))
                if len(out) < MAX_REASONS and not any(said in r for r in out):
                    name = _criterion_name(item.citation, index)
                    names[name] = item.citation
                    out.append(f"{group}{said if not group else said[:1].lower() + said[1:]} {name}")
        return out
    groups = [inert(v.cohort) for v in fitting if v.cohort]
    if groups:
        out.append(f"The {_and(groups)} {'group' if len(groups) == 1 else 'groups'} may fit {who}.")
    others = [inert(v.cohort) for v in cohorts if v.verdict == "ineligible" and v.cohort]
    if others:
        out.append(f"Its {_and(others)} {'group is' if len(others) == 1 else 'groups are'} for other patients.")
    needs = {need for v in fitting for item in v.unknown for need in item.needs}
    if needs:
        out.append(f"I still need {_count(len(needs), 'answer')} from you, asked one at a time.")
    review = max((len(v.needs_review) for v in fitting), default=0)
    if review:
        out.append(f"The study team would check {_count(review, 'rule')} with you that I cannot decide.")
    return out


def _where(trial: Trial) -> str | None:
    """The first listed site as "City, Country"; without sites, the country of a national registry."""
    for site in trial.locations:
        parts = [p for p in (site.city, site.country) if p]
        if parts:
            return ", ".join(dict.fromkeys(parts))
    country = REGISTRY_COUNTRY.get(trial.trial_id[:3])
    return country.title() if country else None


def _lead(text: str) -> str:
    """The plain paragraphs opening `text` (the lead sentence), before the first heading or list."""
    lead = []
    for paragraph in text.split("\n\n"):
        if paragraph.startswith(("**", "- ", "#", ">", "|")):
            break
        lead.append(paragraph)
    return "\n\n".join(lead)


def _without(text: str, question: str | None) -> str:
    """`text` without the trailing next question the chain appends (the chat shows it on its own)."""
    if question and text.endswith(question):
        return text[: -len(question)].rstrip()
    return text


def _join(*parts: str) -> str:
    return "\n\n".join(part for part in parts if part)


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _count(n: int, noun: str) -> str:
    word = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}.get(n, str(n))
    return f"{word} {noun}{'' if n == 1 else 's'}"


def _unique(citations: list[Citation]) -> list[Citation]:
    seen: set[str] = set()
    out = []
    for citation in citations:
        if citation.id not in seen:
            seen.add(citation.id)
            out.append(citation)
    return out


def _title(citation: Citation, index: TrialLookup) -> str:
    chunk = index.chunk(citation.id)
    return chunk.title if chunk else citation.section


def _citation_name(citation: Citation, index: TrialLookup) -> str:
    return marker_name(citation.trial_id, _title(citation, index))


def _criterion_name(citation: Citation, index: TrialLookup) -> str:
    """A name for one criterion: its section title plus its number in that list (`… #3`)."""
    number = citation.id.rsplit(":", 1)[-1]
    return f"{_citation_name(citation, index)} #{number}"


def _cell(text: str) -> str:
    text = " ".join(text.split())
    text = text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1].rstrip() + "…"
    # A pipe ends the table cell unless escaped; `inert` already escapes one that opens the text.
    return re.sub(r"(?<!\\)\|", r"\|", inert(text))


def _eligibility_table(verdicts: list[TrialVerdict], index: TrialLookup, names: dict[str, Citation]) -> str:
    if not verdicts:
        return ""
    rows = [
        "**Eligibility check** (by the rule checker, from each trial's own criteria)",
        "",
        "| Trial | Cohort | Verdict | Failed criteria | Facts still needed |",
        "| --- | --- | --- | --- | --- |",
    ]
    for verdict in verdicts:
        failed = []
        for item in verdict.failed:
            name = _criterion_name(item.citation, index)
            names[name] = item.citation
            failed.append(f"{name}: {_cell(item.reason)}")
        needed = sorted({fact_label(fact) for item in verdict.unknown for fact in item.needs})
        if verdict.needs_review:
            needed.append(f"{len(verdict.needs_review)} criteria for the study team to review")
        rows.append(
            f"| {verdict.trial_id} | {_cell(verdict.cohort or '—')} | {VERDICT_LABELS[verdict.verdict]} "
            f"| {'; '.join(failed) or '—'} | {_cell(', '.join(needed)) if needed else '—'} |"
        )
    return "\n".join(rows)


def _sources(citations: list[Citation], index: TrialLookup, names: dict[str, list[Citation]]) -> str:
    if not citations:
        return ""
    cited = list(dict.fromkeys(_citation_name(c, index) for c in _unique(citations)))
    lines = ["**Sources:** " + " · ".join(f"[{name}]" for name in cited if name in names)]
    links = []
    for trial_id in dict.fromkeys(c.trial_id for c in citations):
        trial = index.trial(trial_id)
        url = trial.registry_url if trial else None
        if url:
            links.append(f"[{trial_id} registry page]({url})")
    if links:
        lines.append("**Registry pages:** " + " · ".join(links))
    return "\n\n".join(lines)


def _notes(answer: Answer, passages: dict[str, str]) -> str:
    """Data-quality warnings (a few inline, all of them behind a link) and who answered."""
    warnings = list(dict.fromkeys(_clean_warning(w) for w in answer.warnings))
    lines = []
    if warnings:
        shown = warnings if len(warnings) <= INLINE_WARNINGS else warnings[: INLINE_WARNINGS - 1]
        lines.append("> ⚠ **Notes on the data**")
        lines += [f"> - {w}" for w in shown]
        if len(shown) < len(warnings):
            name = f"All {len(warnings)} notes on the data"
            passages[name] = "\n".join(f"- {w}" for w in warnings)
            lines.append(f"> - … {len(warnings) - len(shown)} more: [{name}]")
        lines.append("")
    lines.append(
        f"_{_WRITER.get(answer.backend or '', _WRITER[''])} Not medical advice: talk to the study team or your doctor._"
    )
    return "\n".join(lines)


# Who wrote the answer, in words (the clinician view says it; no backend names): quoted passages and the rule
# checker, or a language model whose sentences the verification gate checked against the passages.
_WRITER = {
    "extractive": "Quoted from the indexed trial documents; verdicts by the rule checker, no language model.",
    "rules": "From the rule checker and the indexed trial documents, no language model.",
    "": "Written by a language model from the indexed trial documents; each sentence was checked against the "
    "passage it cites.",
}


def _patient_notes(answer: Answer, passages: dict[str, str]) -> str:
    """One plain line on data quality (the notes themselves a click away) and the disclaimer."""
    warnings = list(dict.fromkeys(_clean_warning(w) for w in answer.warnings))
    lines = []
    if warnings:
        name = "Notes on the trial documents"
        passages[name] = "\n".join(f"- {w}" for w in warnings)
        lines.append(f"Some of these trial documents have gaps or typing errors, listed in {name}.")
    if answer.backend and answer.backend != ExtractiveGenerator.name:
        # Only then is there a language model to warn about; the checker still decided every verdict.
        lines.append("A language model worded this answer from the passages; every fact in it links to its source.")
    lines.append("_Only from the trial documents. Not medical advice: the study team decides who can join._")
    return "\n\n".join(lines)


def _clean_warning(warning: str) -> str:
    """One line; a trial id repeated as a prefix ("NCT1: NCT1: ...") said once; no escaped line breaks;
    inert (a note may quote a document's sentence)."""
    text = " ".join(warning.replace("\\n", " ").split())
    return inert(re.sub(r"^([A-Z]{3}\d{7,8}): \1: ", r"\1: ", text))


def _passage_text(citations: list[Citation], index: TrialLookup) -> str:
    # The passage's name is already its page's or dialog's title; the content starts with the trial's.
    trial = index.trial(citations[0].trial_id)
    parts = [f"**{inert(trial.title)}**"] if trial else []
    for citation in citations:
        parts.append(_quote(inert(citation.text)))
    if trial and trial.registry_url:
        parts.append(f"Registry page: [{trial.trial_id}]({trial.registry_url})")
    return "\n\n".join(parts)


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines())
