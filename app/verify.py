"""The gate every draft passes before it is shown.

1. Eligibility claims ("you qualify for", "you would be excluded from", "you may be eligible", "not
   eligible") about a trial are compared with the rule checker's verdict for the conversation's patient
   facts; a claim that contradicts it, or that no verdict backs, is replaced by the checker's verdict and
   a warning says so. Only the checker's verdicts reach `Answer.eligibility`, never a generator's.
2. Every factual sentence must cite passages it was given, and those passages must support it: at least
   SUPPORT_THRESHOLD of its content words (stemmed, stopwords and framing words such as "trial" or
   "status" left out) occur in the cited text, and every number in it occurs there too. 0.6 keeps an
   LLM's paraphrase ("each patient gets one infusion of 1 million cells/kg") while a sentence adding an
   unsupported fact ("... and a second dose at month 6") loses on the number or on the new words.
   Unsupported sentences are dropped and reported.
3. Data-quality warnings of the cited trials (swapped headings, lost characters) are passed on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from app import vocabulary as vocab
from app.generators import NOT_FOUND, Draft, Statement
from eligibility.models import TrialVerdict
from ingest.models import Chunk, Trial
from trialfinder.ids import find_ids, strip_ids

SUPPORT_THRESHOLD = 0.6
VERDICT_RANK = {"eligible": 2, "possibly_eligible": 1, "ineligible": 0}
VERDICT_WORDS = {"eligible": "eligible", "possibly_eligible": "possibly eligible", "ineligible": "ineligible"}

_SUBJECT = (
    r"(you|you're|youre|your|yourself|i|i'm|im|me|my|we|the patient|this patient|your patient|my patient|"
    r"the person|she|he|they|the user)"
)
_INELIGIBLE = re.compile(
    rf"\b{_SUBJECT}\b[^.?!]{{0,60}}?\b(not|n't|never|no longer)\b[^.?!]{{0,20}}?\b(eligible|qualif\w*|a candidate|"
    rf"allowed to (join|participate|enrol\w*)|able to (join|participate|enrol\w*))|"
    rf"\b{_SUBJECT}\b[^.?!]{{0,60}}?\b(ineligible|excluded|disqualified|ruled out|cannot (join|participate|enrol\w*|take part)|"
    rf"can't (join|participate|enrol\w*|take part)|fails? (the )?(criteria|requirements))\b",
    re.IGNORECASE,
)
_POSSIBLY = re.compile(
    rf"\b{_SUBJECT}\b[^.?!]{{0,60}}?\b(may|might|could|possibly|potentially|likely|probably)\b[^.?!]{{0,15}}?"
    rf"\b(be )?(eligible|qualif\w*|a candidate|join|participate|enrol\w*)|\bpossibly eligible\b",
    re.IGNORECASE,
)
_ELIGIBLE = re.compile(
    rf"\b{_SUBJECT}\b[^.?!]{{0,60}}?\b(eligible|qualif(y|ies|ied)|meets? (all )?(of )?(the )?(criteria|requirements)|"
    rf"(can|will be able to|are able to|is able to) (join|participate|enrol\w*|take part)|"
    rf"(a )?(good |suitable |perfect )?(candidate|match|fit) for)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


class Claim(BaseModel):
    """An eligibility statement found in a sentence."""

    model_config = ConfigDict(frozen=True)

    polarity: str = Field(description="eligible | possibly_eligible | ineligible")
    text: str


def find_claim(sentence: str) -> Claim | None:
    """The eligibility claim a sentence makes about the user or their patient, if any."""
    if _INELIGIBLE.search(sentence):
        return Claim(polarity="ineligible", text=sentence)
    if _POSSIBLY.search(sentence):
        return Claim(polarity="possibly_eligible", text=sentence)
    if _ELIGIBLE.search(sentence):
        return Claim(polarity="eligible", text=sentence)
    return None


def _tokens(text: str) -> list[str]:
    text = text.lower().replace("_", " ")
    text = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", text)
    return re.findall(r"[a-z]+|\d+(?:[.,]\d+)?", text)


def content_words(sentence: str) -> set[str]:
    """Stemmed words of a sentence that carry its facts (no stopwords, framing words or trial ids)."""
    sentence = strip_ids(sentence)
    return {
        vocab.stem(w)
        for w in _tokens(sentence)
        if w not in vocab.STOPWORDS and w not in vocab.FRAME_WORDS and not w.isdigit() and len(w) > 1
    }


def numbers(text: str) -> set[str]:
    """The numbers written in a text, normalised ("1,000" -> "1000")."""
    text = strip_ids(text)
    text = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", text.lower())
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def support(sentence: str, texts: Iterable[str]) -> float:
    """Share of the sentence's content words found in the cited texts; 0 when a number is missing there."""
    joined = " ".join(texts)
    have = {vocab.stem(w) for w in _tokens(joined)}
    if not numbers(sentence) <= numbers(joined):
        return 0.0
    words = content_words(sentence)
    if not words:
        return 1.0
    return len(words & have) / len(words)


class Checked(BaseModel):
    """The draft after the gate: what may be shown, and what was changed and why."""

    model_config = ConfigDict(frozen=True)

    statements: list[Statement]
    warnings: list[str] = Field(default_factory=list)
    removed_claims: int = 0


