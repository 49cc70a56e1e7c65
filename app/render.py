"""Markdown for answers: statements with citation markers, and the rule checker's verdict table.

Every piece of text that comes from a document or from the person (statements, criteria, reasons,
section titles) goes through `app.inert.inert` first, so it shows as words and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.generators import Statement
from app.inert import inert
from app.verify import VERDICT_WORDS
from eligibility import concepts
from eligibility.facts import PatientFacts
from eligibility.models import TrialVerdict, you_said
from eligibility.questions import fact_label
from ingest.models import Chunk

MAX_UNKNOWN = 5


def marker(chunk: Chunk) -> str:
    """The citation marker shown after a sentence, e.g. `[NCT03171194 · Study groups]`."""
    return f"[{chunk.trial_id} · {inert(chunk.title)}]"


def statements_markdown(statements: list[Statement], chunks: dict[str, Chunk]) -> str:
    """Statements as markdown: headings bold, bullets as list items, each fact followed by its markers."""
    lines: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            block(" ".join(paragraph), after_any=True)
            paragraph.clear()

    def block(line: str, after_any: bool = False) -> None:
        # A heading or paragraph right after a list item would be read as that item's continuation
        # (a "lazy" line), and a paragraph right after a heading line would run on in the same line,
        # so a blank line sets them apart.
        if lines and (after_any or lines[-1].startswith("- ")) and lines[-1] != "":
            lines.append("")
        lines.append(line)

    for s in statements:
        marks = " ".join(dict.fromkeys(marker(chunks[c]) for c in s.citations if c in chunks))
        text = inert(s.text.strip())
        if s.style == "heading":
            flush()
            block(f"**{text}**" + (f" {marks}" if marks else ""))
        elif s.style == "bullet":
            flush()
            lines.append(f"- {text}" + (f" {marks}" if marks else ""))
        else:
            paragraph.append(text + (f" {marks}" if marks else ""))
    flush()
    return "\n".join(lines)


def _label(v: TrialVerdict) -> str:
    return v.trial_id + (f" · {v.cohort}" if v.cohort else "")


def verdicts_markdown(
    verdicts: list[TrialVerdict],
    facts_line: str | None,
    titles: dict[str, str],
    not_enrolling: dict[str, str] | None = None,
) -> str:
    """The checker's verdicts per trial and cohort: verdict, failed criteria (cited), facts still needed.

    `titles` maps chunk ids to their human titles for the citation markers of failed criteria;
    `not_enrolling` maps trials that take no one now to their status, shown next to their verdict.
    """
    not_enrolling = not_enrolling or {}
    out = ["**Eligibility check** (by the rule checker, not by the writer of this answer)"]
    if facts_line:
        out.append(f"Facts used: {facts_line}")
    for v in verdicts:
        closed = f" (not enrolling: {not_enrolling[v.trial_id]})" if v.trial_id in not_enrolling else ""
        out.append(f"- **{_label(v)}**: {VERDICT_WORDS[v.verdict]}{closed}")
        for f in v.failed:
            title = titles.get(f.citation.id) or _section_title(f.citation.section, v.cohort)
            mark = f"[{f.citation.trial_id} · {inert(title)}]"
            out.append(f"  - Not met ({f.kind}): {_one_line(f.criterion)} — {_one_line(f.reason)} {mark}")
        if v.verdict != "ineligible" and v.trial_id not in not_enrolling:  # a closed trial is not screened further
            needs = list(dict.fromkeys(n for u in v.unknown for n in u.needs))
            if needs:
                said = list(dict.fromkeys(q for u in v.unknown for q in u.patient_said))[:MAX_UNKNOWN]
                out.append(
                    f"  - Still needed: {', '.join(fact_label(n) for n in needs[:MAX_UNKNOWN])}"
                    + (f" and {len(needs) - MAX_UNKNOWN} more" if len(needs) > MAX_UNKNOWN else "")
                    + (f" ({_one_line(you_said(said))})" if said else "")
                )
            if v.needs_review:
                out.append(f"  - {len(v.needs_review)} criteria need review by the study team")
    return "\n".join(out)


def lead_sentence(
    best: Mapping[str, str], statuses: Mapping[str, str], places: Mapping[str, str], who: str = "you"
) -> str | None:
    """One sentence before the details: how many enrolling trials may fit, naming the first and its place.

    `best` maps trial ids to their best verdict, `statuses` to their plain status ("" when unknown),
    `places` to a city or country of a site; `who` is the patient as the answer names them ("your mother").
    """
    fit = [t for t, v in best.items() if v != "ineligible" and t not in statuses]
    closed = [t for t, v in best.items() if v != "ineligible" and t in statuses]
    if not fit:
        if closed:
            return (
                f"No enrolling trial fits what you've told me{_about(who)}; {_count(len(closed))} that may fit "
                f"{'is' if len(closed) == 1 else 'are'} not enrolling."
            )
        return f"None of these trials fits what you've told me{_about(who)}." if best else None
    where = f" in {places[fit[0]]}" if places.get(fit[0]) else ""
    more = f" (and {_count(len(fit) - 1)} more)" if len(fit) > 1 else ""
    word = "trial may" if len(fit) == 1 else "trials may"
    return f"{_count(len(fit)).capitalize()} {word} fit {who} and {'is' if len(fit) == 1 else 'are'} enrolling: {fit[0]}{where}{more}."


def _about(who: str) -> str:
    return "" if who == "you" else f" about {who}"


def _count(n: int) -> str:
    return {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}.get(n, str(n))


def _one_line(text: str) -> str:
    """Criterion text on one line, so a multi-line criterion stays inside its list item; inert."""
    return inert(" ".join(text.split()))


def _section_title(section: str, cohort: str | None) -> str:
    kind = section.split(".")[-1] if section.startswith("eligibility") else section
    return f"Eligibility · {kind}" + (f" ({cohort})" if cohort else "")


def facts_line(facts: PatientFacts) -> str | None:
    """The understood patient facts in one line ("age 45; female; SLE; eGFR 25 mL/min"), None when empty."""
    parts: list[str] = []
    if facts.age is not None:
        parts.append(f"age {facts.age:g}")
    if facts.sex:
        parts.append(facts.sex)
    if facts.weight_kg is not None:
        parts.append(f"{facts.weight_kg:g} kg")
    for flag, word in ((facts.pregnant, "pregnant"), (facts.breastfeeding, "breastfeeding")):
        if flag is not None:
            parts.append(word if flag else f"not {word}")
    for d in facts.diagnoses:
        if d.hypothetical:  # a question's topic ("any stem-cell trials?") is not a fact about the patient
            continue
        prefix = "no " if d.negated else "family history of " if d.family else "past " if d.historical else ""
        parts.append(prefix + d.label)
    for m in [*facts.labs, *facts.scores]:
        value = (
            "positive"
            if m.positive
            else "negative"
            if m.positive is False
            else (f"{m.value:g}{' ' + m.unit if m.unit else ''}" if m.value is not None else "")
        )
        parts.append(f"{concepts.label(m.name) or m.name} {value}".strip())
    for med in facts.medications:
        state = "not on " if med.negated else "past " if med.current is False else ""
        parts.append(state + med.name)
    return inert("; ".join(parts)) if parts else None
