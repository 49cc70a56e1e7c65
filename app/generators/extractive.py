"""The offline generator: answers by quoting the retrieved passages and the trial records.

Deterministic and LLM-free. Every fact it writes is a line or sentence taken from a passage it cites,
sometimes behind a short label ("Status:"), or a record value found verbatim in the cited passage; it
never composes a fact of its own, so the gate's support check passes by construction, not by luck.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from app import vocabulary as vocab
from app.generators import NOT_FOUND, Draft, Passage, Statement
from app.intent import ASPECT_CUES, DESCRIPTOR, Intent
from ingest.models import Chunk, Trial

MAX_TRIALS = 5
MAX_CRITERIA = 25

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[])|\n+")
_DOSE = re.compile(
    r"\b\d[\d,.]*\s*(x\s*10\^?\s*\d+\s*)?(million\s+)?(cells?|ucmsc|msc|mg|ml|g|mcg|µg|iu|units?)\b(\s*/\s*kg)?|"
    r"/kg\b|\bdos(e|es|ing|age)\b|\binfusions?\b",
    re.IGNORECASE,
)


def pretty(value: str) -> str:
    """Registry codes in plain words: RECRUITING -> Recruiting, PHASE1/PHASE2 -> Phase 1/Phase 2."""
    if value in ("NA", "N/A"):
        return value
    if value.isupper() or "_" in value:
        out = value.replace("_", " ").lower()
        out = re.sub(r"phase\s*(\d)", r"Phase \1", out)
        return out[:1].upper() + out[1:]
    return value


def sentences(text: str) -> list[str]:
    """A passage cut into sentences and lines, verbatim."""
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


class ExtractiveGenerator:
    """Quotes passages per intent; see the module docstring."""

    name = "extractive"

    def draft(self, question: str, intent: Intent, passages: list[Passage], trials: dict[str, Trial]) -> Draft:
        """Statements for the turn, each quoting the passage it cites."""
        by_trial: dict[str, list[Chunk]] = {}
        hits = sorted((p for p in passages if p.score > 0), key=lambda p: -p.score)
        ranks = {p.chunk.id: rank for rank, p in enumerate(hits)}
        for passage in passages:
            by_trial.setdefault(passage.chunk.trial_id, []).append(passage.chunk)
        if intent.kind == "definition":
            statements = _definition(intent.term or question, [p.chunk for p in passages])
        elif intent.kind == "find_trials" or (intent.kind == "eligibility" and not intent.trial_ids):
            statements = _find(question, intent, by_trial, trials)
        elif intent.kind == "eligibility":
            statements = [
                s for tid in intent.trial_ids if tid in trials for s in _heading(trials[tid], by_trial.get(tid, []))
            ]
        else:
            statements = []
            aspects = intent.aspects or ["summary"]
            if intent.kind == "compare" and aspects == ["summary"]:
                aspects = [
                    "conditions",
                    "age",
                    "sex",
                    "key_criteria",
                    "phase",
                    "status",
                    "enrollment",
                    "dose",
                    "locations",
                ]
            focus = _focus_words(question, intent, trials)
            for tid in intent.trial_ids[:MAX_TRIALS] or list(by_trial)[:3]:
                trial = trials.get(tid)
                if trial is None:
                    continue
                statements += _trial_facts(trial, by_trial.get(tid, []), aspects, focus, question, ranks)
        return Draft(statements=statements, backend=self.name)


def _heading(trial: Trial, chunks: list[Chunk]) -> list[Statement]:
    """A bold trial label ("NCT03171194 — Pilot Trial of ..."), cited to the passage holding the title."""
    holder = _chunk_with(chunks, trial.title, ["status", "summary"])
    status = f" ({pretty(trial.status)})" if trial.status else ""
    return [
        Statement(
            text=f"{trial.trial_id} — {trial.title}{status}",
            kind="heading",
            style="heading",
            citations=[holder.id] if holder else [],
            trial_id=trial.trial_id,
        )
    ]


def _chunk_with(chunks: Iterable[Chunk], value: str, sections: list[str] | None = None) -> Chunk | None:
    """The first chunk whose text contains `value` (word-normalized), preferring the given sections."""
    needle = vocab.normalized(value)
    if needle.strip() == "":
        return None
    chunks = list(chunks)
    ordered = [c for c in chunks if sections and c.section in sections] + chunks
    for chunk in ordered:
        if needle in vocab.normalized(chunk.text):
            return chunk
    return None


def _line_with(chunk: Chunk, label: str) -> str | None:
    for line in chunk.text.splitlines():
        if line.lower().startswith(label.lower() + ":"):
            return line.strip()
    return None


def _field(trial_id: str, chunks: list[Chunk], label: str, value: str | None, sections: list[str]) -> list[Statement]:
    """A record value as "Label: value", cited to the chunk whose text holds it; nothing when absent."""
    if not value:
        return []
    holder = _chunk_with(chunks, value, sections)
    if holder is None:
        return []
    line = _line_with(holder, label)
    text = f"{label}: {pretty(value)}" if line is None else _pretty_line(line)
    return [Statement(text=text, citations=[holder.id], style="bullet", trial_id=trial_id)]


def _pretty_line(line: str) -> str:
    label, _, value = line.partition(":")
    return f"{label}: {pretty(value.strip())}"


def _section_lines(
    trial_id: str, chunks: list[Chunk], sections: list[str], limit: int = 8, keep=None
) -> list[Statement]:
    """Each chunk of the sections as one bullet (its lines joined), optionally only those `keep` accepts."""
    out: list[Statement] = []
    seen: set[str] = set()
    for chunk in chunks:
        if chunk.section not in sections:
            continue
        text = " — ".join(line.strip() for line in chunk.text.splitlines() if line.strip())
        if keep is not None and not keep(chunk):
            continue
        key = vocab.normalized(text)
        if key in seen:
            continue
        seen.add(key)
        out.append(Statement(text=text, citations=[chunk.id], style="bullet", trial_id=trial_id))
        if len(out) >= limit:
            break
    return out


_SECTION_ORDER = (
    "summary",
    "description",
    "conditions",
    "status",
    "design",
    "arms",
    "interventions",
    "outcomes",
    "eligibility.inclusion",
    "eligibility.exclusion",
    "eligibility",
    "eligibility.facts",
    "locations",
    "sponsor",
    "investigators",
    "references",
    "identifiers",
)
_SCHEDULE = re.compile(r"\b(single|once|twice|daily|weekly|monthly|month|week|day|visit|baseline)\b", re.IGNORECASE)


def reading_key(chunk: Chunk) -> tuple[int, int]:
    """Where a chunk sits in its document: section order, then its number within the section."""
    section = _SECTION_ORDER.index(chunk.section) if chunk.section in _SECTION_ORDER else len(_SECTION_ORDER)
    tail = chunk.id.rsplit(":", 1)[-1]
    return section, int(tail) if tail.isdigit() else 0


def _dose(trial: Trial, chunks: list[Chunk]) -> list[Statement]:
    """Sentences of the study-group and intervention passages that state an amount, route or schedule,
    in reading order."""
    out: list[Statement] = []
    seen: set[str] = set()
    several_groups = sum(c.section == "arms" for c in chunks) > 1
    for sections in (["arms", "interventions"], ["description", "summary"]):
        for chunk in sorted((c for c in chunks if c.section in sections), key=reading_key):
            label = chunk.text.splitlines()[0].strip()
            for sentence in sentences(chunk.text):
                if not _DOSE.search(sentence) or not (re.search(r"\d", sentence) or _SCHEDULE.search(sentence)):
                    continue
                key = vocab.normalized(sentence)
                if key in seen:
                    continue
                seen.add(key)
                # Name the study group a sentence belongs to when the group has its own label line.
                text = (
                    f"{label}: {sentence}"
                    if several_groups and chunk.section == "arms" and sentence != label
                    else sentence
                )
                out.append(Statement(text=text, citations=[chunk.id], style="bullet", trial_id=trial.trial_id))
        if out:
            break
    return out[:8]


_SOURCE = re.compile(
    r"\b(derived|obtained|collected|donors?|umbilical|cord|bone marrow|adipose|autologous|allogeneic|"
    r"dental pulp|tissue|placenta\w*)\b",
    re.IGNORECASE,
)


def _source(trial: Trial, chunks: list[Chunk]) -> list[Statement]:
    """Sentences saying where the studied cells or product come from, in reading order (at most 4)."""
    out: list[Statement] = []
    seen: set[str] = set()
    for chunk in sorted(
        (c for c in chunks if c.section in ("description", "summary", "arms", "interventions")), key=reading_key
    ):
        for sentence in sentences(chunk.text):
            key = vocab.normalized(sentence)
            if _SOURCE.search(sentence) and key not in seen:
                seen.add(key)
                out.append(Statement(text=sentence, citations=[chunk.id], style="bullet", trial_id=trial.trial_id))
    return out[:4]


def _criteria_sections(question: str) -> set[str]:
    """The criteria lists a question asks about: exclusions, inclusions or both."""
    low = question.lower()
    inc, exc = bool(re.search(r"\binclu", low)), bool(re.search(r"\bexclu", low))
    if exc and not inc:
        return {"eligibility.exclusion", "eligibility"}
    if inc and not exc:
        return {"eligibility.inclusion", "eligibility"}
    return {"eligibility.inclusion", "eligibility.exclusion", "eligibility"}


# Criteria per kind a comparison quotes: the first ones a trial lists, usually its defining ones.
KEY_CRITERIA = 2


def _key_criteria(trial: Trial, chunks: list[Chunk]) -> list[Statement]:
    """The first inclusion and exclusion criteria of a trial, for a side-by-side comparison."""
    out = []
    for kind, label in (("eligibility.inclusion", "Inclusion"), ("eligibility.exclusion", "Exclusion")):
        # In the document's order (`line`), not the retrieval's.
        listed = sorted((c for c in chunks if c.section == kind), key=lambda c: c.line or 0)[:KEY_CRITERIA]
        out += [
            Statement(
                text=f"{label}{f' ({c.cohort})' if c.cohort else ''}: {c.text}",
                citations=[c.id],
                style="bullet",
                trial_id=trial.trial_id,
            )
            for c in listed
        ]
    return out


def _criteria(trial: Trial, chunks: list[Chunk], question: str) -> list[Statement]:
    low = question.lower()
    kinds = []
    if re.search(r"\binclu", low):
        kinds.append("eligibility.inclusion")
    if re.search(r"\bexclu", low):
        kinds.append("eligibility.exclusion")
    kinds = kinds or ["eligibility.inclusion", "eligibility.exclusion"]
    cohorts = {c.cohort for c in chunks if c.cohort}
    asked = [
        name
        for name in cohorts
        if re.search(rf"\b{re.escape(name.lower())}\b", low)
        or any(name.lower() in group for group in vocab.mentioned_groups(question))
    ]
    out = []
    for kind in kinds:
        label = "Inclusion" if kind.endswith("inclusion") else "Exclusion"
        for chunk in chunks:
            if chunk.section != kind or (asked and chunk.cohort not in asked):
                continue
            cohort = f" ({chunk.cohort})" if chunk.cohort else ""
            out.append(
                Statement(
                    text=f"{label}{cohort}: {chunk.text}", citations=[chunk.id], style="bullet", trial_id=trial.trial_id
                )
            )
    if not out:
        out = _section_lines(trial.trial_id, chunks, ["eligibility"], limit=6)
    return out[:MAX_CRITERIA]


_IDENTIFIER_ASKS = {
    "Organization study ID": re.compile(
        r"\borg\w*|\bsponsor|\bprotocol|\binstitution|\blocal|\bstudy (id|number|code)"
    ),
    "Secondary ID": re.compile(r"\bsecondary"),
    "NCT alias": re.compile(r"\balias"),
}


def _identifiers(trial: Trial, chunks: list[Chunk], question: str) -> list[Statement]:
    """The trial's other identifiers, one per bullet; only the kind asked for ("org study id") when the
    question names one the record has, all of them otherwise."""
    lines = [
        (line.strip(), chunk)
        for chunk in chunks
        if chunk.section == "identifiers"
        for line in chunk.text.splitlines()
        if line.strip()
    ]
    low = question.lower()
    asked = [label for label, cue in _IDENTIFIER_ASKS.items() if cue.search(low)]
    picked = [(line, chunk) for line, chunk in lines if any(line.startswith(label + ":") for label in asked)]
    out: dict[str, Statement] = {}
    for line, chunk in picked or lines:
        out.setdefault(line, Statement(text=line, citations=[chunk.id], style="bullet", trial_id=trial.trial_id))
    return list(out.values())


def _contacts(trial: Trial, chunks: list[Chunk]) -> list[Statement]:
    """Trial records carry no phone numbers or e-mail addresses; say so, then name the people and sites
    the documents do list, which are whom a patient or coordinator would reach out to."""
    people = _section_lines(trial.trial_id, chunks, ["investigators"], limit=3)
    sites = _locations(trial, chunks)[:5]
    lead = (
        "The trial documents give no contact details (phone or e-mail); they name these investigators and sites:"
        if people or sites
        else NOT_FOUND
    )
    return [Statement(text=lead, kind="notice", style="bullet", trial_id=trial.trial_id), *people, *sites]


def _age(trial: Trial, chunks: list[Chunk]) -> list[Statement]:
    elig = trial.eligibility
    out = _field(trial.trial_id, chunks, "Minimum age", elig.minimum_age, ["eligibility.facts"])
    out += _field(trial.trial_id, chunks, "Maximum age", elig.maximum_age, ["eligibility.facts"])
    age_words = re.compile(r"\b(\d+\s*(years?|yrs?)\b|aged?\b|adults?\b)", re.IGNORECASE)
    for chunk in chunks:
        if chunk.section == "eligibility.inclusion" and age_words.search(chunk.text) and len(out) < 8:
            cohort = f" ({chunk.cohort})" if chunk.cohort else ""
            out.append(
                Statement(
                    text=f"Inclusion{cohort}: {chunk.text}",
                    citations=[chunk.id],
                    style="bullet",
                    trial_id=trial.trial_id,
                )
            )
    return out


def _locations(trial: Trial, chunks: list[Chunk]) -> list[Statement]:
    out: list[Statement] = []
    for chunk in chunks:
        if chunk.section != "locations":
            continue
        seen: set[str] = set()
        for line in chunk.text.splitlines():
            if line.strip() and line not in seen:
                seen.add(line)
                out.append(Statement(text=line.strip(), citations=[chunk.id], style="bullet", trial_id=trial.trial_id))
    return out[:15]


def _summary(trial: Trial, chunks: list[Chunk]) -> list[Statement]:
    """What the trial is about: its summary or description, else (a page without either) what its study
    groups receive, else its conditions."""
    for sections in (["summary"], ["description"]):
        picked = [c for c in chunks if c.section in sections][:2]
        if picked:
            return [Statement(text=c.text, citations=[c.id], trial_id=trial.trial_id) for c in picked]
    return (
        _section_lines(trial.trial_id, chunks, ["arms"], limit=4)
        or _section_lines(trial.trial_id, chunks, ["interventions"], limit=4)
        or _section_lines(trial.trial_id, chunks, ["conditions"], limit=1)
    )


def _aspect(aspect: str, trial: Trial, chunks: list[Chunk], question: str) -> list[Statement]:
    tid = trial.trial_id
    if aspect == "status":
        return _field(tid, chunks, "Status", trial.status, ["status"])
    if aspect == "phase":
        return _field(tid, chunks, "Phase", trial.phase, ["status", "design"])
    if aspect == "enrollment":
        return _field(
            tid, chunks, "Enrollment", str(trial.enrollment) if trial.enrollment is not None else None, ["status"]
        )
    if aspect == "dates":
        found = (
            _field(tid, chunks, "Start date", trial.start_date, ["status"])
            + _field(tid, chunks, "Completion date", trial.completion_date, ["status"])
            + _field(tid, chunks, "Last updated", trial.last_updated, ["status"])
        )
        if (
            found
            and not trial.completion_date
            and re.search(r"\b(end|finish|complet|how long|over\b)", question.lower())
        ):
            # Without this, "when does it finish?" would be answered with a start date alone.
            found.insert(
                0,
                Statement(
                    text="The trial documents give no completion date.", kind="notice", style="bullet", trial_id=tid
                ),
            )
        if not found:  # a record without dates still says whether it has ended: its status
            status = _field(tid, chunks, "Status", trial.status, ["status"])
            if status:
                notice = "The trial documents give no start or completion date; they give its status:"
                return [Statement(text=notice, kind="notice", style="bullet", trial_id=tid), *status]
        return found
    if aspect == "sponsor":
        return _section_lines(tid, chunks, ["sponsor"], limit=2)
    if aspect == "dose":
        # A page that states no amount still says what participants receive: its study groups.
        return (
            _dose(trial, chunks)
            or _section_lines(tid, chunks, ["arms"], limit=4)
            or _section_lines(tid, chunks, ["interventions"], limit=4)
        )
    if aspect == "contacts":
        return _contacts(trial, chunks)
    if aspect == "source":
        return _source(trial, chunks)
    if aspect == "arms":
        return _section_lines(tid, chunks, ["arms"]) or _section_lines(tid, chunks, ["interventions"])
    if aspect == "interventions":
        return _section_lines(tid, chunks, ["interventions"]) or _section_lines(tid, chunks, ["arms"])
    if aspect == "outcomes":
        wants = [k for k in ("primary", "secondary") if k in question.lower()]
        return _section_lines(
            tid,
            chunks,
            ["outcomes"],
            limit=10,
            keep=(lambda c: any(c.title.lower().startswith(k) for k in wants)) if wants else None,
        )
    if aspect == "locations":
        sites = _locations(trial, chunks)
        sponsor = [] if sites else _section_lines(tid, chunks, ["sponsor"], limit=2)
        if sponsor:  # no site listed: say so, and name who runs it, which is where a person would ask
            notice = f"{tid}'s documents list no study sites; they name its sponsor:"
            return [Statement(text=notice, kind="notice", style="bullet", trial_id=tid), *sponsor]
        return sites
    if aspect == "investigators":
        return _section_lines(tid, chunks, ["investigators"], limit=4)
    if aspect == "references":
        return _section_lines(tid, chunks, ["references"], limit=6)
    if aspect == "identifiers":
        return _identifiers(trial, chunks, question)
    if aspect == "design":
        return _section_lines(tid, chunks, ["design"], limit=1) + _field(
            tid, chunks, "Study type", trial.study_type, ["status"]
        )
    if aspect == "conditions":
        return _section_lines(tid, chunks, ["conditions"], limit=1)
    if aspect == "criteria":
        return _criteria(trial, chunks, question)
    if aspect == "key_criteria":
        return _key_criteria(trial, chunks)
    if aspect == "age":
        return _age(trial, chunks)
    if aspect == "sex":
        return _field(tid, chunks, "Sex", trial.eligibility.sex, ["eligibility.facts"])
    if aspect == "healthy_volunteers":
        value = trial.eligibility.healthy_volunteers
        return _field(
            tid,
            chunks,
            "Accepts healthy volunteers",
            None if value is None else ("Yes" if value else "No"),
            ["eligibility.facts"],
        )
    return _summary(trial, chunks)


def _focus_words(question: str, intent: Intent, trials: dict[str, Trial]) -> set[str]:
    """Matching keys (`vocab.concepts`) of the question's own words: what no aspect cue, framing word,
    trial reference or stopword explains."""
    low = question.lower()
    if intent.resolved_by == "description":
        low = DESCRIPTOR.sub(" ", low)  # "the scleroderma study" names a trial, not what is asked
    for cue in ASPECT_CUES.values():
        low = re.sub(cue, " ", low)
    low = re.sub(r"\b(nct\d{8}|kct\d{7})\b", " ", low)
    ignore = (
        set(vocab.STOPWORDS)
        | set(vocab.FRAME_WORDS)
        | {
            "mention",
            "mentions",
            "say",
            "says",
            "accept",
            "accepted",
            "need",
            "needs",
            "anything",
            "something",
            "tell",
            "cohort",
            "cohorts",
            "subpopulation",
            "long",
            "many",
            "much",
            "kind",
            "type",
            "types",
            "often",
            "still",
            "currently",
            "now",
            "yet",
            "already",
            "difference",
            "differences",
            "differ",
            "compare",
            "comparison",
            "versus",
            "vs",
            "between",
            "know",
            "like",
            "want",
            "find",
            "look",
            "looking",
        }
    )
    for tid in intent.trial_ids:
        trial = trials.get(tid)
        if trial is not None and intent.resolved_by == "description":
            ignore |= set(vocab.words(trial.sponsor or ""))
    kept = " ".join(w for w in vocab.words(low) if w not in ignore and len(w) > 1)
    return vocab.concepts(kept) if kept else set()


def _cohorts_asked(question: str, chunks: list[Chunk]) -> set[str]:
    """Cohorts of the trial that the question names ("the systemic sclerosis cohort" -> SSc)."""
    asked_groups = set(vocab.mentioned_groups(question))
    out = set()
    for cohort in {c.cohort for c in chunks if c.cohort}:
        names = set(vocab.mentioned_groups(cohort)) | set(vocab.mentioned_groups(cohort.replace("/", " / ")))
        if names & asked_groups or re.search(rf"\b{re.escape(cohort)}\b", question):
            out.add(cohort)
    return out


def _focus_passages(
    trial: Trial,
    chunks: list[Chunk],
    focus: set[str],
    already: set[str],
    question: str,
    ranks: dict[str, int],
    sections: set[str] | None = None,
) -> list[Statement]:
    """Passages of the trial that answer the question's own words, best first (at most 3).

    Each question key found in a passage scores its inverse document frequency within the trial, so a
    rare word ("mRSS", "secukinumab") outweighs one every criterion shares; a passage of a cohort the
    question names is kept (other cohorts' passages are not) and gets +1.5, and the retriever's top hits +1 / +0.5 as a tie-breaker. Passages scoring
    under 60% of the best are left out.
    """
    pool = [
        c
        for c in chunks
        if c.id not in already
        and c.section not in ("status", "conditions")
        and (sections is None or c.section in sections)
    ]
    if not pool or not focus:
        return []
    cohorts = _cohorts_asked(question, pool)
    if cohorts:
        # A question naming a cohort of a multi-cohort trial is about that cohort's criteria only.
        pool = [c for c in pool if c.cohort is None or c.cohort in cohorts]
    keys = {c.id: vocab.concepts(c.text) for c in pool}
    df = {k: sum(k in keys[c.id] for c in pool) for k in focus}
    # Words of the trial's own title mostly name the trial ("the systemic sclerosis trial"), not the question.
    title = vocab.concepts(trial.title)
    weight = {k: 0.3 if k in title else 1.0 for k in focus}
    if cohorts:
        # The words naming the cohort select it (bonus below); they are not what the question asks about.
        naming = {k for g in vocab.mentioned_groups(question) for name in g for k in vocab.concepts(name)}
        focus = (focus - naming) or focus
    scored = []
    for order, chunk in enumerate(pool):
        matched = focus & keys[chunk.id]
        if not matched:
            continue
        score = sum(weight[k] * math.log(1 + len(pool) / df[k]) for k in matched)
        if cohorts and chunk.cohort in cohorts:
            score += 1.5
        rank = ranks.get(chunk.id)
        if rank is not None:
            score += 1.0 if rank == 0 else 0.5 if rank < 3 else 0.0
        scored.append((score, -order, chunk))
    if not scored:
        return []
    scored.sort(key=lambda x: (x[0], x[1]), reverse=True)
    best = scored[0][0]
    out = []
    for score, _, chunk in scored[:3]:
        if score < 0.6 * best:
            break
        label = ""
        if chunk.section.startswith("eligibility."):
            cohort = f" ({chunk.cohort})" if chunk.cohort else ""
            label = ("Inclusion" if chunk.kind == "inclusion" else "Exclusion") + cohort + ": "
        text = " ".join(chunk.text.split()) if chunk.section != "locations" else chunk.text
        out.append(Statement(text=label + text, citations=[chunk.id], style="bullet", trial_id=trial.trial_id))
    return out


def _trial_facts(
    trial: Trial, chunks: list[Chunk], aspects: list[str], focus: set[str], question: str, ranks: dict[str, int]
) -> list[Statement]:
    out = _heading(trial, chunks)
    facts: list[Statement] = []
    for aspect in aspects:
        if aspect == "summary" and focus and len(aspects) == 1:
            continue
        if aspect == "criteria" and focus:
            # "What BMI excludes ...": the criteria about BMI, not the whole list.
            picked = _focus_passages(
                trial, chunks, focus, set(), question, ranks, sections=_criteria_sections(question)
            )
            if picked:
                facts += picked
                continue
        if aspect == "quality":
            facts += [
                Statement(
                    text=f"Data-quality note on the {trial.trial_id} record: {w.message}",
                    kind="notice",
                    style="bullet",
                    trial_id=trial.trial_id,
                )
                for w in trial.warnings
                if w.code != "empty_section"
            ]
            continue
        facts += _aspect(aspect, trial, chunks, question)
    own = focus - vocab.concepts(trial.title)
    if facts and own and "criteria" not in aspects:
        used = {cid for s in facts for cid in s.citations}
        facts += _focus_passages(trial, chunks, own, used, question, ranks)
    elif focus and not facts:
        facts += _focus_passages(trial, chunks, focus, set(), question, ranks)
    if not facts and "summary" in aspects:
        facts = _summary(trial, chunks)
    if not facts:
        facts = [Statement(text=NOT_FOUND, kind="notice", style="bullet", trial_id=trial.trial_id)]
    # Two aspects may quote the same line (a cohort's age criterion is also one of its first criteria).
    unique: dict[str, Statement] = {}
    for statement in facts:
        unique.setdefault(statement.text, statement)
    return out + list(unique.values())


def _find(question: str, intent: Intent, by_trial: dict[str, list[Chunk]], trials: dict[str, Trial]) -> list[Statement]:
    """One heading and the best matching passage per trial found, in retrieval order."""
    out: list[Statement] = []
    for tid, chunks in list(by_trial.items())[:MAX_TRIALS]:
        trial = trials.get(tid)
        if trial is None:
            continue
        out += _heading(trial, chunks)
        if intent.phases:  # "which trials are phase 2?": the phase is the answer, cited
            out += _field(tid, chunks, "Phase", trial.phase, ["status"])
        best = next((c for c in chunks if c.section not in ("status",)), None)
        if best is not None:
            lines = list(dict.fromkeys(line.strip() for line in best.text.splitlines() if line.strip()))
            out.append(
                Statement(text=" ".join("; ".join(lines).split()), citations=[best.id], style="bullet", trial_id=tid)
            )
        if intent.countries and (best is None or best.section != "locations"):
            out += [s for s in _locations(trial, chunks) if any(c in s.text.lower() for c in intent.countries)][:2]
    if not out:
        out = [Statement(text="I don't have trials matching that in the trial documents.", kind="notice")]
    return out


def _expansion(term: str, text: str) -> str | None:
    """The long form written next to an abbreviation, e.g. 'Mesenchymal Stem Cells (MSCs)'."""
    m = re.search(rf"([A-Za-z][\w\-/ ]{{3,80}}?)\s*\(\s*{re.escape(term)}s?\s*[);,]", text, re.IGNORECASE)
    if not m:
        return None
    letters = term.lower().rstrip("s")
    candidate = m.group(1).split()
    # Take as many trailing words as the abbreviation has letters (Schwartz-Hearst, simplified).
    take = candidate[-max(len(letters), 1) :]
    while take and take[0][0].lower() != letters[0]:
        take = take[1:]
    return " ".join(take) if take else None


def _definition(term: str, chunks: list[Chunk]) -> list[Statement]:
    """What the indexed passages say about a term: its written-out form and the sentences using it."""
    pattern = re.compile(rf"(?<![\w]){re.escape(term)}s?(?![\w])", re.IGNORECASE)
    out: list[Statement] = []
    seen: set[str] = set()
    for chunk in chunks:
        if not pattern.search(chunk.text):
            continue
        long_form = _expansion(term, chunk.text)
        if long_form and not any(s.text.startswith("In the trial documents") for s in out):
            out.insert(
                0,
                Statement(
                    text=f"In the trial documents, {term} stands for {long_form}.",
                    citations=[chunk.id],
                    trial_id=chunk.trial_id,
                ),
            )
        for sentence in sentences(chunk.text):
            key = vocab.normalized(sentence)
            if pattern.search(sentence) and key not in seen and len(out) < 5:
                seen.add(key)
                out.append(
                    Statement(
                        text=f'{chunk.trial_id} uses it: "{sentence}"',
                        citations=[chunk.id],
                        style="bullet",
                        trial_id=chunk.trial_id,
                    )
                )
    if not out:
        return [Statement(text=f"I don't have a definition of {term} in the trial documents.", kind="notice")]
    if not out[0].text.startswith("In the trial documents"):
        out.insert(
            0,
            Statement(text=f"The trial documents do not define {term}; they use it in these passages:", kind="notice"),
        )
    return out
