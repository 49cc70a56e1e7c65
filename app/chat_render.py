"""Turn an `Answer` into what the chat shows: markdown plus the cited passages for the side panel.

Pure functions, no Chainlit import, so the layout is testable without a browser. Chainlit links an
element into a message wherever the element's *name* occurs in the message text; each cited passage
therefore becomes a `Passage` whose name is the citation marker the answer text uses
(`NCT03171194 · Study groups`, i.e. trial id and the chunk's section title).
"""

from __future__ import annotations

import re
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from app.models import Answer
from eligibility.models import TrialVerdict
from ingest.models import Chunk, Citation, Trial

# Symbols from common text fonts (not emoji), so the table reads the same without an emoji font.
VERDICT_LABELS = {
    "eligible": "✓ eligible",
    "possibly_eligible": "? possibly eligible",
    "ineligible": "✗ ineligible",
}
CELL_CHARS = 140
INLINE_WARNINGS = 3


class TrialLookup(Protocol):
    """The part of `TrialIndex` the chat needs to label citations."""

    def chunk(self, chunk_id: str) -> Chunk | None: ...

    def trial(self, trial_id: str) -> Trial | None: ...


class Passage(BaseModel):
    """A cited passage shown in the side panel when its name is clicked in the answer."""

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
        """The whole message: the streamed answer text, then the table, sources and notes."""
        return self.body + ("\n\n" + self.details if self.details else "")


def marker_name(trial_id: str, title: str) -> str:
    """The citation marker text (without brackets) for a passage of `trial_id` titled `title`."""
    return f"{trial_id} · {title}"


def render_reply(answer: Answer, index: TrialLookup) -> ChatReply:
    """Lay out `answer`: text with the checker's verdicts as a table, next question, sources, notes."""
    names: dict[str, list[Citation]] = {}
    for citation in _unique(answer.citations):
        names.setdefault(_citation_name(citation, index), []).append(citation)
    table_names: dict[str, Citation] = {}
    table = _eligibility_table(answer.eligibility, index, table_names)
    for name, citation in table_names.items():
        names.setdefault(name, []).append(citation)

    body = answer.answer.strip()
    if table:
        body = with_table(body, table)
    details: list[str] = []
    if answer.next_question:
        asked = answer.next_question.question
        if asked in body:
            body = body.replace(asked, f"**To narrow this down:** {asked}", 1)
        else:
            details.append(f"**To narrow this down:** {asked}")
    sources = _sources(answer.citations, index, names)
    if sources:
        details.append(sources)
    extra: dict[str, str] = {}
    details.append(_notes(answer, extra))
    passages = [Passage(name=name, content=_passage_text(name, cites, index)) for name, cites in names.items()]
    passages += [Passage(name=name, content=content) for name, content in extra.items()]
    return ChatReply(body=body, details="\n\n".join(details), passages=passages)


def with_table(body: str, table: str) -> str:
    """Put `table` where the answer text lists the checker's verdicts, or after the text.

    The chain writes the verdicts as a bullet list under a line starting `**Eligibility check**` (so the
    CLI shows them too); in the chat the table replaces that list, keeping its "Facts used:" line.
    """
    lines = body.split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith("**Eligibility check**")), None)
    if start is None:
        return body + "\n\n" + table if body else table
    end = start + 1
    kept: list[str] = []
    while end < len(lines) and lines[end].startswith(("- ", "  ", "Facts used:")):
        if lines[end].startswith("Facts used:"):
            kept.append(lines[end])
        end += 1
    block = "\n\n".join([table, *kept])
    rest = "\n".join(lines[end:]).strip()
    head = "\n".join(lines[:start]).strip()
    return "\n\n".join(part for part in (head, block, rest) if part)


def profile_text(facts: dict) -> str:
    """The patient facts as `name: value` lines, the form the profile editor shows and reads back."""
    lines = []
    for key, value in facts.items():
        if value is None or value == [] or value == {}:
            continue
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        lines.append(f"{key}: {value}")
    return "\n".join(lines)


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
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1].rstrip() + "…"


def _humanize_fact(name: str) -> str:
    return name.replace("_", " ")


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
        needed = sorted({_humanize_fact(fact) for item in verdict.unknown for fact in item.needs})
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
    """Data-quality warnings (a few inline, all of them behind a side-panel link) and who answered."""
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
    backend = answer.backend or "unknown"
    lines.append(
        f"_Answered by the `{backend}` backend, only from indexed trial documents. "
        f"Not medical advice: talk to the study team or your doctor._"
    )
    return "\n".join(lines)


def _clean_warning(warning: str) -> str:
    """One line; a trial id repeated as a prefix ("NCT1: NCT1: ...") said once."""
    text = " ".join(warning.split())
    return re.sub(r"^([A-Z]{3}\d{7,8}): \1: ", r"\1: ", text)


def _passage_text(name: str, citations: list[Citation], index: TrialLookup) -> str:
    trial = index.trial(citations[0].trial_id)
    head = f"### {name}"
    if trial:
        head += f"\n\n**{trial.title}**"
    parts = [head]
    for citation in citations:
        parts.append(f"`{citation.id}` (section `{citation.section}`)\n\n" + _quote(citation.text))
    if trial and trial.registry_url:
        parts.append(f"Registry page: [{trial.trial_id}]({trial.registry_url})")
    return "\n\n".join(parts)


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines())
