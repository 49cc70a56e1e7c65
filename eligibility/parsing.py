"""Criterion text -> `Rule`, deterministically (no LLM).

Recognisers find *atoms* in the text (age, lab thresholds, scores, serology, doses, durations,
exposures with time windows, conditions and diagnoses); connectors between atoms ("or", "and/or",
"with", parentheses) build the logical structure; wording that adds a judgement ("severe", "unless
related to the disease") wraps the result so that a clinician reviews it. Criteria about consent or
willingness become `AssumedConsent`; anything else the parser cannot decide becomes `NeedsReview`,
never dropped.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass

from eligibility import concepts, lexicon, prefilter, quantities, units
from eligibility.facts import QUALIFIER_WORDS
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
from ingest.models import Criterion

MAX_CRITERION = 5_000

# --- whole-criterion cues -------------------------------------------------------------------

CONSENT_START = re.compile(
    r"(?i)^\W*(?:parents? )?(?:willing|able and willing|able to|unwilling|inability|"
    r"competent|capable|ability to|agree|signed|written informed consent|informed consent)"
)
CONSENT_ANY = re.compile(
    r"(?i)\b(?:consent|willing|willingness|comply|compliance|questionnaires?|contracepti\w+|"
    r"adhere)\b"
)
REVIEW = re.compile(
    r"(?i)\b(?:opinion|ineligib\w*|investigators?'?s?\b|judge?ment|physician'?s|as defined by (?:the )?protocol|"
    r"inappropriate|contraindicat\w*|donor|subpopulation|poor compliance|anticipated|"
    r"interfere|unsuitable|discretion|refractory|inadequate response|intoleran\w+)"
)
EXCEPTION_QUALIFIER = re.compile(
    r"(?i)\b(?:unless|without treatment|untreated|not explained by|due to other|"
    r"attributed to|caused by|related to activity|in conjunction with)\b"
)
# A restrictive clause after a noun qualifies that noun only ("infection requiring hospitalization").
POST_QUALIFIER = re.compile(
    r"(?i)\b(?:that (?:might|may|would|compromises)|which (?:might|may|would)|"
    r"requiring (?:hospitali[sz]ation|more)|that is expected)\b"
)
SOFT_QUALIFIER = re.compile(
    r"(?i)\b(?:severe|significant|clinically significant|uncontrolled|moderate|mild|"
    r"musculoskeletal|recurrent|chronic or persistent|life-threatening|abnormal)\b"
)
EXCLUDED_STATEMENT = re.compile(r"(?i)\b(?:will be|are|is|shall be) excluded\b|\bexcluded from (?:the|this) study")
HALF_LIFE = re.compile(r"(?i)half-?lives|whichever is (?:greater|longer)")
# A legacy field that states no requirement ("Biologic therapy: Not specified").
NO_REQUIREMENT = re.compile(
    r"(?i)^\W*(?:not specified|not applicable|see (?:disease|patient|general) "
    r"(?:characteristics|eligibility(?: criteria)?))\W*$"
)
# A criterion about someone other than the patient (a control group, a donor, a caregiver) is never
# applied to the patient: it goes to review, naming who it is about.
OTHER_PERSON = re.compile(
    r"(?i)^\W*(?:(?!(?:of|with|without|history|no|not|any)\b)[A-Za-z-]+\s+){0,2}(?P<who>controls?\b|control (?:group|subjects?|"
    r"participants?|arm|individuals?)|donors?\b|caregivers?\b|care-givers?\b|parents?\b(?! or (?:patients?|subjects?))|"
    r"legal guardians?|guardians?\b|partners?\b|spouses?\b|family members?|siblings?\b|relatives?\b)"
    r"|\b(?:or|and|and/or)\s+(?:their\s+)?(?P<also>family members?|caregivers?|parents?|partners?|spouses?|"
    r"relatives?|siblings?)\b"
    r"|^\W*(?P<group>[^.:;]{2,60}?\bgroup)\s*:?\s*$"
    r"|\b(?P<healthy>healthy (?:volunteers?|subjects?|participants?|individuals?) (?:arm|group|cohort))\b"
)
# "Subjects age 8-17 will assent with their parents": how consent is taken, not who may enter.
CONSENT_PROCESS = re.compile(
    r"(?i)\b(?:will|must|should|may|to)\s+(?:\w+\s+){0,2}(?:consent|assent|sign)\w*\b"
    r"[^.;]{0,60}\b(?:parents?|guardians?|legally authori[sz]ed)"
)
# A leading condition the rest of the criterion applies under: "(For the lupus nephritis cohort only) …",
# "If aged 40 to 45, …", "For women of childbearing potential: …", "Age 65-70 years: …".
CONDITIONAL_PREFIX = (
    re.compile(
        r"(?i)^\W*\(\s*(?:for|in|applies to)\s+(?P<cond>[^()]{2,80}?)\s*(?:only)?\s*\)\s*:?\s*(?P<then>\S.*)$", re.S
    ),
    re.compile(r"(?i)^\W*\(\s*(?P<cond>[^()]{2,80}?)\s+only\s*\)\s*:?\s*(?P<then>\S.*)$", re.S),
    re.compile(r"(?i)^\W*(?:if|when|for)\s+(?P<cond>[^,:;()]{2,80}?)\s*[,:]\s*(?P<then>\S.*)$", re.S),
    re.compile(r"(?i)^\W*(?P<cond>(?:ages?|aged)\b[^:;,]{0,30}?\d[^:;,]{0,20}?)\s*:\s*(?P<then>\S.*)$", re.S),
)
_COND_SEX = (
    ("female", re.compile(r"(?i)\b(?:women|woman|females?|girls?|mothers?)\b")),
    ("male", re.compile(r"(?i)\b(?:men|man|males?|boys?|fathers?)\b")),
)
_CHILDBEARING = re.compile(
    r"(?i)\b(?:of\s+)?(?:child-?\s?bearing|reproductive|childbearing)\s+(?:potential|age)\b"
    r"|\b(?:who (?:are )?)?(?:(?:able|capable) (?:to|of)|who (?:can|could|may|might)) (?:become|becoming|get|getting) pregnant\b"
)
# The words before "pregnant" that make it a possibility rather than a state.
POTENTIAL_PREGNANCY = re.compile(r"(?i)\b(?:become|becoming|get|getting)\s*$")
# Words of a condition that name a group without narrowing it further.
_COND_FILLER = frozenset(
    [
        "only",
        "subpopulation",
        "cohort",
        "group",
        "arm",
        "part",
        "those",
        "whom",
        "if",
        "when",
        "for",
        "aged",
        "age",
        "ages",
        "women",
        "woman",
        "men",
        "man",
        "girls",
        "boys",
        "female",
        "male",
        "females",
        "males",
        "years",
        "yrs",
        "is",
        "are",
        "between",
    ]
)
# Words that tie a therapy to the disease it treated ("chemotherapy for breast cancer").
BOUND_TO = re.compile(
    r"(?i)^\s*(?:given\s+|received\s+|administered\s+)?(?:for|of|to treat|against)\s+"
    r"(?:the\s+)?(?:treatment of\s+)?(?:(?:this|their|the|any)\s+)?$"
)
EXCEPT_CUE = re.compile(r"(?i)\b(?:except(?:ion)?s?|not excluded|other than|with the exception of)\b")
# "other", "another", "second", "additional" malignancy: one besides the disease the trial studies.
ANOTHER = re.compile(r"(?i)\b(?:another|other|second|additional)\b")

WINDOW = re.compile(
    r"(?i)\b(?:within|in|during|on|over)\s+(?:the\s+)?(?:last|past|previous|prior)?\s*"
    r"(?P<n1>\d+|one|two|three|four|five|six|twelve|eighteen)\s*(?P<u1>day|week|month|year)s?"
    r"|\b(?:recent\s*\(?\s*within\s+)(?P<n2>\d+)\s*(?P<u2>day|week|month|year)s?"
    r"|\b(?P<n3>\d+|one|two|three|four|five|six|twelve)\s*(?P<u3>day|week|month|year)s?\s+(?:prior to|before)"
    r"|\bwithin\s+(?:the\s+)?(?P<n4>six|twelve)\s+(?P<u4>month)s?"
    r"|\b(?:the\s+)?(?P<n5>six|twelve|\d+)\s+(?P<u5>month|day|week|year)s?\s+before"
)
MIN_DURATION = re.compile(
    r"(?i)\bfor\s+(?:at least|a minimum of|≥|more than)\s*(?P<n>\d+)\s*(?P<u>day|week|month|year)s?"
)
CURRENT_CUE = re.compile(
    r"(?i)\b(?:use of|receiving|currently|concurrent|current|background therapy|taking|"
    r"stable dose|using|on treatment|active|ongoing)\b"
)
EVER_CUE = re.compile(
    r"(?i)\b(?:previous|previously|prior|history|ever|exposure|received|treatment with|"
    r"have received|has received|evidence of prior|past)\b"
)
STARTED_CUE = re.compile(r"(?i)\b(?:initiation|addition|started|change)\b")
SKIP_DRUG_CONTEXT = re.compile(
    r"(?i)(?:allerg\w*|hypersensitivit\w*|anaphyla\w*|worsen with|caused by|induced by|known to induce|requiring|except|"
    r"adverse events|standard therapy|such as|consisting of|refractory to|response to|"
    r"contraindication to|use of the medication)[^.;]{0,60}$"
)
NEGATED_BEFORE = re.compile(
    r"(?i)(?:without(?: evidence of)?(?: a)?(?: concomitant)?|no evidence of|\bno\b|"
    r"\bnon-|negative|absence of)\s*$"
)
# A negation cue whose scope (up to punctuation) reaches an atom: "Not pregnant or nursing", "No prior
# chemotherapy", "must not have a history of …".
NEG_SCOPE = re.compile(r"(?i)(?:^|[\s(])(?:no|not|without|never|free of|absence of|negative for)\b[^.;:!?]*$")


# Character ranges (start, end) of a criterion's text.
Spans = list[tuple[int, int]]


@dataclass
class Atom:
    start: int
    end: int
    rule: Rule
    kind: str


def _clean(text: str) -> str:
    text = (text or "")[:MAX_CRITERION]
    text = re.sub(r"\\([<>\[\]()*_#.+\-!])", r"\1", text)
    text = text.replace(">/=", "≥").replace("</=", "≤").replace(">=", "≥").replace("<=", "≤")
    text = text.replace("=>", "≥").replace("=<", "≤").replace("μ", "µ")
    text = re.sub(r"(?m)^\s*(?:[•\-*]\s*)+", "", text)
    # "oRituximab" sub-bullets of MedPath pages (never the "o" of "over 18 years")
    text = re.sub(r"(?m)^\s*o\s?(?=[A-Z])", "", text)
    text = re.sub(r"(?m)^\s*\(?\d{1,2}[).]\s*", "", text)
    text = re.sub(r"(?i)\bhepatitis b (or|and) c\b", r"hepatitis B \1 hepatitis C", text)
    text = re.sub(r"(?i)\bbasal or squamous cell", "basal cell or squamous cell", text)
    text = re.sub(r"(?i)\bsquamous or basal cell", "squamous cell or basal cell", text)
    text = re.sub(r"\s*\((?:[A-Z][A-Za-z0-9\-]{1,7}s?)\)", "", text)  # "(ANCA)", "(mAb)" aliases
    for _ in range(3):  # field labels of registry records: "PRIOR CONCURRENT THERAPY: Chemotherapy: No prior …"
        # (an "Age:" label is kept: it is what makes "Age: 19~45" an age)
        text = re.sub(r"^\s*(?!Ages?:)[A-Z][A-Za-z\-]*(?: [A-Za-z\-]+){0,2}: (?=\S)", "", text)
    return text.strip()


def _days(n: str, unit: str) -> float:
    value = units.number(n)
    return units.to_days(value if value is not None else 0.0, unit)


def _free(taken: list[tuple[int, int]], s: int, e: int) -> bool:
    return all(e <= a or s >= b for a, b in taken)


# --- recognisers ---------------------------------------------------------------------------

# An age is a quantity in years, or a bare number right after a word that names people by age.
_YEARS_UNIT = re.compile(r"(?i)^(?:years?(?:\s+of\s+age|[\s-]+old)?|yrs?|y/o|yo)$")
_AGE_WORD = re.compile(
    r"(?i)\b(?:ages?|aged|older|younger|adults?|patients?|subjects?|children|individuals?|"
    r"participants?|persons?|people|men|women|males?|females?|being|boys|girls|adolescents?|"
    r"infants?|volunteers?|majors?|minors?|pts?)\b[\s:(\[,]*(?:(?:range|is|are|must be|"
    r"should be|of|at|group)\s*[:(\[]*\s*)*$"
)
_AGE_AFTER = re.compile(r"(?i)^\s*\]?\)?\s*(?:of\s+)?age\b")
# Numbers in years that are not the patient's age: disease duration, onset, a donor, smoking history.
_NOT_AGE = re.compile(
    r"(?i)\b(?:onset|donor|duration|since|diagnos\w*|history|for|smok\w*|pack|within|ago|"
    r"prior|after|before|last|past|treatment|therapy|follow)\b[^;,.]{0,25}$"
)

_NOT_AGE_AFTER = re.compile(
    r"(?i)^\s*(?:before|ago|after|prior|since|from|post|following|duration|of (?:follow|"
    r"treatment|therapy|disease|diagnosis|symptoms?|experience|smoking|use|exposure))\b"
)

_NO_PEOPLE = re.compile(
    r"(?i)(?:^|[\s(])(?:no|not|non|never|excluding)\s+(?:(?:patients?|subjects?|participants?|"
    r"children|adults?|one|persons?|people|individuals?)\s+)?(?:(?:who are|aged?)\s+)?$"
)


def _age_atoms(text: str, taken: Spans) -> list[Atom]:
    """Age bounds: "Over 18 years", "Age: 19~45", "Patients younger than 25 years old", "20-70 age"."""
    atoms = []
    for q in quantities.find(text):
        if not _free(taken, q.start, q.end):
            continue
        lead = text[max(0, q.start - 40) : q.start]
        by_unit = bool(q.unit and _YEARS_UNIT.match(q.unit))
        by_word = q.unit is None and (
            bool(_AGE_WORD.search(lead))
            or bool(_AGE_AFTER.match(text[q.end :]))
            or bool(re.search(r"(?i)older|younger|\bages?\b", q.text))
        )
        said_age = bool(re.search(r"(?i)\bage[ds]?\b[\s:(\[]*$", lead)) or bool(re.search(r"(?i)\bages?\b", q.text))
        if not (by_unit or by_word) or (_NOT_AGE.search(lead) and not said_age) or _NOT_AGE_AFTER.match(text[q.end :]):
            continue
        if any(v is not None and not 0 <= v <= 120 for v in (q.low, q.high)):
            continue
        rule = AgeRule(min=q.low, max=q.high, min_inclusive=q.low_inclusive, max_inclusive=q.high_inclusive)
        # "No patients less than or equal to 5 years old": the bound names who may NOT take part.
        atoms.append(Atom(q.start, q.end, Not(rule=rule) if _NO_PEOPLE.search(lead) else rule, "age"))
        taken.append((q.start, q.end))
    return atoms


# Roman numerals of ordinal scales ("ASA III"), replaced by digits of the same width so spans stay put.
_ROMAN = re.compile(r"\b(VI|IV|V|III|II|I)\b")
_ROMAN_DIGITS = {"I": "1", "II": "2 ", "III": "3  ", "IV": "4 ", "V": "5", "VI": "6 "}
_OTHER_NUMBER = re.compile(r"\d|;|\.\s")
_LIST_GAP = re.compile(r"(?i)[\s,()/]*(?:or|and|and/or)?[\s,()/]*")


def _measure_rule(concept: concepts.Concept, q: quantities.Quantity, written: str) -> Rule | None:
    """The rule of one quantity bound to a registry concept, or None when its unit is not the concept's.
    A score keeps both its bounds in one `ScoreRule`; a lab or measurement is one `LabRule` per bound."""
    bounds = []
    for value, op, unit in (
        (q.low, ">=" if q.low_inclusive else ">", q.lower_unit),
        (q.high, "<=" if q.high_inclusive else "<", q.unit),
    ):
        if value is None:
            continue
        if q.uln:
            if not concept.uln:
                return None
            bounds.append(LabRule(analyte=concept.id, op=op, value=value, uln=True, text=written))
            continue
        canonical = concept.to_canonical(value, unit)
        if canonical is None:
            return None
        bounds.append(LabRule(analyte=concept.id, op=op, value=round(canonical, 4), text=written))
    if not bounds:
        return None
    if concept.kind == "score":
        low = next((b for b in bounds if b.op in (">", ">=")), None)
        high = next((b for b in bounds if b.op in ("<", "<=")), None)
        return ScoreRule(
            score=concept.id,
            min=low.value if low else None,
            max=high.value if high else None,
            min_inclusive=low is None or low.op == ">=",
            max_inclusive=high is None or high.op == "<=",
            text=written,
        )
    return bounds[0] if len(bounds) == 1 else AllOf(rules=bounds)


# Which registry concepts a criterion can name, from the literal starts of their criteria names.
_CONCEPT_GATE = prefilter.Gate(prefilter.starts(c.criteria) for c in concepts.MEASUREMENTS.values())
# A name that only qualifies another measurement: "DLCO (corrected for hemoglobin) < 40%" is about DLCO.
_QUALIFYING = re.compile(r"(?i)(?:corrected|adjusted)\s+for\s*$")


def _measure_atoms(text: str, taken: Spans, default: str) -> list[Atom]:
    """Registry measurements (eligibility/concepts) with the quantity written after or just before
    their name: "Life expectancy lower than 3 months", "Temperature <38°C", "Greater than 37 weeks
    gestation", "ASA physical status I-III"."""
    atoms: list[Atom] = []
    bound: dict[int, quantities.Quantity | None] = {}  # name start -> the quantity written after it
    at: dict[int, int] = {}  # name start -> index of its atom
    names = sorted(
        (
            (m.start(), m.end(), c)
            for c, may_match in zip(concepts.MEASUREMENTS.values(), _CONCEPT_GATE.open(text), strict=True)
            if may_match
            for m in c.criteria_re.finditer(text)
            if not _QUALIFYING.search(text[max(0, m.start() - 20) : m.start()])
        ),
        key=lambda x: (x[0], -x[1]),
    )
    # The longest name at a place is the one meant: "creatinine clearance" is not "creatinine".
    names = [n for i, n in enumerate(names) if all(n[0] >= m[1] for m in names[:i])]
    for s, e, concept in names:
        if not _free(taken, s, e):
            continue
        window = text
        if concept.roman:
            window = text[:e] + _ROMAN.sub(lambda r: _ROMAN_DIGITS[r.group(1)], text[e : e + 60]) + text[e + 60 :]
        rule, span = None, None
        after = quantities.first(window, e)
        if after and re.match(r"\s*/\s*\d", text[after.end :]):
            after = None  # "above 160/100 mmHg": a pair of limits this reader does not split; reviewed
        if (
            after
            and after.start - e <= 45
            and not _OTHER_NUMBER.search(text[e : after.start])
            and not any(c2 is not concept and e <= s2 < after.start for s2, _, c2 in names)
            and _free(taken, after.start, after.end)
        ):
            rule, span = _measure_rule(concept, after, text[after.start : after.end].strip()), (s, after.end)
        if rule is None:
            lead_op = quantities.operator_before(text[max(0, s - 30) : s])
            bare = quantities.bare_after(text, e)
            if lead_op and bare and _free(taken, bare.start, bare.end):
                q = quantities.bounded(bare, lead_op)
                rule, span = _measure_rule(concept, q, text[s - 30 if s >= 30 else 0 : bare.end].strip()), (s, bare.end)
        if rule is None:
            before = [q for q in quantities.find(text[:s]) if re.fullmatch(r"(?i)[\s'(]*(?:of\s+)?", text[q.end : s])]
            if before and _free(taken, before[-1].start, before[-1].end):
                rule, span = _measure_rule(concept, before[-1], before[-1].text), (before[-1].start, e)
        if rule is None or span is None:
            continue
        at[s] = len(atoms)
        atoms.append(Atom(span[0], span[1], rule, _atom_kind(concept)))
        taken.append(span)
        bound[s] = after if span[1] == getattr(after, "end", None) else None
    # "FVC or DLCO < 50% predicted": a name listed before a bounded one shares its bound, joined by the
    # connector between them ("or", "and", "/" by the criterion's kind) more tightly than anything else
    # in the criterion. "Anemia (Hb < 9 g/dL)": a name of the same concept is part of the bounded mention.
    for (s, e, concept), (s2, _, concept2) in reversed(list(itertools.pairwise(names))):
        shared_bound = bound.get(s2)
        if shared_bound is None or s in bound or not _free(taken, s, e) or not _LIST_GAP.fullmatch(text[e:s2]):
            continue
        i = at[s2]
        shared = atoms[i].rule
        if concept is not concept2:
            rule = _measure_rule(concept, shared_bound, text[shared_bound.start : shared_bound.end].strip())
            if rule is None:
                continue
            # "AST, ALT > 5 x ULN" names either in an exclusion and both in an inclusion; under a negation
            # ("must not have AST, ALT > 5 x ULN") the other way round: the reading that decides less.
            negated = bool(NEG_SCOPE.search(text[:s]))
            join = _gap_kind(text[e:s2], {"or": "and", "and": "or"}[default] if negated else default)
            shared = AnyOf(rules=[rule, shared]) if join == "or" else AllOf(rules=[rule, shared])
        atoms[i] = Atom(s, atoms[i].end, shared, atoms[i].kind)
        at[s] = i
        taken.append((s, e))
        bound[s] = shared_bound
    return atoms