def best_verdicts(verdicts: Iterable[TrialVerdict]) -> dict[str, TrialVerdict]:
    """Per trial, the most favourable cohort verdict (eligible > possibly_eligible > ineligible)."""
    best: dict[str, TrialVerdict] = {}
    for v in verdicts:
        if v.trial_id not in best or VERDICT_RANK[v.verdict] > VERDICT_RANK[best[v.trial_id].verdict]:
            best[v.trial_id] = v
    return best


def claim_trials(statement: Statement, chunks: dict[str, Chunk], focus: list[str]) -> list[str]:
    """The trials an eligibility claim is about.

    `focus` holds the trials the user named or the conversation is about. An id written in the
    statement counts only when it is one of them: a statement's words may come from a document, and an
    id a document mentions (a sister trial, a previous study) must never pull another trial's verdict into
    the answer. Otherwise the cited passages' trials, the statement's own trial, or the focus decide.
    """
    named = [t for t in find_ids(statement.text) if t in focus]
    if named:
        return named
    cited = [chunks[c].trial_id for c in statement.citations if c in chunks]
    if cited:
        return list(dict.fromkeys(cited))
    if statement.trial_id:
        return [statement.trial_id]
    return list(focus)


def check_claim(
    statement: Statement, claim: Claim, trials: list[str], best: dict[str, TrialVerdict]
) -> tuple[list[Statement], list[str]]:
    """Keep a claim the checker agrees with; otherwise replace it by the checker's verdict and say so."""
    if trials and all(t in best and best[t].verdict == claim.polarity for t in trials):
        return [statement], []
    replacement: list[Statement] = []
    warnings: list[str] = []
    for tid in trials or ["the trials discussed"]:
        verdict = best.get(tid)
        if verdict is None:
            warnings.append(
                f"Removed an eligibility claim that the rule checker cannot back ({tid} was not checked): "
                f'"{statement.text}"'
            )
            continue
        if verdict.verdict != claim.polarity:
            warnings.append(
                f"Removed an eligibility claim that contradicts the rule checker for {tid} "
                f'(claimed {VERDICT_WORDS[claim.polarity]}, checker: {VERDICT_WORDS[verdict.verdict]}): "{statement.text}"'
            )
        replacement.append(
            Statement(
                text=f"The rule checker's verdict for {tid}: {VERDICT_WORDS[verdict.verdict]}.",
                kind="notice",
                trial_id=tid,
            )
        )
    return replacement, warnings


def gate(
    draft: Draft,
    *,
    chunks: dict[str, Chunk],
    verdicts: list[TrialVerdict],
    default_trials: list[str],
    allow_empty: bool = False,
) -> Checked:
    """Apply the gate to a draft.

    `chunks` are the passages the generator was given (a citation to anything else is dropped),
    `verdicts` the checker's verdicts for the trials in play, `default_trials` the turn's trials (named by the
    user or in the conversation's focus): the only trials an id written in a claim may point to, and the
    trials a claim without a citation is taken to be about. `allow_empty`: the answer's substance is
    shown elsewhere (the checker's verdicts), so an empty draft needs no "I don't have that".
    """
    best = best_verdicts(verdicts)
    kept: list[Statement] = []
    warnings = list(draft.warnings)
    removed = 0
    seen_notices: set[str] = set()
    for statement in draft.statements:
        claim = find_claim(statement.text) if statement.kind != "heading" else None
        if claim is not None:
            replacement, notes = check_claim(statement, claim, claim_trials(statement, chunks, default_trials), best)
            removed += bool(notes)
            warnings += notes
            for s in replacement:
                if s.text not in seen_notices:
                    seen_notices.add(s.text)
                    kept.append(s)
            continue
        if statement.kind == "notice":
            kept.append(statement)
            continue
        valid = [c for c in statement.citations if c in chunks]
        for c in statement.citations:
            if c not in chunks:
                warnings.append(f"Dropped a citation to {c}, a passage the answer was not drawn from.")
        if statement.kind == "heading":
            kept.append(statement.model_copy(update={"citations": valid}))
            continue
        if not valid:
            warnings.append(f'Dropped a sentence with no citation to the trial documents: "{statement.text}"')
            continue
        score = support(statement.text, (chunks[c].text for c in valid))
        if score < SUPPORT_THRESHOLD:
            warnings.append(
                f"Dropped a sentence its cited passage does not support (overlap {score:.2f} < {SUPPORT_THRESHOLD}): "
                f'"{statement.text}"'
            )
            continue
        kept.append(statement.model_copy(update={"citations": valid}))
    if not allow_empty and not any(s.kind in ("fact", "notice") for s in kept):
        kept = kept + [Statement(text=NOT_FOUND, kind="notice")]
    return Checked(statements=kept, warnings=warnings, removed_claims=removed)


# Notes that change how a passage must be read; empty or missing sections are not worth a warning.
QUALITY_CODES = ("swapped_headings", "lost_characters", "numbering_gap", "unparsed_text")


def with_trial(trial_id: str, message: str) -> str:
    """`message` prefixed with the trial id unless it already starts with it."""
    return message if message.startswith(trial_id) else f"{trial_id}: {message}"


def quality_warnings(trials: Iterable[Trial]) -> list[str]:
    """Data-quality notes of the given trials (QUALITY_CODES), each naming its trial."""
    out: list[str] = []
    for trial in trials:
        for w in trial.warnings:
            if w.code in QUALITY_CODES:
                line = f" (line {w.line})" if w.line else ""
                note = with_trial(trial.trial_id, f"{w.message}{line}")
                if note not in out:
                    out.append(note)
    return out
