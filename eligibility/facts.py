"""Patient text -> typed facts, deterministically.

`extract_facts` reads a patient's own words or a clinician's note ("58 yo F with h/o SLE, denies HIV,
Hb 9.1, on prednisone 10 mg daily, rituximab 2 months ago") into `PatientFacts`. Every fact keeps the
span it came from. Relative times are resolved against an injectable `today` so results repeat.
The text is data only: nothing in it changes how rules are applied.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from eligibility import concepts, dates, lexicon
from eligibility import context as ctx_rules
from eligibility.context.subject import RELATIVES, proxy_relative

MAX_TEXT = 50_000  # longer input is cut: a patient description or clinical note is far shorter
MAX_MENTIONS = 25  # mentions of one name read in context; more repeat the same fact and cost time


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Diagnosis(_Frozen):
    """A condition, infection, cancer, allergy or procedure mentioned about (or around) the patient."""

    name: str = Field(description="Canonical lexicon name, e.g. sle, hiv, malignancy, renal_transplant")
    category: str
    label: str
    negated: bool = False
    family: bool = False
    historical: bool = False
    hypothetical: bool = False
    qualifiers: list[str] = Field(
        default_factory=list,
        description="Qualifiers stated next to the mention, e.g. uncontrolled, severe, active (see stated_qualifiers)",
    )
    onset: date | None = Field(default=None, description="When it started or was diagnosed")
    when: date | None = Field(default=None, description="When it happened (procedures, past episodes)")
    span: str
    start: int | None = Field(default=None, description="Offset of span in the patient text it came from")
    end: int | None = Field(default=None, description="End offset of span in that text")


class Measurement(_Frozen):
    """A lab value, vital sign or disease score."""

    name: str
    value: float | None = None
    unit: str | None = None
    normalized: float | None = Field(default=None, description="Value in the canonical unit (eligibility/concepts)")
    uln_multiple: float | None = Field(default=None, description="For AST/ALT given as times the ULN")
    positive: bool | None = Field(default=None, description="For qualitative tests (RF, anti-CCP, dsDNA)")
    span: str
    start: int | None = Field(default=None, description="Offset of span in the patient text it came from")
    end: int | None = Field(default=None, description="End offset of span in that text")


class Medication(_Frozen):
    name: str
    classes: list[str] = Field(default_factory=list)
    negated: bool = Field(default=False, description="Never taken / not on it")
    current: bool | None = None
    dose: float | None = None
    unit: str | None = None
    per_kg: bool = False
    frequency_per_day: float | None = None
    last_taken: date | None = None
    started: date | None = None
    duration_days: float | None = None
    span: str
    start: int | None = Field(default=None, description="Offset of span in the patient text it came from")
    end: int | None = Field(default=None, description="End offset of span in that text")


class PatientFacts(_Frozen):
    """Everything the checker knows about one patient. Unknown stays None, never guessed."""

    today: date
    age: float | None = None
    sex: Literal["female", "male"] | None = None
    weight_kg: float | None = None
    pregnant: bool | None = None
    breastfeeding: bool | None = None
    diagnoses: list[Diagnosis] = Field(default_factory=list)
    labs: list[Measurement] = Field(default_factory=list)
    scores: list[Measurement] = Field(default_factory=list)
    medications: list[Medication] = Field(default_factory=list)
    medications_complete: bool = Field(default=False, description="The patient said they take nothing else")
    history_complete: bool = Field(
        default=False,
        description="The patient said there is no other history "
        "(informational: the checker never infers an absence from it)",
    )
    spans: dict[str, str] = Field(default_factory=dict, description="Span of each scalar fact")

    @property
    def infections(self) -> list[Diagnosis]:
        return [d for d in self.diagnoses if d.category == "infection"]

    @property
    def cancers(self) -> list[Diagnosis]:
        return [d for d in self.diagnoses if d.category == "cancer"]

    @property
    def procedures(self) -> list[Diagnosis]:
        return [d for d in self.diagnoses if d.category == "procedure"]

    def asserts_anything(self) -> bool:
        """Whether anything is said about the patient beyond mentions read as hypothetical (a question's
        topic: "is there a stem-cell study for lupus?" asserts no stem-cell treatment and no lupus)."""
        asserted = self.model_copy(update={"diagnoses": [d for d in self.diagnoses if not d.hypothetical]})
        return asserted.states_anything()

    def states_anything(self) -> bool:
        """Whether anything is known about the patient (the date the facts were read on is not a fact)."""
        return any(
            getattr(self, name) not in (None, [], False)
            for name in (
                "age",
                "sex",
                "weight_kg",
                "pregnant",
                "breastfeeding",
                "diagnoses",
                "labs",
                "scores",
                "medications",
                "medications_complete",
                "history_complete",
            )
        )

    def merge(self, later: PatientFacts) -> PatientFacts:
        """These facts updated by a later statement: later scalars and same-named items win."""
        data = self.model_dump()
        new = later.model_dump()
        for key in ("age", "sex", "weight_kg", "pregnant", "breastfeeding"):
            if new[key] is not None:
                data[key] = new[key]
        # A later question's topic ("what about the other lupus trial?": hypothetical) tells nothing new of a
        # diagnosis already stated ("mum has lupus").
        known = {item["name"] for item in data["diagnoses"]}
        new["diagnoses"] = [d for d in new["diagnoses"] if not (d["hypothetical"] and d["name"] in known)]
        for key in ("diagnoses", "labs", "scores", "medications"):
            replaced = {item["name"] for item in new[key]}
            data[key] = [item for item in data[key] if item["name"] not in replaced] + new[key]
        data["medications_complete"] = data["medications_complete"] or new["medications_complete"]
        data["history_complete"] = data["history_complete"] or new["history_complete"]
        data["spans"] = {**data["spans"], **new["spans"]}
        data["today"] = max(self.today, later.today)
        return PatientFacts.model_validate(data)

    def to_json(self) -> dict[str, Any]:
        """The facts as plain JSON (what `check --json` prints under "facts")."""
        return self.model_dump(mode="json", exclude_defaults=False)


# ---------------------------------------------------------------------------------------------
# extraction helpers

_RELATIVE_WORDS = "|".join(RELATIVES)
_AGE_PATTERNS = (
    re.compile(r"(?i)\b(?P<age>\d{1,3})[- ]?(?:years?|yrs?)[- ]?old\b"),
    re.compile(r"(?i)\b(?P<age>\d{1,3})[- ]?(?:yo|y/o|y\.o\.|yr old|yrs old)\b"),
    re.compile(r"\b(?P<age>\d{1,3}) ?(?:F|M)\b(?![a-z/])"),
    # "aged 45"; "ages 18 to 65" is a range someone asks about, not an age.
    re.compile(r"(?i)\bage[ds]?\s*(?:is|of|:|=)?\s*(?P<age>\d{1,3})\b(?!\s*(?:kg|lbs|weeks|months|%|(?:-|–|to)\s*\d))"),
    # "my son is 16", "my mum's 58", "she has lupus and is 58", "dad just turned 70": a relative's age counts
    # only when the message asks for them (context.subject; `rel`, a subject too far from the number for the
    # family cue's scope, must be that relative). "and is" needs a person before it: "her eGFR dropped and
    # is 45 now" is a lab.
    re.compile(
        r"(?i)\b(?:i'?m|i am|patient is|(?:he|she)(?: is|'s)|(?:my|our) (?:" + _RELATIVE_WORDS + r")(?: is|'s)|"
        r"(?:i|she|he|(?:my|our) (?P<rel>" + _RELATIVE_WORDS + r"))\s+(?:has|have|had|was diagnosed with|lives with)"
        r"\s+[^.;,?!]{1,60}?\s+and\s+(?:is|am)|(?:just\s+)?turned)"
        r"\s+(?:now\s+|actually\s+)?"
        r"(?P<age>\d{1,3})\b"
        r"(?![.,]\d|\s*(?:kg|lbs|pounds|weeks?|months?|days?|%|mg|cm|/))"
    ),
)
# "my husband, 52, has AS", "my son (12) has JIA": the age set beside the relative the message asks for.
_RELATIVE_AGE = re.compile(
    r"(?i)\b(?:my|our) (" + _RELATIVE_WORDS + r")(?:\s*,\s*|\s*\(\s*|\s+)(\d{1,3})\b"
    r"(?=\s*[,)]|\s+(?:has|had|was|is|with|and|who|just)\b)"
)
_FEMALE = re.compile(r"(?i)\b(?:woman|female|girl|lady|mrs|ms)\b|\b\d{1,3} ?(?:yo |y/o |year[- ]old )?F\b")
_MALE = re.compile(r"(?i)\b(?:man|male|boy|gentleman|mr)\b|\b\d{1,3} ?(?:yo |y/o |year[- ]old )?M\b")
_FEMALE_WEAK = re.compile(r"(?i)\b(?:she|her)\b")
_MALE_WEAK = re.compile(r"(?i)\b(?:he|his|him)\b")
_WEIGHT = re.compile(r"(?i)(?<![/\w])(\d{2,3}(?:\.\d+)?)\s*(kg|kilograms?|lbs?|pounds)\b(?!\s*/)")
_PREGNANT = re.compile(r"(?i)\bpregnan(?:t|cy)\b")
_NOT_PREGNANT = re.compile(
    r"(?i)\b(?:post-?menopausal|negative pregnancy test|pregnancy test (?:was |is )?negative|"
    r"non-?pregnant)\b"
)
_BREASTFEEDING = re.compile(r"(?i)\b(?:breast[- ]?feeding|nursing|lactating|breastfed)\b")
_MEDS_COMPLETE = re.compile(
    r"(?i)\b(?:no other (?:medications?|meds|drugs|treatments?)|(?:takes|taking|on) no "
    r"(?:other )?(?:medications?|meds)|not (?:on|taking) any (?:other )?(?:medications?|meds)|"
    r"takes nothing else)\b"
)
_HISTORY_COMPLETE = re.compile(
    r"(?i)\b(?:no other (?:medical )?(?:history|problems|conditions|diseases|illness)|"
    r"otherwise healthy|no (?:significant |other )?past medical history|"
    r"no (?:other )?medical problems|pmh(?:x)? (?:is )?(?:none|negative))\b"
)

_DOSE = re.compile(
    r"(?i)\b(\d+(?:\.\d+)?)\s*(mg|g|mcg|µg|ug)(\s*/\s*kg)?\s*(?:/\s*(?:day|d)\b|daily|a day|per day|"
    r"qd|once daily|every day|(/\s*w(?:ee)?k|weekly|per week|a week|every week)|(bid|twice daily|"
    r"twice a day)|(tid|three times daily))?"
)
_CURRENT_CUE = re.compile(
    r"(?i)\b(?:on|taking|takes|currently|current|still|receives|maintained on|continues?|"
    r"started|daily|weekly|uses|using)\b"
)
_PAST_CUE = re.compile(
    r"(?i)\b(?:received|took|had|was on|were on|previously|prior|previous|history of|h/o|"
    r"stopped|discontinued|last|ago|used to|failed|completed|finished|treated with)\b"
)
_STOPPED = re.compile(r"(?i)\b(?:stopped|discontinued|quit|off)\b")


# ---------------------------------------------------------------------------------------------
# labs and scores

_BP = re.compile(r"(?i)\b(?:bp|blood pressure)\s*(?:of|:|was|is)?\s*(\d{2,3})\s*/\s*(\d{2,3})")


@cache
def _qualitative_tests() -> tuple[tuple[str, str], ...]:
    """(fact name, patient words) of every test a patient states as positive or negative (the registry's
    serology, and labs also stated that way: "ANA positive")."""
    tests = [(t.id, t.patient_names) for t in concepts.SEROLOGY.values()]
    return tuple(tests + [(c.id, "|".join(c.patient)) for c in concepts.MEASUREMENTS.values() if c.qualitative])


_POSITIVE = frozenset({"positive", "pos", "+", "reactive", "seropositive"})


@cache
def _test_patterns() -> tuple[tuple[tuple[str, re.Pattern[str]], ...], tuple[re.Pattern[str], ...]]:
    """One pattern per test ("RF negative", "positive for anti-CCP"), and the list forms that state
    several at once ("positive ANA and anti-dsDNA", "RF and anti-CCP both negative")."""
    single = tuple(
        (
            name,
            re.compile(
                rf"(?i)\b(?:{pat})\b(?:\s*(?:antibod(?:y|ies)|test|titer))?\s*(?:was|is|:)?\s*"
                rf"(?P<w1>positive|negative|pos|neg|\+|-|reactive|non-?reactive)"
                rf"|\b(?P<w2>positive|negative|seropositive|seronegative)\s+(?:for\s+)?(?:{pat})\b"
            ),
        )
        for name, pat in _qualitative_tests()
    )
    names = "|".join(f"(?:{pat})" for _, pat in _qualitative_tests())
    listed = rf"(?P<list>(?:{names})(?:\s*(?:,|and|&|/)\s*(?:{names}))+)"
    lists = (
        re.compile(rf"(?i)\b(?P<w2>positive|negative|seropositive|seronegative)\s+(?:for\s+)?{listed}\b"),
        re.compile(
            rf"(?i)\b{listed}(?:\s*(?:antibod(?:y|ies)|tests?))?\s*(?:were|are|:)?\s*(?:all|both)?\s*"
            rf"(?P<w1>positive|negative|reactive|non-?reactive)\b"
        ),
    )
    return single, lists


def _test_results(text: str) -> list[tuple[str, bool, int, int]]:
    """(test, positive, start, end) of every qualitative test stated, in the order stated."""
    single, lists = _test_patterns()
    out = []
    for name, pattern in single:
        for m in pattern.finditer(text):
            out.append((name, (m.group("w1") or m.group("w2")).lower() in _POSITIVE, m.start(), m.end()))
    for pattern in lists:
        for m in pattern.finditer(text):
            word = m.groupdict().get("w1") or m.groupdict().get("w2") or ""
            for name, pat in _qualitative_tests():
                if re.search(rf"(?i)\b(?:{pat})\b", m.group("list")):
                    out.append((name, word.lower() in _POSITIVE, m.start(), m.end()))
    return sorted(out, key=lambda r: r[2])


def _labs(text: str, read: list[Measurement]) -> list[Measurement]:
    """The registry's measurements (`read`, eligibility/measurements.py) with what only this module
    reads: both pressures of "BP 150/95", and qualitative tests ("RF positive", "ANA negative")."""
    found = {m.name: m for m in read}
    for m in _BP.finditer(text):
        # "BP 150/95": one span states both pressures.
        for name, group in (("sbp", 1), ("dbp", 2)):
            value = float(m.group(group))
            found[name] = Measurement(
                name=name, value=value, unit="mmHg", normalized=value, span=m.group(0), start=m.start(), end=m.end()
            )
    for name, positive, start, end in _test_results(text):
        prev = found.get(name)
        titre = prev.value if prev and name == "ana" else None  # "ANA 1:320, positive": the titre stays
        found[name] = Measurement(
            name=name, value=titre, positive=positive, normalized=titre, span=text[start:end], start=start, end=end
        )
    ana = found.get("ana")
    if ana is not None and ana.value is not None and ana.positive is None:
        found["ana"] = ana.model_copy(update={"positive": ana.value >= 40})
    return list(found.values())


# ---------------------------------------------------------------------------------------------
# diagnoses and medications


def _diagnoses(text: str, today: date, patient: str | None) -> list[Diagnosis]:
    found: dict[str, Diagnosis] = {}
    seen: dict[str, int] = {}
    for start, end, term in lexicon.find_terms(text, patient=True):
        seen[term.name] = seen.get(term.name, 0) + 1
        if seen[term.name] > MAX_MENTIONS:
            continue
        if term.category == "symptom" and dates.duration_days(text[end : end + 40], today) is None:
            continue
        ctx = ctx_rules.context(text, start, end, patient)
        left, right = ctx_rules.clause_bounds(text, start, end)
        clause = text[left:right]
        after = text[end:right]
        when = dates.date_in(after, today) or dates.date_in(text[left:start], today)
        duration = dates.duration_days(after, today) or dates.duration_days(text[left:start], today)
        onset = None
        if duration is not None:
            onset = today - timedelta(days=duration)
        elif when is not None:
            onset = when
        else:
            onset = dates.since_year(clause, today) or _since(text, right, today)
        historical = ctx.historical
        if (
            term.category in ("cancer", "infection", "procedure")
            and when is not None
            and (today - when).days > 0
            and not re.search(r"(?i)\b(?:active|current|ongoing|now)\b", clause)
        ):
            historical = True
        qualifiers = stated_qualifiers(text, start, end)
        diag = Diagnosis(
            name=term.name,
            category=term.category,
            label=term.label,
            negated=ctx.negated,
            family=ctx.family,
            historical=historical,
            hypothetical=ctx.hypothetical,
            qualifiers=qualifiers,
            onset=onset,
            when=when,
            span=text[start:end],
            start=start,
            end=end,
        )
        prev = found.get(term.name)
        if prev is not None and _weight(prev) == _weight(diag) == 2 and prev.qualifiers:
            # "uncontrolled HIV … on treatment for HIV": the qualifier said once still describes it.
            diag = diag.model_copy(update={"qualifiers": list(dict.fromkeys(prev.qualifiers + diag.qualifiers))})
        # An affirmed mention of the patient outweighs a negated or family one elsewhere in the text.
        if prev is None or (_weight(diag) >= _weight(prev)):
            found[term.name] = diag
    return list(found.values())


QUALIFIER_WORDS = (
    "active",
    "refractory",
    "severe",
    "mild",
    "moderate",
    "remission",
    "treated",
    "excised",
    "resected",
    "latent",
    "chronic",
    "recurrent",
    "uncontrolled",
    "controlled",
    "significant",
    "life-threatening",
    "persistent",
)
_QUALIFIER = "|".join(QUALIFIER_WORDS)
# The qualifier right before the mention, at most two words away, not across "and"/"or"/"with" or a
# comma ("severe pain and HIV" says nothing about the HIV); a negated qualifier ("not severe") is kept
# apart so it can be dropped.
_QUALIFIER_BEFORE = re.compile(
    rf"(?i)(?P<neg>\b(?:not|non|no|never|no longer)[\s-]+)?(?P<adv>\b(?:poorly|well|clinically)\s+)?"
    rf"\b(?P<q>{_QUALIFIER})\s+(?:(?!(?:and|or|with|but|nor)\b)[A-Za-z][\w\-]*\s+){{0,2}}$"
)
# The qualifier right after it: "HIV, uncontrolled", "ILD (severe)", "HIV which is poorly controlled".
_QUALIFIER_AFTER = re.compile(
    rf"(?i)^(?:\s*,\s*|\s*\(\s*|\s+(?:(?:which|that)\s+)?(?:is|was|remains|has been)\s+)"
    rf"(?:(?:currently|still|now|very)\s+)?(?P<adv>(?:poorly|well|clinically)\s+)?(?P<q>{_QUALIFIER})\b"
    rf"(?=\s*(?:[,.;:)]|$|\b(?:and|but|with|on|since|for|despite|in)\b))"
)  # "TB, severe ILD": not TB's


def stated_qualifiers(text: str, start: int, end: int) -> list[str]:
    """Qualifiers the text attaches to the mention text[start:end] ("uncontrolled HIV", "ILD, severe").

    Only words next to the mention count, negated ones never ("HIV, not uncontrolled"); "poorly
    controlled" is "uncontrolled" and "clinically significant" is "significant".
    """
    out = []
    before = _QUALIFIER_BEFORE.search(text[max(0, start - 60) : start])
    if before and not before.group("neg"):
        out.append(_canonical_qualifier(before.group("adv"), before.group("q")))
    after = _QUALIFIER_AFTER.match(text[end : end + 60])
    if after:
        out.append(_canonical_qualifier(after.group("adv"), after.group("q")))
    return list(dict.fromkeys(out))


def _canonical_qualifier(adverb: str | None, word: str) -> str:
    word = word.lower()
    if word == "controlled" and (adverb or "").strip().lower() == "poorly":
        return "uncontrolled"
    return word


def _weight(d: Diagnosis) -> int:
    return 2 if not (d.negated or d.family or d.hypothetical) else 1


# How far after a drug its date may start and still be quoted with it ("rituximab, last dose in 11/2025").
_DATE_REACH = 30
_SINCE = re.compile(r"(?i)\s*,?\s*since\s+")


def _since(text: str, right: int, today: date) -> date | None:
    """When "since ..." right after a clause says it began: "on prednisone since January 2023", "lupus
    nephritis since 2021", "since 3 months". ConText ends a clause at "since" (a termination cue, so it
    scopes no negation beyond it), but what follows is still the start of the drug or the condition."""
    m = _SINCE.match(text, right)
    if m is None:
        return None
    words = text[m.start() : m.end() + 25]
    found = dates.find_date(words, today)
    if found is not None and found[1] <= m.end() - m.start():
        return found[0] if found[0] <= today else None
    duration = dates.duration_days(words, today)
    if duration is not None:
        return today - timedelta(days=duration)
    return dates.since_year(words, today)


def _medications(text: str, today: date, patient: str | None) -> list[Medication]:
    found: dict[str, Medication] = {}
    seen: dict[str, int] = {}
    for start, end, name, _is_class in lexicon.find_drugs(text):
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > MAX_MENTIONS:
            continue
        ctx = ctx_rules.context(text, start, end, patient)
        if ctx.family or ctx.hypothetical:
            continue
        left, right = ctx_rules.clause_bounds(text, start, end)
        before, after = text[left:start], text[end:right]
        near_after = after[:60]
        dose = unit = freq = None
        per_kg = False
        m = _DOSE.match(near_after.lstrip(" :-(")) or _DOSE.search(near_after[:25])
        if m:
            dose = float(m.group(1))
            unit = m.group(2).lower()
            per_kg = bool(m.group(3))
            freq = 1 / 7 if m.group(4) else 2.0 if m.group(5) else 3.0 if m.group(6) else 1.0
        dated_after = dates.find_date(after, today)
        last = dated_after[0] if dated_after else dates.date_in(before, today)
        duration = dates.duration_days(after, today) or dates.duration_days(before, today)
        stopped = bool(_STOPPED.search(before + after[:40]))
        past = bool(_PAST_CUE.search(before[-40:] + " " + after[:40]))
        current_cue = bool(_CURRENT_CUE.search(before[-30:])) or dose is not None
        current: bool | None
        if ctx.negated or stopped or (last is not None and not _CURRENT_CUE.search(before[-30:])):
            current = False
        elif current_cue and not (past and last is not None):
            current = True
        elif past:
            current = False
        else:
            current = None
        started = None
        since = _since(text, right, today)
        if since is not None and not (ctx.negated or stopped):
            started, current = since, True
        elif re.search(r"(?i)\bstart(?:ed|ing)\b", before[-40:] + after[:30]) and last is not None:
            started, last = last, None
            current = True if not stopped else current
        elif current and duration is not None:
            started = today - timedelta(days=duration)
        if current and last is None:
            last = today
        classes = sorted(lexicon.drug_classes(name))
        span_end = end if not m else end + near_after.find(m.group(0)) + len(m.group(0))
        if dated_after and dated_after[1] <= _DATE_REACH:
            # "rituximab in 11/2025": the date is part of what the patient said about the drug.
            span_end = max(span_end, end + dated_after[2])
        med = Medication(
            name=name,
            classes=classes,
            negated=ctx.negated,
            current=current,
            dose=dose,
            unit=unit,
            per_kg=per_kg,
            frequency_per_day=freq,
            last_taken=last,
            started=started,
            duration_days=duration,
            span=text[start:span_end],
            start=start,
            end=span_end,
        )
        prev = found.get(name)
        if prev is None or (prev.negated and not med.negated) or (not med.negated and med.dose is not None):
            found[name] = med
    return list(found.values())


# ---------------------------------------------------------------------------------------------


def extract_facts(text: str, today: date | None = None, patient: str | None = None) -> PatientFacts:
    """Typed facts about one patient from free text (patient's words or a clinician's note).

    `today` resolves relative times ("2 months ago"); default: the real date. `patient` names the relative
    known from the conversation to be the patient ("daughter"), so "my daughter is 19" is about the patient
    even when this text does not ask for her. Never raises on any string: unrecognised text yields no facts.
    """
    from eligibility import measurements  # imported here: it builds on this module's Measurement

    today = today or date.today()
    text = (text or "")[:MAX_TEXT]
    spans: dict[str, str] = {}
    # The relative the message (or the conversation) makes the patient, if any: "my son" then names them.
    relative = patient or proxy_relative(text)
    age = None
    for pattern in _AGE_PATTERNS:
        matches = list(pattern.finditer(text))
        for m in matches:
            value = float(m.group("age"))
            subject = m.groupdict().get("rel")
            if subject is not None:
                about_patient = subject.lower() == relative
            else:
                about_patient = not ctx_rules.context(text, m.start("age"), m.end("age"), patient).family
            if 0 < value < 120 and about_patient:
                age, spans["age"] = value, m.group(0)
        if age is not None:
            break
    sex = None
    for female, male in ((_FEMALE, _MALE), (_FEMALE_WEAK, _MALE_WEAK)):
        f = [m for m in female.finditer(text) if not ctx_rules.context(text, m.start(), m.end(), patient).family]
        mm = [m for m in male.finditer(text) if not ctx_rules.context(text, m.start(), m.end(), patient).family]
        if f or mm:
            first_f = f[-1].start() if f else -1
            first_m = mm[-1].start() if mm else -1
            # The latest statement wins ("actually I'm a man" after "woman").
            sex = "female" if first_f > first_m else "male"
            spans["sex"] = (f[-1] if first_f > first_m else mm[-1]).group(0)
            break
    # A relative the message asks for is the patient ("my wife, 45, has lupus: could she join?"): their
    # word gives the sex and the number beside it the age. A relative not asked for is family history.
    if relative is not None:
        pronoun = RELATIVES[relative]
        if sex is None and pronoun in ("she", "he"):
            sex = "female" if pronoun == "she" else "male"
            spans["sex"] = f"my {relative}"
        beside = [m for m in _RELATIVE_AGE.finditer(text) if m.group(1).lower() == relative]
        if age is None and beside and 0 < float(beside[-1].group(2)) < 120:
            age, spans["age"] = float(beside[-1].group(2)), beside[-1].group(0)
    weight = None
    for m in _WEIGHT.finditer(text):
        value = float(m.group(1))
        weight = value * 0.4536 if m.group(2).lower().startswith(("lb", "pound")) else value
        spans["weight_kg"] = m.group(0)
    pregnant = _flag(text, _PREGNANT, spans, "pregnant", patient)
    denied = _NOT_PREGNANT.search(text)
    if denied:
        pregnant, spans["pregnant"] = False, denied.group(0)
    if sex == "male":
        pregnant = False
    breastfeeding = _flag(text, _BREASTFEEDING, spans, "breastfeeding", patient)
    if sex == "male":
        breastfeeding = False
    labs, scores = measurements.read(text)
    diagnoses = [
        d
        for d in _diagnoses(text, today, patient)
        if d.name not in ("malignancy",) or not re.search(r"(?i)breast[- ]?feeding", d.span)
    ]
    return PatientFacts(
        today=today,
        age=age,
        sex=sex,
        weight_kg=weight,
        pregnant=pregnant,
        breastfeeding=breastfeeding,
        diagnoses=diagnoses,
        labs=_labs(text, labs),
        scores=scores,
        medications=_medications(text, today, patient),
        medications_complete=bool(_MEDS_COMPLETE.search(text)),
        history_complete=bool(_HISTORY_COMPLETE.search(text)),
        spans=spans,
    )


def _flag(text: str, pattern: re.Pattern[str], spans: dict[str, str], key: str, patient: str | None) -> bool | None:
    value = None
    for m in pattern.finditer(text):
        ctx = ctx_rules.context(text, m.start(), m.end(), patient)
        if ctx.family or ctx.hypothetical:
            continue
        value = not ctx.negated
        spans[key] = text[max(0, m.start() - 12) : m.end()].strip()
    return value