def _atom_kind(concept: concepts.Concept) -> str:
    return "score" if concept.kind == "score" else "lab"


def _serology_atoms(text: str, taken: Spans) -> list[Atom]:
    if not re.search(r"(?i)\bpositive|\bpresence of", text):
        return []
    atoms = []
    for test in concepts.SEROLOGY.values():
        m = test.criteria_re.search(text) if test.criteria_re else None
        if m and _free(taken, m.start(), m.end()):
            atoms.append(Atom(m.start(), m.end(), SerologyRule(test=test.id), "serology"))
            taken.append((m.start(), m.end()))
    return atoms


_DOSE = re.compile(
    r"(?i)(?:(?P<drug>prednisone|prednisolone|corticosteroids?|steroids?)\s*(?P<op1>[><≥≤=])\s*"
    r"(?P<v1>\d+(?:\.\d+)?)\s*mg(?P<kg1>\s*/\s*kg)?(?:\s*/\s*day)?"
    r"|(?:daily )?dos(?:e|age) of\s*(?P<op2>[><≥≤=]|at least|more than)\s*(?P<v2>\d+(?:\.\d+)?)\s*mg"
    r"(?P<kg2>\s*/\s*kg)?\s*(?:/\s*day\s*)?of (?:prednisone|prednisolone|corticosteroids?))"
    r"(?:\s*\(?\s*or (?:its |an )?equivalent[^)]*\)?)?"
)


