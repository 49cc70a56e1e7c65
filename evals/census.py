"""Criteria census: how much of real trials' criteria the checker decides, and what it sends to review.

    python -m evals.census --index /work/cache/index-ctgov --out docs/census.md

Reads the trial records of an index (read-only) or the documents under `--corpus` (through the ingest
readers), compiles every atomic criterion into rules exactly as the checker does, and writes a Markdown
report: the share decided, partly decided and sent to review, by reason and by concept kind; how many
criteria state an age or a quantity and how many of those become rules; the most common unread phrasings.
Not part of `make test` (it reads ../shared); tests run it on the bundled 200-record sample.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from eligibility import compiled, quantities
from eligibility.rules import (
    AgeRule,
    AllOf,
    AnyOf,
    AssumedConsent,
    ConditionRule,
    DiagnosisRule,
    DoseRule,
    DurationRule,
    ExposureRule,
    Implies,
    LabRule,
    NeedsReview,
    Not,
    Qualified,
    Rule,
    ScoreRule,
    SerologyRule,
    SexRule,
)
from ingest.models import Trial
from ingest.passages import facts_citation

# Leaves that compare a number the criterion states (an age, a lab value, a dose, a time window…).
_NUMERIC = (AgeRule, LabRule, ScoreRule, DoseRule, DurationRule)
_LEAF_KIND: dict[type, str] = {
    AgeRule: "age",
    SexRule: "sex",
    DiagnosisRule: "diagnosis",
    ConditionRule: "condition",
    LabRule: "lab or measurement",
    ScoreRule: "score",
    SerologyRule: "serology",
    ExposureRule: "drug exposure",
    DoseRule: "dose",
    DurationRule: "disease duration",
}
_AGE_WORDS = re.compile(r"(?i)\b(?:age[ds]?|years? old|years? of age|yrs? old|y/?o)\b")
# Details in parentheses ("(donor)", "(severe)") vary per criterion; the reason is what precedes them.
_DETAIL = re.compile(r"\s*\((?:[^()]|\([^()]*\))*\)")
_UNREAD_NOTE = re.compile(r"not read by the checker \((?P<words>[^)]*)\)")
_WORD = re.compile(r"[a-z][a-z\-]{2,}")
_STOP = frozenset(
    [
        "the",
        "and",
        "or",
        "with",
        "for",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "from",
        "any",
        "who",
        "are",
        "is",
        "be",
        "been",
        "has",
        "have",
        "had",
        "not",
        "no",
        "than",
        "that",
        "this",
        "which",
        "within",
        "prior",
        "patients",
        "patient",
        "subjects",
        "subject",
        "participants",
        "must",
        "will",
        "may",
        "other",
        "known",
    ]
)


@dataclass
class Census:
    trials: int = 0
    criteria: int = 0
    structured: int = 0  # the records' minimum/maximum age and sex fields, applied as criteria
    outcome: Counter[str] = field(default_factory=Counter)
    review_reasons: Counter[str] = field(default_factory=Counter)
    partial_reasons: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)  # criteria holding a leaf of the kind, by outcome
    kinds_decided: Counter[str] = field(default_factory=Counter)
    states_age: int = 0
    states_age_rule: int = 0
    states_quantity: int = 0
    states_quantity_rule: int = 0
    unread_words: Counter[str] = field(default_factory=Counter)
    unrecognised_phrases: Counter[str] = field(default_factory=Counter)


def _leaves(rule: Rule) -> Iterator[Rule]:
    match rule:
        case AllOf() | AnyOf():
            for r in rule.rules:
                yield from _leaves(r)
        case Not() | Qualified():
            yield from _leaves(rule.rule)
        case Implies():
            yield from _leaves(rule.condition)
            yield from _leaves(rule.then)
        case _:
            yield rule


def _qualified_notes(rule: Rule) -> Iterator[str]:
    match rule:
        case AllOf() | AnyOf():
            for r in rule.rules:
                yield from _qualified_notes(r)
        case Not():
            yield from _qualified_notes(rule.rule)
        case Implies():
            yield from _qualified_notes(rule.condition)
            yield from _qualified_notes(rule.then)
        case Qualified():
            yield rule.note
            yield from _qualified_notes(rule.rule)


def _outcome(rule: Rule, leaves: list[Rule]) -> str:
    """decided | partly decided | review | judgement | consent, for one criterion's rule."""
    if isinstance(rule, AssumedConsent):
        return "consent (assumed met)"
    decidable = [x for x in leaves if not isinstance(x, NeedsReview | AssumedConsent)]
    if not decidable:
        subjective = isinstance(rule, NeedsReview) and rule.subjective
        return "judgement by design (review)" if subjective else "sent to review"
    if any(isinstance(x, NeedsReview) for x in leaves) or any(True for _ in _qualified_notes(rule)):
        return "partly decided (some outcomes reviewed)"
    return "decided"


def _reason(text: str) -> str:
    return (_DETAIL.sub("", text).strip() or text).lower()


def _phrase(text: str) -> str:
    """The first content words of a criterion (what a family of unread criteria opens with)."""
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOP]
    return " ".join(words[:3])


