"""The passages of a trial that both the chunker and the eligibility checker need, with their citations.

The chunker emits these passages as chunks; the checker cites them. Both take text and ids from here, so a
citation the checker gives is always a chunk that exists with exactly that text, and the checker does not
depend on the chunker or spell chunk ids itself.
"""

from __future__ import annotations

import re

from ingest.models import Citation, Trial

TARGET_CHARS = 500
MAX_CHARS = 800

# Places to cut: after . ! or ? followed by white space and an upper-case letter, digit or bracket; at a
# blank line (paragraph); before a bulleted or numbered line. A single line break is not a boundary:
# registry XML hard-wraps its prose at ~75 characters in the middle of sentences.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[\"'])|\n\s*\n\s*|\n\s*(?=(?:[-*•·o]|\d{1,2}[.)])\s)")

ELIGIBILITY_SECTION = "eligibility"  # the raw criteria text, when it could not be split into items
FACTS_SECTION = "eligibility.facts"  # the structured age, sex and healthy-volunteer fields


def split_sentences(text: str | None, target: int = TARGET_CHARS, limit: int = MAX_CHARS) -> list[str]:
    """Verbatim slices of `text`, cut between sentences, each about `target`-`limit` characters.

    A single sentence longer than `limit` is cut at the last white space before the limit so no slice
    outgrows what the embedding model reads.
    """
    if not text or not text.strip():
        return []
    text = text.strip()
    if len(text) <= limit:
        return [text]
    bounds = [m.end() for m in _SENTENCE_END.finditer(text)] + [len(text)]
    pieces: list[str] = []
    start = 0
    cut = 0
    for end in bounds:
        if end - start > limit and cut > start:
            pieces.append(text[start:cut])
            start = cut
        while end - start > limit:
            space = text.rfind(" ", start + target // 2, start + limit)
            stop = space if space > start else start + limit
            pieces.append(text[start:stop])
            start = stop
        cut = end
        if end - start >= target:
            pieces.append(text[start:end])
            start = end
    if start < len(text):
        pieces.append(text[start:])
    return [p.strip() for p in pieces if p.strip()]


def labelled(label: str, value: object) -> str | None:
    if value is None or value == "" or value == []:
        return None
    return f"{label}: {value}"


def join_lines(*lines: str | None) -> str:
    return "\n".join(line for line in lines if line)


def facts_text(trial: Trial) -> str:
    """Text of the "eligibility.facts" chunk (the eligibility checker cites it verbatim)."""
    elig = trial.eligibility
    volunteers = None if elig.healthy_volunteers is None else ("Yes" if elig.healthy_volunteers else "No")
    return join_lines(
        labelled("Minimum age", elig.minimum_age),
        labelled("Maximum age", elig.maximum_age),
        labelled("Sex", elig.sex),
        labelled("Accepts healthy volunteers", volunteers),
    )


def passage_id(trial_id: str, section: str, n: int) -> str:
    """The chunk id of the n-th (1-based) passage of a section: `{trial_id}:{section}:{n}`."""
    return f"{trial_id}:{section}:{n}"


def facts_citation(trial: Trial) -> Citation:
    """The citation of the structured age/sex facts: the trial's "eligibility.facts" chunk, verbatim."""
    return Citation(
        id=passage_id(trial.trial_id, FACTS_SECTION, 1),
        trial_id=trial.trial_id,
        section=FACTS_SECTION,
        text=facts_text(trial),
    )


def criteria_text_citation(trial: Trial) -> Citation | None:
    """The first passage of the raw criteria text (cited when the criteria could not be split into items)."""
    pieces = split_sentences(trial.eligibility.text)
    if not pieces:
        return None
    return Citation(
        id=passage_id(trial.trial_id, ELIGIBILITY_SECTION, 1),
        trial_id=trial.trial_id,
        section=ELIGIBILITY_SECTION,
        text=pieces[0],
    )