def _dose_atoms(text: str, taken: Spans) -> list[Atom]:
    atoms = []
    for m in _DOSE.finditer(text):
        op_raw = (m.group("op1") or m.group("op2")).lower()
        op = {">": ">", "<": "<", "≥": ">=", "≤": "<=", "=": ">=", "at least": ">=", "more than": ">"}[op_raw]
        value = float(m.group("v1") or m.group("v2"))
        per_kg = bool(m.group("kg1") or m.group("kg2"))
        w = WINDOW.search(text, m.end())
        window = _window_days(w) if w else None
        atoms.append(
            Atom(
                m.start(),
                m.end(),
                DoseRule(op=op, value=value, per_kg=per_kg, window_days=window, text=m.group(0).strip()),
                "dose",
            )
        )
        taken.append((m.start(), m.end()))
    return atoms


def _window_days(m: re.Match[str]) -> float:
    for i in range(1, 6):
        if m.group(f"n{i}"):
            return _days(m.group(f"n{i}"), m.group(f"u{i}"))
    return 0.0


# What a duration criterion measures: the disease, or its symptoms ("arthritis symptoms for more than 6 weeks").
_DURATION_SUBJECT = re.compile(
    r"(?i)\b(?:(?P<disease>disease duration|duration of (?:the )?disease|disease history)"
    r"|(?P<symptoms>symptom duration|duration of symptoms|(?:symptoms?|arthritis)\b[^.;\d]{0,30}?\bfor))"
)
_TIME_UNIT = re.compile(r"(?i)^(?:day|week|wk|month|mo|year|yr|hour|hr)s?$")


def _duration_atoms(text: str, taken: Spans, cohort_names: list[str]) -> list[Atom]:
    """How long the disease or its symptoms lasted: "disease duration up to 5 years", "symptoms for more
    than 6 weeks but less than 12 months"."""
    for m in _DURATION_SUBJECT.finditer(text):
        q = quantities.first(text, m.end(), m.end() + 60)
        if q is None or q.start - m.end() > 15 or not _free(taken, q.start, q.end):
            continue
        if not (q.unit and _TIME_UNIT.match(q.unit)) or (q.low_unit and not _TIME_UNIT.match(q.low_unit)):
            continue
        rule = DurationRule(
            subject="disease" if m.group("disease") else "symptoms",
            names=cohort_names,
            min_days=_days(str(q.low), q.lower_unit or "") if q.low is not None else None,
            max_days=_days(str(q.high), q.unit) if q.high is not None else None,
            min_inclusive=q.low_inclusive,
            max_inclusive=q.high_inclusive,
            text=text[m.start() : q.end],
        )
        taken.append((m.start(), q.end))
        return [Atom(m.start(), q.end, rule, "duration")]
    return []