def take(census: Census, trial: Trial) -> None:
    """Add one trial's criteria to the census."""
    census.trials += 1
    facts_id = facts_citation(trial).id
    for cohort in compiled.compile_trial(trial):
        for item in cohort.items:
            if item.criterion.id == facts_id and isinstance(item.rule, AgeRule | SexRule):
                census.structured += 1
                continue
            census.criteria += 1
            rule = item.rule
            leaves = list(_leaves(rule))
            outcome = _outcome(rule, leaves)
            census.outcome[outcome] += 1
            for kind in {_LEAF_KIND[type(x)] for x in leaves if type(x) in _LEAF_KIND}:
                census.kinds[kind] += 1
                census.kinds_decided[kind] += outcome == "decided"
            for x in leaves:
                if isinstance(x, NeedsReview):
                    census.review_reasons[_reason(x.reason)] += 1
            for note in _qualified_notes(rule):
                census.partial_reasons[_reason(note)] += 1
                if m := _UNREAD_NOTE.search(note):
                    census.unread_words.update(m.group("words").split())
            if outcome == "sent to review":
                census.unrecognised_phrases[_phrase(item.criterion.text)] += 1
            text = item.criterion.text
            numeric = any(isinstance(x, _NUMERIC) for x in leaves)
            if _AGE_WORDS.search(text) and quantities.find(text):
                census.states_age += 1
                census.states_age_rule += any(isinstance(x, AgeRule) for x in leaves)
            if quantities.find(text):
                census.states_quantity += 1
                census.states_quantity_rule += numeric


def run(trials: Iterable[Trial]) -> Census:
    census = Census()
    for trial in trials:
        take(census, trial)
    return census


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "n/a"


def render(census: Census, source: str, top: int = 25) -> str:
    """The census as Markdown."""
    c = census
    lines = [
        "# Criteria census",
        "",
        f"Source: {source}. {c.trials:,} trials, {c.criteria:,} atomic criteria (plus {c.structured:,} structured "
        "age/sex fields, always decided). Compiled by the checker's own compiler "
        f"(`eligibility/compiled.py`, version `{compiled.COMPILER_VERSION}`). Produced by `python -m evals.census`.",
        "",
        "## What becomes of each criterion",
        "",
        "| outcome | criteria | share |",
        "|---|---:|---:|",
        *(f"| {k} | {n:,} | {_pct(n, c.criteria)} |" for k, n in c.outcome.most_common()),
        "",
        "Decided: every outcome is decided by rules. Partly decided: rules decide some outcomes, the others go "
        "to a clinician (a qualifier such as 'severe', words the parser did not read, an alternative it did "
        "not read). Sent to review: nothing in it is decided.",
        "",
        "## Ages and quantities",
        "",
        "| criteria that state | criteria | with a rule for it | share |",
        "|---|---:|---:|---:|",
        f"| an age (age words and a number) | {c.states_age:,} | {c.states_age_rule:,} | "
        f"{_pct(c.states_age_rule, c.states_age)} |",
        f"| a quantity (any number the grammar reads) | {c.states_quantity:,} | {c.states_quantity_rule:,} | "
        f"{_pct(c.states_quantity_rule, c.states_quantity)} |",
        "",
        "A quantity has a rule when the criterion's rule compares a stated number (age, lab or measurement, "
        "score, dose, disease duration); numbers that are not thresholds (list numbers, time windows of drug "
        "exposures, dates) count as quantities without one, so the second share is a lower bound.",
        "",
        "## By concept kind",
        "",
        "| kind | criteria holding one | fully decided | share |",
        "|---|---:|---:|---:|",
        *(
            f"| {k} | {n:,} | {c.kinds_decided[k]:,} | {_pct(c.kinds_decided[k], n)} |"
            for k, n in c.kinds.most_common()
        ),
        "",
        f"## Why parts go to review (top {top})",
        "",
        "| reason (unread alternatives and whole criteria) | times |",
        "|---|---:|",
        *(f"| {k} | {n:,} |" for k, n in c.review_reasons.most_common(top)),
        "",
        "| reason (decided outcomes a clinician confirms) | times |",
        "|---|---:|",
        *(f"| {k} | {n:,} |" for k, n in c.partial_reasons.most_common(top)),
        "",
        f"## Most common unread phrasings (top {top})",
        "",
        "Opening content words of the criteria sent to review whole, and the words left unread in partly decided ones:",
        "",
        "| criteria opening with | criteria | | unread word | times |",
        "|---|---:|---|---|---:|",
        *(
            f"| {a} | {na:,} | | {b} | {nb:,} |"
            for (a, na), (b, nb) in zip(
                c.unrecognised_phrases.most_common(top), c.unread_words.most_common(top), strict=False
            )
        ),
        "",
    ]
    return "\n".join(lines)


def read_index(index_dir: Path) -> Iterator[Trial]:
    """The trial records of an index, through a read-only SQLite connection (writes nothing there)."""
    db = sqlite3.connect(f"file:{index_dir / 'records.sqlite'}?mode=ro", uri=True)
    try:
        for (record,) in db.execute("SELECT record FROM trials ORDER BY trial_id"):
            yield Trial.model_validate_json(record)
    finally:
        db.close()


def read_corpus(paths: list[Path]) -> Iterator[Trial]:
    """The trials of documents, folders and archives, through the ingest readers (unreadable ones skipped)."""
    from ingest.formats import parse_document_each
    from ingest.sources import SourceDocument, iter_documents

    for document in iter_documents(paths):
        if isinstance(document, SourceDocument):
            for trial in parse_document_each(document.path, document.data):
                if isinstance(trial, Trial):
                    yield trial


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.census", description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--index", type=Path, help="index folder whose records.sqlite is read (read-only)")
    source.add_argument("--corpus", type=Path, nargs="+", help="documents, folders or archives to read")
    parser.add_argument("--out", type=Path, help="Markdown report to write (default: print it)")
    args = parser.parse_args(argv)
    if args.index is not None:
        if not (args.index / "records.sqlite").is_file():
            parser.error(f"{args.index} holds no records.sqlite: give the folder of a built index")
        trials, source_name = read_index(args.index), f"the records of the index {args.index}"
    else:
        trials, source_name = read_corpus(args.corpus), ", ".join(map(str, args.corpus))
    report = render(run(trials), source_name)
    if args.out is None:
        print(report)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf-8")
        print(f"census written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