def _pregnancy_atoms(text: str, taken: Spans) -> list[Atom]:
    atoms = []
    for m in re.finditer(
        r"(?i)\b(non-?)?(?:pregnan(?:t|cy)(?: test)?|(?:breast[- ]?feeding|breast feeding|nursing|"
        r"lactating|lactation))\b",
        text,
    ):
        if not _free(taken, m.start(), m.end()):
            continue
        if re.search(r"(?i)\b(?:if|risk of|contracepti\w+)\b[^.;]{0,30}$", text[: m.start()]):
            continue
        if POTENTIAL_PREGNANCY.search(text[: m.start()]):
            # "able to become pregnant", "planning to get pregnant": a possibility, not a pregnancy.
            continue
        word = m.group(0).lower()
        name = "pregnancy" if "pregnan" in word else "breastfeeding"
        rule = ConditionRule(names=[name], timing="current", label=name)
        negated = bool(m.group(1)) or bool(re.search(r"(?i)negative\s*$", text[: m.start()]))
        if word.endswith("test"):
            # "negative result on a serum or urine pregnancy test", "pregnancy test must be negative":
            # a test result, never a requirement to be pregnant.
            negated = negated or bool(
                re.search(r"(?i)\bnegative\b[^.;]{0,60}$", text[: m.start()])
                or re.match(r"(?i)[^.;]{0,40}\bnegative\b", text[m.end() :])
            )
        atoms.append(Atom(m.start(), m.end(), Not(rule=rule) if negated else rule, "condition"))
        taken.append((m.start(), m.end()))
    return atoms


ALLERGY_CUE = re.compile(r"(?i)\b(?:allerg\w*|hypersensitivit\w*|anaphyla\w*)")
# The substances of the registry's allergies, by canonical name (conditions.yaml: allergen).
ALLERGENS = tuple(
    (c.id, c.allergen) for c in concepts.CONDITIONS.values() if c.category == "allergy" and c.allergen is not None
)


def _allergy_atoms(text: str, taken: Spans) -> list[Atom]:
    cue = ALLERGY_CUE.search(text)
    if not cue:
        return []
    stop = re.compile(r"[.;](?:\s|$)").search(text, cue.end())
    end = stop.start() if stop else len(text)
    region = text[cue.start() : end]
    names = [n for n, p in ALLERGENS if re.search(rf"(?i){p}", region)]
    if not names:
        return []
    taken.append((cue.start(), end))
    label = "allergy to " + ", ".join(n.split("_", 1)[1] for n in names)
    return [Atom(cue.start(), end, ConditionRule(names=names, timing="ever", label=label), "condition")]


def _exposure_atoms(text: str, taken: Spans) -> list[Atom]:
    mentions = []
    for s, e, name, is_class in lexicon.find_drugs(text):
        if not _free(taken, s, e) or SKIP_DRUG_CONTEXT.search(text[max(0, s - 80) : s]):
            continue
        if name == "corticosteroid" and re.search(r"(?i)non-$", text[max(0, s - 4) : s]):
            continue
        mentions.append((s, e, name, is_class))
    if not mentions:
        return []
    windows = [(w.start(), w.end(), _window_days(w)) for w in WINDOW.finditer(text)]
    min_dur = MIN_DURATION.search(text)
    if min_dur:
        windows = [w for w in windows if not (min_dur.start() <= w[0] < min_dur.end() + 12)]
    half_life = bool(HALF_LIFE.search(text))
    # Drug mentions sharing one time window: (window, mentions), a window being (start, end, days).
    groups: list[tuple[tuple[int, int, float] | None, list[tuple[int, int, str, bool]]]] = []
    for mention in mentions:
        s, e, name, is_class = mention
        seg_end = text.find(";", e)
        seg_end = len(text) if seg_end < 0 else seg_end
        seg_start = text.rfind(";", 0, s) + 1
        after = [w for w in windows if e <= w[0] < seg_end]
        before = [w for w in windows if seg_start <= w[0] and w[1] <= s]
        window = after[0] if after else before[-1] if before else None
        if (
            groups
            and groups[-1][0] == window
            and re.fullmatch(
                r"(?i)[\s,()/]*(?:or|and|and/or|nor)?[\s,()/]*(?:any )?(?:other )?", text[groups[-1][1][-1][1] : s]
            )
        ):
            groups[-1][1].append(mention)
        else:
            groups.append((window, [mention]))
    atoms = []
    for window, members in groups:
        s, e = members[0][0], members[-1][1]
        lead = text[:s][-60:]
        except_classes = ["corticosteroid"] if re.search(r"(?i)non-corticosteroid", text) else []
        if window:
            timing, days = "window", window[2]
        elif STARTED_CUE.search(lead):
            timing, days = "started", None
        elif half_life or (CURRENT_CUE.search(lead) and not EVER_CUE.search(lead)):
            timing, days = "current", None
        elif EVER_CUE.search(lead) or EVER_CUE.search(text[:s]):
            timing, days = "ever", None
        else:
            timing, days = "current", None
        if STARTED_CUE.search(lead) and window:
            timing = "started"
        drugs = list(dict.fromkeys(m[2] for m in members if not m[3]))
        classes = list(dict.fromkeys(m[2] for m in members if m[3]))
        label = ", ".join(m[2].replace("_", " ") for m in members)
        rule = ExposureRule(
            drugs=drugs,
            classes=classes,
            except_classes=except_classes,
            timing=timing,
            window_days=days,
            label=label,
            min_duration_days=_days(min_dur.group("n"), min_dur.group("u")) if min_dur else None,
        )
        end = window[1] if window and window[0] - e < 60 else e
        atoms.append(Atom(s, max(e, end) if window else e, rule, "exposure"))
        taken.append((s, e))
    return atoms


CAUSE_MASK = re.compile(
    r"(?i)\b(?:not explained by|due to other|attributed to|caused by|other causes than|"
    r"related to activity)[^);.]*"
)


def exception_regions(text: str) -> list[tuple[int, int]]:
    """Spans naming exceptions ("except basal cell carcinoma", "… are not excluded")."""
    regions = []
    for m in EXCEPT_CUE.finditer(text):
        if m.group(0).lower() == "not excluded":
            start = max(text.rfind(". ", 0, m.start()), text.rfind("\n", 0, m.start()), text.rfind(";", 0, m.start()))
            regions.append((start + 1, m.end()))
        elif m.group(0).lower() == "other than":
            end = re.compile(r"[,;.)]").search(text, m.end())
            regions.append((m.start(), end.start() if end else len(text)))
        else:
            end = re.compile(r"[;]|\.(?:\s|$)").search(text, m.end())
            regions.append((m.start(), end.start() if end else len(text)))
    return regions


def _inside(regions: Spans, pos: int) -> bool:
    return any(a <= pos < b for a, b in regions)


def _condition_atoms(text: str, taken: Spans, criterion_kind: str, cohort_names: list[str]) -> list[Atom]:
    regions = exception_regions(text)
    found = []
    for s, e, term in lexicon.find_terms(text):
        if _free(taken, s, e) and term.category != "allergy":
            found.append((s, e, term.name, term.category, term.label))
    for pattern, members in lexicon.GROUP_PATTERNS:
        for m in pattern.finditer(text):
            if _free(taken, m.start(), m.end()) and all(not (f[0] < m.end() and m.start() < f[1]) for f in found):
                found.append((m.start(), m.end(), "group:" + ",".join(members), "disease", m.group(0)))
    found.sort()
    except_names = [f[2] for f in found if _inside(regions, f[0]) and not f[2].startswith("group:")]
    main = [f for f in found if not _inside(regions, f[0])]
    windows = [w for w in WINDOW.finditer(text) if not _inside(regions, w.start())]
    atoms = []
    crit_ever = bool(re.match(r"(?i)\W*(?:medical )?(?:history|previous|prior|evidence of prior)", text))
    prev_end = 0
    for i, (s, e, name, _category, label) in enumerate(main):
        lead = text[prev_end:s]
        lead_start = prev_end
        prev_end = e
        names = name[6:].split(",") if name.startswith("group:") else [name]
        other = bool(ANOTHER.search(text[max(0, s - 25) : s])) or bool(re.match(r"(?i)\s*other than", text[e : e + 15]))
        local_except = list(except_names)
        if other or name.startswith("group:"):
            local_except += cohort_names
        unbound = [n for n in names if n not in local_except]
        # "Other malignancy" in a trial of cancer: the patient's cancer may be the studied one; the checker
        # cannot tell which, so a patient who has it goes to review rather than out.
        other_than_studied = other and not unbound and any(n in cohort_names for n in names)
        names = unbound or names
        rule: Rule
        if all(n in lexicon.PRIMARY_DISEASES for n in names):
            qual = re.search(
                r"(?i)\b(SLICC|ACR(?: \(?\d{4}\)?)?|\d{4} American College of Rheumatology|"
                r"American College of Rheumatology \(?\d{4}\)?|Bohan and Peter|Modified New York)",
                text,
            )
            rule = DiagnosisRule(
                names=names,
                except_names=sorted(set(local_except) - set(names)),
                qualifier=qual.group(1) if qual else None,
                label=label,
                closed_world=criterion_kind == "inclusion",
            )
        else:
            next_start = main[i + 1][0] if i + 1 < len(main) else len(text)
            seg_end = text.find(";", e)
            seg_end = len(text) if seg_end < 0 else seg_end
            lead_windows = [
                w
                for w in windows
                if lead_start <= w.start() and w.end() <= s and not re.search(r"(?i)\bor\b|[,;]", text[w.end() : s])
            ]
            after_windows = [
                w
                for w in windows
                if e <= w.start() < min(seg_end, next_start + 1) or (e <= w.start() < seg_end and w.start() - e < 40)
            ]
            if lead_windows:
                timing, window = "window", _window_days(lead_windows[-1])
            elif re.search(r"(?i)\b(?:active|current|concurrent|ongoing)\b", lead[-40:]):
                timing, window = "current", None
            elif after_windows:
                timing, window = "window", _window_days(after_windows[0])
            elif re.search(r"(?i)\b(?:history|previous|prior|past|ever|evidence of prior)\b", lead[-40:]) or crit_ever:
                timing, window = "ever", None
            else:
                timing, window = "unspecified", None
            rule = ConditionRule(
                names=names,
                except_names=[n for n in local_except if n not in names],
                timing=timing,
                window_days=window,
                label=label,
            )
        if other_than_studied:
            rule = Qualified(
                rule=rule, note="the criterion means a disease other than the one the trial studies", review_when=[True]
            )
        if NEGATED_BEFORE.search(text[max(0, s - 40) : s]):
            rule = Not(rule=rule)
        atoms.append(Atom(s, e, rule, "condition"))
        taken.append((s, e))
    return atoms


# --- structure -----------------------------------------------------------------------------

_OR_GAP = re.compile(r"(?i)\bor\b|and/or|\beither\b|\be\.g\.|\bincluding\b|\bsuch as\b|\bi\.e\.")
_AND_GAP = re.compile(r"(?i)\band\b|\bwith\b|\bplus\b|\brequiring\b|\bwithout\b|\bin conjunction\b|\bdefined\b")


# A line break inside one criterion: ingest joins wrapped lines, so what is left are sub-items it kept under
# their lead ("the following are exclusionary:" then one item a line, bullets stripped by `_clean`).
_NEW_ITEM = re.compile(r"\n")


def _gap_kind(gap: str, default: str) -> str:
    if re.fullmatch(r"\s*\(\s*", gap):
        return "and"  # "X (its definition)"
    gap_clean = re.sub(r"\([^)]*\)", " ", gap)
    if ";" in gap_clean and not _OR_GAP.search(gap_clean):
        return default
    if _NEW_ITEM.search(gap_clean):
        # Sub-items of a list kept in one criterion: each is its own requirement, joined as the list's kind
        # joins them (any exclusion excludes, every inclusion is required).
        return default
    if _OR_GAP.search(gap_clean):
        return "or"
    if _AND_GAP.search(gap_clean):
        return "and"
    words = re.findall(r"[A-Za-z]{2,}", gap_clean)
    return default if len(words) <= 3 else "and"


def _open_paren(text: str, pos: int) -> int:
    """Position of the innermost unclosed "(" before pos (-1 when none)."""
    stack = []
    for i, ch in enumerate(text[:pos]):
        if ch == "(":
            stack.append(i)
        elif ch == ")" and stack:
            stack.pop()
    return stack[-1] if stack else -1


def _combine(atoms: list[Atom], text: str, default: str) -> Rule:
    """Atoms joined by their connectors: AND binds tighter than OR; parentheses group."""
    if len(atoms) == 1:
        return atoms[0].rule
    opener = [_open_paren(text, a.start) for a in atoms]
    depth = [text[: a.start].count("(") - text[: a.start].count(")") for a in atoms]
    base = min(depth)
    if any(d > base for d in depth):
        grouped: list[Atom] = []
        i = 0
        while i < len(atoms):
            if depth[i] > base:
                j = i
                while j < len(atoms) and depth[j] > base and opener[j] == opener[i]:
                    j += 1
                inner = atoms[i:j]
                rule = _combine_flat(
                    inner,
                    text,
                    "or"
                    if re.search(r"(?i)e\.g\.|including|such as", text[max(0, inner[0].start - 30) : inner[0].start])
                    else default,
                )
                grouped.append(Atom(inner[0].start, inner[-1].end, rule, "group"))
                i = j
            else:
                grouped.append(atoms[i])
                i += 1
        atoms = grouped
    return _combine_flat(atoms, text, default)


def _combine_flat(atoms: list[Atom], text: str, default: str) -> Rule:
    if len(atoms) == 1:
        return atoms[0].rule
    kinds = [_gap_kind(text[a.end : b.start], default) for a, b in zip(atoms, atoms[1:], strict=False)]
    # "Not pregnant or nursing" is "not (pregnant or nursing)": neither may hold.
    kinds = [
        "and" if a.kind == b.kind and a.kind.startswith("negated@") else k
        for k, a, b in zip(kinds, atoms, atoms[1:], strict=False)
    ]
    # "A, B or C": a comma list closed by "or" is an OR list.
    for i in range(len(kinds) - 1, -1, -1):
        gap = text[atoms[i].end : atoms[i + 1].start]
        if kinds[i] == default and "," in gap and i + 1 < len(kinds) and kinds[i + 1] == "or":
            kinds[i] = "or"
    groups, current = [], [atoms[0].rule]
    for k, atom in zip(kinds, atoms[1:], strict=False):
        if k == "and":
            current.append(atom.rule)
        else:
            groups.append(current)
            current = [atom.rule]
    groups.append(current)
    parts = [g[0] if len(g) == 1 else AllOf(rules=g) for g in groups]
    return parts[0] if len(parts) == 1 else AnyOf(rules=parts)


def _atoms(text: str, kind: str, cohort_names: list[str]) -> list[Atom]:
    taken: list[tuple[int, int]] = [(m.start(), m.end()) for m in CAUSE_MASK.finditer(text)]
    atoms = []
    # Named measurements, labs and scores first ("life expectancy less than 1 year" is not an age).
    atoms += _measure_atoms(text, taken, "or" if kind == "exclusion" else "and")
    atoms += _age_atoms(text, taken)
    atoms += _dose_atoms(text, taken)
    atoms += _serology_atoms(text, taken)
    atoms += _duration_atoms(text, taken, cohort_names)
    atoms += _pregnancy_atoms(text, taken)
    atoms += _allergy_atoms(text, taken)
    atoms += _exposure_atoms(text, taken)
    atoms += _condition_atoms(text, taken, kind, cohort_names)
    if re.search(r"(?i)\bboth female and male\b|\bboth male and female\b|\bmale (?:and|or) female\b", text):
        atoms.append(Atom(0, 0, SexRule(sex="all"), "sex"))
    atoms.sort(key=lambda a: a.start)
    atoms = _bind_therapies(atoms, text)
    atoms = _negate(atoms, text)
    # "chronic kidney disease (glomerular filtration rate < 30)": the measurement defines the condition.
    atoms = [
        a
        for a, b in zip(atoms, atoms[1:] + [None], strict=False)
        if not (
            b is not None
            and a.kind == "condition"
            and b.kind in ("lab", "score")
            and re.fullmatch(r"\s*\(\s*", text[a.end : b.start])
        )
    ]
    return _dedupe(atoms)


_DEPENDENT = re.compile(r"(?i)^\s*-?\s*(?:dependent|requiring|treated|controlled)\s*$")
# A treatment the checker has no concept for, bound to the disease named right after it: "radiotherapy for
# prostate cancer", "radiation to the pelvis for cervical cancer". Bare "treatment"/"therapy" is left out:
# "treatment for active tuberculosis" is about having tuberculosis.
_UNREAD_THERAPY = re.compile(
    r"(?i)\b(?:radiotherapy|radiation(?: therapy)?|irradiation|chemoradiation|chemoradiotherapy|"
    r"(?:surgical|ablative|local|definitive|curative|systemic|hormonal|endocrine|targeted)\s+"
    r"(?:therapy|therapies|treatment|resection)|resection|ablation)"
    r"(?:\s+(?:to|of|on)\s+(?:the\s+)?[a-z-]+)?\s+"
    r"(?:given\s+|received\s+|administered\s+)?(?:for|to treat|against)\s+(?:the\s+)?(?:treatment of\s+)?"
    r"(?:(?:this|their|the|any)\s+)?$"
)


def _is_procedure(rule: Rule) -> bool:
    return isinstance(rule, ConditionRule) and all(
        (t := lexicon.TERM_BY_NAME.get(n)) is not None and t.category == "procedure" for n in rule.names
    )


def _bind_therapies(atoms: list[Atom], text: str) -> list[Atom]:
    """A therapy stays bound to the disease it names.

    "chemotherapy for breast cancer" is one atom about the therapy (reviewed when the patient had the
    therapy, since it may have been for something else), never "chemotherapy or breast cancer";
    "insulin-dependent diabetes" is diabetes treated with insulin, never "insulin or diabetes".
    """
    out: list[Atom] = []
    i = 0
    while i < len(atoms):
        a = atoms[i]
        b = atoms[i + 1] if i + 1 < len(atoms) else None
        if b is not None and a.kind == "exposure" and b.kind == "condition":
            gap = text[a.end : b.start]
            label = getattr(b.rule, "label", None) or text[b.start : b.end]
            if BOUND_TO.match(gap):
                rule = Qualified(rule=a.rule, note=f"the therapy is bound to {label}", review_when=[True])
                out.append(Atom(a.start, b.end, rule, "exposure"))
                i += 2
                continue
            if _DEPENDENT.match(gap):
                out.append(Atom(a.start, b.end, AllOf(rules=[b.rule, a.rule]), "condition"))
                i += 2
                continue
        if (
            b is not None
            and a.kind == "condition"
            and b.kind == "condition"
            and _is_procedure(a.rule)
            and BOUND_TO.match(text[a.end : b.start])
        ):
            # "surgery for colon cancer", "stem-cell transplant for lymphoma": both must hold, and when both do
            # the procedure may still have been for something else.
            label = getattr(b.rule, "label", None) or text[b.start : b.end]
            rule = Qualified(
                rule=AllOf(rules=[a.rule, b.rule]), note=f"the procedure is bound to {label}", review_when=[True]
            )
            out.append(Atom(a.start, b.end, rule, "condition"))
            i += 2
            continue
        if a.kind == "condition" and not _is_procedure(a.rule):
            before = text[(out[-1].end if out else 0) : a.start]
            therapy = _UNREAD_THERAPY.search(before)
            if therapy:
                # No therapy without the disease it treats: absent disease decides, present disease is reviewed.
                label = getattr(a.rule, "label", None) or text[a.start : a.end]
                note = f"the therapy ({therapy.group(0).split()[0].lower()}) is bound to {label}"
                start = (out[-1].end if out else 0) + therapy.start()
                out.append(Atom(start, a.end, Qualified(rule=a.rule, note=note, review_when=[True]), "condition"))
                i += 1
                continue
        out.append(a)
        i += 1
    return out


# Words of the negation and time cues themselves, never a qualifier of what they negate.
_CUE_WORDS = frozenset(
    [
        "no",
        "not",
        "non",
        "none",
        "never",
        "without",
        "free",
        "absence",
        "negative",
        "excluding",
        "evidence",
        "signs",
        "sign",
        "symptoms",
        "symptom",
        "concurrent",
        "concomitant",
        "ongoing",
        "past",
        "ever",
        "recent",
        "significant",
        "other",
        "another",
        "use",
        "treatment",
        "therapy",
        "suspected",
        "suspicion",
        "suggestive",
        "clinical",
        "any",
        "kind",
        "type",
        "form",
    ]
)


# A measurement negated as a whole: the cue right before its name ("No NYHA class III-IV heart disease").
# A cue further away ("no prior therapy and platelets > 100") is about something else.
_NEGATED_MEASURE = re.compile(
    r"(?i)(?:^|[\s(:])(?:no|not|(?<!with or )without)\s+(?:(?:evidence|history) of\s+|known\s+)?$"
)


def _negate(atoms: list[Atom], text: str) -> list[Atom]:
    """Wrap atoms in the scope of a negation cue in Not; a negated list is one Not ("not A or B")."""
    out = []
    for a in atoms:
        if a.kind in ("lab", "score") and a.rule.kind != "not" and _NEGATED_MEASURE.search(text[: a.start]):
            out.append(Atom(a.start, a.end, Not(rule=a.rule), a.kind))
            continue
        if a.kind not in ("condition", "exposure") or a.rule.kind == "not":
            out.append(a)
            continue
        lead = text[max(0, a.start - 60) : a.start]
        m = NEG_SCOPE.search(lead)
        if m and not re.search(
            r"(?i)\bnot (?:excluded|more than|less than|exceed|limited to|only)|"
            r"\bno (?:more|less) than|whether or not|\bif not\b",
            lead[m.start() :],
        ):
            cue = a.start - len(lead) + m.start()
            rule = a.rule
            # "No 'incomplete' Sjögren's": words between the cue and the atom that the checker does not
            # read narrow what is negated; they stay inside the negation as a qualifier to review.
            between = [
                w
                for w in _unread_words(text[cue : a.start], [])
                if w not in _CUE_WORDS and not SOFT_QUALIFIER.search(w)
            ]
            if (
                between
                and rule.kind != "qualified"
                and not any(b.end <= a.start and b.start >= cue for b in atoms if b is not a)
            ):
                rule = Qualified(rule=rule, note="the criterion adds '" + " ".join(between[:4]) + "'")
            out.append(Atom(a.start, a.end, Not(rule=rule), "negated@" + str(cue)))
        else:
            out.append(a)
    return out


def _dedupe(atoms: list[Atom]) -> list[Atom]:
    out: list[Atom] = []
    for a in atoms:
        if out and out[-1].rule == a.rule and out[-1].kind == a.kind:
            continue
        out.append(a)
    return out


def cohort_disease_names(cohort: str | None) -> list[str]:
    """Canonical diseases named by a cohort label ("RA", "SLE", "dermatomyositis" -> dm, pm, jdm…)."""
    if not cohort:
        return []
    names = [t.name for _, _, t in lexicon.find_terms(cohort)]
    if re.search(r"(?i)\bDM/PM\b|myositis", cohort) and not {"dm", "pm"} & set(names):
        names += ["dm", "pm", "jdm", "myositis"]
    if "dm" in names or "pm" in names:
        names += [n for n in ("dm", "pm", "jdm", "myositis") if n not in names]
    return names


def studied_diseases(conditions: list[str], title: str | None) -> tuple[str, ...]:
    """The canonical diseases a trial studies, from its conditions and title."""
    names = cohort_disease_names(" ; ".join([*conditions, title or ""]))
    # A trial of lupus nephritis studies SLE too: "another autoimmune disease" is not the patient's SLE.
    # Only the disease and what it is a form of, never a category over diseases that have forms of their own
    # ("connective tissue disease" is above SLE, which has lupus nephritis: excepting it would except RA).
    return tuple(
        dict.fromkeys(
            a
            for n in names
            for a in sorted(lexicon.ancestors(n), key=lambda x: x != n)
            if a == n or not _is_category(a)
        )
    )


@functools.cache
def _is_category(name: str) -> bool:
    below = [t for t in lexicon.TERM_BY_NAME if t != name and name in lexicon.ancestors(t)]
    return any(any(b in lexicon.ancestors(t) for t in lexicon.TERM_BY_NAME if t != b) for b in below)


def parse_text(text: str, kind: str = "inclusion", cohort: str | None = None, studied: tuple[str, ...] = ()) -> Rule:
    """The rule of one criterion's text (`kind` decides the default connector of a list).

    `studied` names the diseases the trial studies (canonical names): "another autoimmune disease" or
    "other prior malignancy" means one besides them.
    """
    raw = text
    text = _clean(text)
    if not text:
        return NeedsReview(text=raw, reason="empty criterion")
    if CONSENT_START.search(text) or CONSENT_PROCESS.search(text) or NO_REQUIREMENT.match(text):
        return AssumedConsent(text=raw)
    # Looked for before field labels are stripped too: "Control group: …", "Donors: …".
    other = OTHER_PERSON.search(text) or OTHER_PERSON.search(raw.strip())
    if other:
        who = (
            (other.group("who") or other.group("also") or other.group("group") or other.group("healthy"))
            .strip()
            .lower()
        )
        return NeedsReview(text=raw, reason=f"the criterion is about someone other than the patient ({who})")
    conditional = _conditional(text, kind, cohort, studied)
    if conditional is not None:
        return conditional
    judgement = REVIEW.search(text)
    if judgement:
        return NeedsReview(
            text=raw, reason="needs a clinician's judgement (" + judgement.group(0) + ")", subjective=True
        )
    cohort_names = [*cohort_disease_names(cohort), *(n for n in studied if n not in cohort_disease_names(cohort))]
    alternatives = _alternatives(text, kind, cohort, studied)
    if alternatives is not None:
        return alternatives
    requirement = re.search(r"(?i)\b(?:if|subjects with|patients with)\b(?P<cond>.*?)\bmust\b(?P<then>.*)$", text, re.S)
    if requirement:
        cond_atoms = [a for a in _atoms(requirement.group("cond"), "inclusion", cohort_names) if a.kind == "condition"]
        if not cond_atoms:
            return NeedsReview(text=raw, reason="a conditional requirement the checker cannot decide")
        then_text = requirement.group("then")
        then_atoms = _atoms(then_text, "inclusion", cohort_names)
        then = (
            _qualify(_combine(_qualify_atoms(then_atoms, then_text), then_text, "and"), then_text)
            if then_atoms
            else NeedsReview(text=raw, reason="a requirement the checker cannot decide")
        )
        return Implies(condition=_combine(cond_atoms, requirement.group("cond"), "or"), then=then)
    atoms = _atoms(text, kind, cohort_names)
    if not atoms:
        if (
            CONSENT_ANY.search(text)
            and len(text.split()) <= 12
            and not re.search(r"(?i)\b(?:disorder|disease|illness|condition|criteria|dependence)\b", text)
        ):
            return AssumedConsent(text=raw)
        return NeedsReview(text=raw, reason="no rule the checker can apply was recognised")
    atoms = _qualify_atoms(atoms, text)
    rule = _qualify(_combine(atoms, text, "or" if kind == "exclusion" else "and"), text, atoms)
    unread_alternatives = _unread_alternatives(text, atoms)
    if unread_alternatives:
        # "A, or B, or C" where only A was read: B or C may hold instead, so A failing decides nothing,
        # while A holding still satisfies the whole "or" (inclusion) or violates it (exclusion).
        rule = AnyOf(
            rules=[
                rule,
                *(
                    NeedsReview(text=text[s:e].strip(" ,;"), reason="an alternative the checker did not read")
                    for s, e in unread_alternatives
                ),
            ]
        )
    if kind == "inclusion" and EXCLUDED_STATEMENT.search(text):
        # An exclusion written in an inclusion list ("Those with psychiatric disorders will be excluded").
        return Not(rule=rule)
    unread = _unread_words(_blank(text, unread_alternatives), atoms)
    if kind == "inclusion" and len(unread) >= 2 and rule.kind != "qualified":
        # "CVD free men and women aged 45-84", "brittle diabetes": what was read decides only when it cannot
        # be overturned by what was not; an unread word may narrow the criterion, so the outcome in which
        # the criterion holds goes to review, naming the words.
        rule = Qualified(
            rule=rule, note="part of the criterion was not read by the checker (" + " ".join(unread[:6]) + ")"
        )
    return rule


def _conditional(text: str, kind: str, cohort: str | None, studied: tuple[str, ...]) -> Rule | None:
    """A criterion led by the condition it applies under, as Implies (inclusion) or AllOf (exclusion).

    The condition is what the patient must match for the rest to apply; words of it the checker does not
    read make it undecidable rather than dropped, so a patient is never failed on an unsure condition.
    None when the criterion has no such lead (or its lead names nothing the checker knows).
    """
    for pattern in CONDITIONAL_PREFIX:
        m = pattern.match(text)
        if not m:
            continue
        cond_text, then_text = m.group("cond"), m.group("then")
        atoms = [
            a
            for a in _atoms(cond_text, "inclusion", cohort_disease_names(cohort))
            if a.kind in ("age", "condition", "sex") or a.kind.startswith("negated@")
        ]
        parts = [_combine(atoms, cond_text, "and")] if atoms else []
        for sex, word in _COND_SEX:
            if word.search(cond_text):
                parts.append(SexRule(sex=sex))
        potential = _CHILDBEARING.search(cond_text)
        if potential:
            # Only a pregnancy proves childbearing potential; otherwise a clinician decides.
            parts.append(
                AnyOf(
                    rules=[
                        ConditionRule(names=["pregnancy"], timing="current", label="pregnancy"),
                        NeedsReview(
                            text=potential.group(0),
                            reason="childbearing potential is not known from what the patient said",
                        ),
                    ]
                )
            )
        if not parts:
            continue
        cond_read = (
            cond_text[: potential.start()] + " " * len(potential.group(0)) + cond_text[potential.end() :]
            if potential
            else cond_text
        )
        unread = [
            w
            for w in _unread_words(cond_read, atoms)
            if w not in _COND_FILLER and not any(word.fullmatch(w) for _, word in _COND_SEX)
        ]
        if unread:
            parts.append(
                NeedsReview(
                    text=cond_text,
                    reason="the condition adds words the checker did not read (" + " ".join(unread[:6]) + ")",
                )
            )
        condition = parts[0] if len(parts) == 1 else AllOf(rules=parts)
        then = parse_text(then_text, kind, cohort, studied)
        # An exclusion applies only when its condition holds too; an inclusion must hold only then.
        return AllOf(rules=[condition, then]) if kind == "exclusion" else Implies(condition=condition, then=then)
    return None


ROMAN = re.compile(r"(?:(?<=\s)|^|(?<=:))\(?(i{1,3}|iv|v)\)\s*")
LETTERED = re.compile(r"(?:(?<=\s)|^|(?<=:))\(?([a-f])\)\s+")


def _split(text: str, marker: re.Pattern[str]) -> tuple[str, list[str]] | None:
    marks = list(marker.finditer(text))
    if len(marks) < 2 or marks[0].group(1) not in ("i", "a") or marks[1].group(1) not in ("ii", "b"):
        return None
    head = text[: marks[0].start()]
    parts = [text[m.end() : (marks[j + 1].start() if j + 1 < len(marks) else len(text))] for j, m in enumerate(marks)]
    parts = [re.sub(r"(?i)[\s,;]*(?:or|and)?[\s,;]*$", "", p).strip() for p in parts]
    return head, [p for p in parts if p]


def _alternatives(text: str, kind: str, cohort: str | None, studied: tuple[str, ...] = ()) -> Rule | None:
    """Enumerated sub-items: "i) … or ii) …", "a) … b) …", or lines joined by a trailing "or"."""
    split = _split(text, ROMAN)
    joiner = "or"
    if split is None:
        split = _split(text, LETTERED)
        if split is not None:
            joiner = (
                "or" if re.search(r"(?i)at least one|either|any of|one of", split[0]) or kind == "exclusion" else "and"
            )
    if split is None:
        lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
        if len(lines) >= 3 and any(re.search(r"(?i)[\s,;]or$", ln) for ln in lines[1:-1]):
            split = (lines[0], [re.sub(r"(?i)[\s,;]*or$", "", ln) for ln in lines[1:]])
    if split is None:
        return None
    head, parts = split
    items = [parse_text(p, kind, cohort, studied) for p in parts]
    body = items[0] if len(items) == 1 else (AnyOf(rules=items) if joiner == "or" else AllOf(rules=items))
    head_atoms = _atoms(head, kind, cohort_disease_names(cohort)) if head.strip() else []
    if head_atoms:
        return AllOf(rules=[_combine(head_atoms, head, "and"), body])
    return body


FILLER = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "with",
        "for",
        "to",
        "in",
        "on",
        "at",
        "by",
        "as",
        "be",
        "is",
        "are",
        "was",
        "were",
        "has",
        "have",
        "who",
        "which",
        "that",
        "this",
        "these",
        "those",
        "any",
        "all",
        "other",
        "than",
        "their",
        "his",
        "her",
        "patients",
        "patient",
        "subjects",
        "subject",
        "participants",
        "participant",
        "people",
        "adults",
        "adult",
        "adolescents",
        "children",
        "pediatric",
        "men",
        "women",
        "male",
        "female",
        "males",
        "females",
        "both",
        "aged",
        "age",
        "ages",
        "years",
        "year",
        "old",
        "older",
        "younger",
        "over",
        "under",
        "least",
        "more",
        "less",
        "diagnosis",
        "diagnosed",
        "definite",
        "definitive",
        "confirmed",
        "established",
        "documented",
        "known",
        "defined",
        "according",
        "criteria",
        "criterion",
        "classification",
        "evidence",
        "presence",
        "positive",
        "negative",
        "test",
        "testing",
        "result",
        "results",
        "meeting",
        "meets",
        "meet",
        "fulfilling",
        "fulfil",
        "fulfill",
        "must",
        "should",
        "will",
        "can",
        "screening",
        "baseline",
        "study",
        "entry",
        "visit",
        "enrollment",
        "enrolment",
        "randomization",
        "prior",
        "previous",
        "previously",
        "history",
        "current",
        "currently",
        "active",
        "within",
        "months",
        "month",
        "weeks",
        "week",
        "days",
        "day",
        "including",
        "including",
        "e",
        "g",
        "i",
        "ie",
        "eg",
        "per",
        "level",
        "levels",
        "count",
        "value",
        "values",
        "score",
        "scores",
        "units",
        "unit",
        "moderate",
        "mild",
        "severe",
        "moderately",
        "clinically",
        "disease",
        "diseases",
        "disorder",
        "disorders",
        "condition",
        "conditions",
        "american",
        "college",
        "rheumatology",
        "acr",
        "slicc",
        "eular",
        "new",
        "york",
        "modified",
        "bohan",
        "peter",
        # grammar a criterion wraps its content in: read by the structure, never a qualifier
        "having",
        "had",
        "been",
        "being",
        "received",
        "receiving",
        "undergone",
        "underwent",
        "taken",
        "taking",
        "include",
        "includes",
        "such",
        "either",
        "neither",
        "nor",
        "titer",
        "titre",
        "may",
        "also",
        "following",
        "those",
        "whom",
        "whose",
        "there",
        "then",
        "time",
        "times",
        "date",
        "equal",
        "greater",
        "lower",
        "higher",
        "above",
        "below",
        "between",
        "from",
        "not",
        "without",
    ]
)


# Cues the structure already reads: negation, exceptions, "other", qualifiers, time frames.
_READ_CUES = (
    NEG_CUE := re.compile(
        r"(?i)\b(?:no|not|non|none|never|without|free of|absence of|negative for|"
        r"excluding|excluded|exclude)\b"
    ),
    ANOTHER,
    SOFT_QUALIFIER,
    POST_QUALIFIER,
    EXCEPTION_QUALIFIER,
    EXCLUDED_STATEMENT,
    WINDOW,
    MIN_DURATION,
    CURRENT_CUE,
    EVER_CUE,
    STARTED_CUE,
    CAUSE_MASK,
)


def _unread_words(text: str, atoms: list[Atom]) -> list[str]:
    """Content words outside every recognised atom and structural cue (what the checker did not read)."""
    spans = [(a.start, a.end) for a in atoms if a.end > a.start]
    spans += exception_regions(text)
    spans += [(s, e) for s, e, _ in lexicon.find_terms(text)]  # terms merged into one atom are read too
    spans += [(m.start(), m.end()) for cue in _READ_CUES for m in cue.finditer(text)]
    spans = sorted(spans)
    out, pos = [], 0
    for s, e in spans + [(len(text), len(text))]:
        if s > pos:
            out += [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z\-]{2,}", text[pos:s]) if w.lower() not in FILLER]
        pos = max(pos, e)
    return out


# "or" joining alternatives at the top level of a criterion; "with or without", "whether or not" and
# "either/or" pairs of words ("males or females") join no alternatives of clinical content.
_OR_JOIN = re.compile(r"(?i)(?<!\bwith)(?<!\bwhether)\s*,?\s+(?:and/)?or\s+(?!without\b|not\b)")


def _unread_alternatives(text: str, atoms: list[Atom]) -> list[tuple[int, int]]:
    """Spans of the "or"-alternatives of a criterion that hold clinical words but no recognised atom.

    Only joins outside parentheses and exceptions count: "(a or b)" explains a term, and "except A or B"
    lists what is let in, rather than offering another way in.
    """
    depth, cuts = 0, [0]
    joins = {m.start(): m.end() for m in _OR_JOIN.finditer(text)}
    excepted = exception_regions(text)
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if i in joins and depth == 0 and not any(s <= i < e for s, e in excepted):
            cuts += [i, joins[i]]
    if len(cuts) == 1:
        return []
    cuts.append(len(text))
    segments = [(cuts[k], cuts[k + 1]) for k in range(0, len(cuts), 2)]
    # The outer alternatives reach only to the nearest clause break: in "negative result on a serum or
    # urine test" the first alternative is "serum", a word, not the clause before it.
    first, last = segments[0], segments[-1]
    head = max((m.end() for m in re.finditer(r"[,;:]", text[first[0] : first[1]])), default=0)
    tail = re.search(r"[,;:.]", text[last[0] : last[1]])
    segments[0] = (first[0] + head, first[1])
    segments[-1] = (last[0], last[0] + tail.start() if tail else last[1])
    # Two unread words at least make a clinical alternative ("rapidly progressive disease"); one unread word
    # coordinated with a read term ("serum or urine") is a modifier of it.
    return [
        (s, e)
        for s, e in segments
        if not any(a.start < e and a.end > s for a in atoms) and len(_unread_words(text[s:e], [])) >= 2
    ]


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with `spans` blanked out (offsets kept)."""
    for s, e in spans:
        text = text[:s] + " " * (e - s) + text[e:]
    return text


def _qualify_atoms(atoms: list[Atom], text: str) -> list[Atom]:
    """Wrap the atom a qualifier belongs to: "severe X" (next atom), "X that might …" (previous atom)."""
    numeric = any(a.kind in ("lab", "score", "dose", "age") for a in atoms)
    atoms = list(atoms)

    def wrap(i: int, word: str, qualifier: str | None = None) -> None:
        a = atoms[i]
        inner = a.rule.rule if isinstance(a.rule, Not) else a.rule
        if not isinstance(inner, Qualified):
            # "No uncontrolled hypertension" is not(uncontrolled hypertension): the qualifier stays inside
            # the negation, so controlled hypertension is never read as a violation.
            rule = Qualified(rule=inner, note=f"the criterion adds '{word}'", qualifier=qualifier)
            atoms[i] = Atom(a.start, a.end, Not(rule=rule) if isinstance(a.rule, Not) else rule, a.kind)

    for m in POST_QUALIFIER.finditer(text):
        prev = [i for i, a in enumerate(atoms) if a.end <= m.start()]
        if prev:
            wrap(prev[-1], m.group(0))
    if not numeric and not re.search(r"(?i)defined (?:as|by)", text):
        for m in SOFT_QUALIFIER.finditer(text):
            qualifier = _stated_form(m.group(0))
            nxt = [i for i, a in enumerate(atoms) if a.start >= m.end() and a.start - m.end() <= 40]
            if nxt:
                wrap(nxt[0], m.group(0), qualifier)
            else:
                for i in range(len(atoms)):
                    wrap(i, m.group(0), qualifier)
    return atoms


def _stated_form(word: str) -> str | None:
    """The qualifier as a patient would state it (facts.QUALIFIER_WORDS), None when there is none."""
    word = word.lower()
    if word == "clinically significant":
        return "significant"
    if word == "chronic or persistent":
        return None  # two alternatives: a clinician decides
    return word if word in QUALIFIER_WORDS else None


def _qualify(rule: Rule, text: str, atoms: list[Atom] | None = None) -> Rule:
    exc = EXCEPTION_QUALIFIER.search(text)
    if exc:
        rule = Qualified(rule=rule, note=f"the criterion adds '{exc.group(0)}'", review_when=[True])
    if HALF_LIFE.search(text):
        rule = Qualified(rule=rule, note="the window depends on the drug's half-life", review_when=[False])
    return rule


def parse_rule(criterion: Criterion, studied: tuple[str, ...] = ()) -> Rule:
    """The typed rule of a `Criterion` (deterministic, no LLM, never raises).

    `studied`: the canonical diseases of the trial's conditions and title (`studied_diseases`).
    """
    text = criterion.text
    try:
        return parse_text(text, criterion.kind, criterion.cohort, studied)
    except (ValueError, KeyError, IndexError, TypeError, re.error) as exc:
        # A criterion the recogniser trips on is reviewed by a person, never dropped or failed.
        return NeedsReview(text=text, reason=f"could not be parsed ({type(exc).__name__}: {exc})")
