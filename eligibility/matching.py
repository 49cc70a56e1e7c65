"""Rule x patient facts -> Outcome (true / false / unknown / review), with a plain-words reason.

Three-valued (Kleene) logic: unknown facts stay unknown, never guessed. A rule is a predicate about
the patient; whether True is good or bad is decided by the criterion's kind in `evaluate.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

from eligibility import concepts, lexicon, units
from eligibility.facts import Diagnosis, Measurement, Medication, PatientFacts
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

# Infections that do not go away (registry flag `chronic`): a history of them is current.
CHRONIC = frozenset(c.id for c in concepts.CONDITIONS.values() if c.chronic)
_OP_WORDS = {"<": "below", "<=": "at or below", ">": "above", ">=": "at or above"}


@dataclass(frozen=True, slots=True)
class Outcome:
    value: bool | None
    reason: str = ""
    needs: tuple[str, ...] = ()
    review: bool = False
    said: tuple[str, ...] = ()  # the patient's own words the outcome rests on (the facts' source spans)


@dataclass
class FactIndex:
    """Lookups over one patient's facts, built once per check."""

    facts: PatientFacts
    diag: dict[str, list[Diagnosis]] = field(default_factory=dict)
    negated: set[str] = field(default_factory=set)
    primary: set[str] = field(default_factory=set)
    stated_primary: set[str] = field(default_factory=set)
    meds: list[Medication] = field(default_factory=list)
    neg_meds: set[str] = field(default_factory=set)
    labs: dict[str, Measurement] = field(default_factory=dict)
    scores: dict[str, Measurement] = field(default_factory=dict)
    keys: frozenset[str] = frozenset()  # what the patient told, in the vocabulary of `dependencies`
    by_qualifier: dict[str, FactIndex] = field(default_factory=dict)  # see `stated`

    @classmethod
    def build(cls, facts: PatientFacts) -> FactIndex:
        idx = cls(facts)
        for d in facts.diagnoses:
            if d.family or d.hypothetical:
                continue
            if d.negated:
                idx.negated.add(d.name)
                continue
            if d.name in lexicon.PRIMARY_DISEASES:
                idx.stated_primary.add(d.name)
            for name in lexicon.ancestors(d.name):
                idx.diag.setdefault(name, []).append(d)
                if name in lexicon.PRIMARY_DISEASES:
                    idx.primary.add(name)
        for m in facts.medications:
            (idx.neg_meds.add(m.name) if m.negated else idx.meds.append(m))
        idx.labs = {m.name: m for m in facts.labs}
        idx.scores = {m.name: m for m in facts.scores}
        idx.keys = frozenset(_patient_keys(idx))
        return idx

    def stated(self, qualifier: str) -> FactIndex:
        """An index of only the patient's conditions stated with `qualifier` (built once per qualifier)."""
        hit = self.by_qualifier.get(qualifier)
        if hit is None:
            kept = [d for d in self.facts.diagnoses if qualifier in d.qualifiers]
            hit = FactIndex.build(PatientFacts(today=self.facts.today, diagnoses=kept))
            self.by_qualifier[qualifier] = hit
        return hit

    def is_negated(self, name: str) -> bool:
        return name in self.negated or bool(lexicon.ancestors(name) & self.negated)


def _patient_keys(idx: FactIndex) -> set[str]:
    f = idx.facts
    keys = {
        k
        for k, v in (
            ("age", f.age),
            ("sex", f.sex),
            ("weight", f.weight_kg),
            ("pregnant", f.pregnant),
            ("breastfeeding", f.breastfeeding),
        )
        if v is not None
    }
    keys |= {"diag:" + n for n in idx.diag} | {"diag:" + n for n in idx.negated}
    if idx.stated_primary:
        keys.add("primary")
    if any(d.onset for ds in idx.diag.values() for d in ds):
        keys.add("onset")
    for m in idx.meds:
        keys.add("med:" + m.name)
        keys |= {"medclass:" + c for c in m.classes}
    if idx.neg_meds:
        keys.add("medneg")
    keys |= {"lab:" + n for n in idx.labs} | {"score:" + n for n in idx.scores}
    if f.medications_complete:
        keys.add("meds_complete")
    return keys


def dependencies(rule: Rule) -> frozenset[str]:
    """Patient facts that can change the rule's outcome (see `_patient_keys`).

    A rule whose dependencies the patient did not mention has the outcome it has for an empty patient,
    which `evaluate.py` computes once per rule instead of once per patient.
    """
    match rule:
        case AllOf() | AnyOf():
            return frozenset().union(*(dependencies(r) for r in rule.rules))
        case Not() | Qualified():
            return dependencies(rule.rule)
        case Implies():
            return dependencies(rule.condition) | dependencies(rule.then)
        case AgeRule() | SexRule():
            return frozenset({rule.kind})
        case DiagnosisRule() | ConditionRule():
            if rule.names and rule.names[0] in ("pregnancy", "breastfeeding"):
                return frozenset({"pregnant" if rule.names[0] == "pregnancy" else "breastfeeding"})
            deps = {"diag:" + a for n in rule.names for a in lexicon.ancestors(n)}
            if isinstance(rule, DiagnosisRule) and rule.closed_world:
                deps.add("primary")
            return frozenset(deps)
        case LabRule():
            return frozenset({"lab:" + rule.analyte})
        case SerologyRule():
            return frozenset({"lab:" + rule.test})
        case ScoreRule():
            return frozenset({"score:" + rule.score})
        case ExposureRule():
            return frozenset(
                {"med:" + d for d in rule.drugs}
                | {"med:" + c for c in rule.classes}
                | {"medclass:" + c for c in rule.classes}
                | {"medneg", "meds_complete"}
            )
        case DoseRule():
            return frozenset({"medclass:" + rule.drug_class, "medneg", "meds_complete", "weight"})
        case DurationRule():
            return frozenset({"onset"})
    return frozenset()


EMPTY: FactIndex | None = None  # FactIndex of a patient who said nothing; built on first use


def empty_index() -> FactIndex:
    global EMPTY
    if EMPTY is None:
        EMPTY = FactIndex.build(PatientFacts(today=date(2000, 1, 1)))
    return EMPTY


def _cmp(v: float, op: str, t: float) -> bool:
    return v < t if op == "<" else v <= t if op == "<=" else v > t if op == ">" else v >= t


def _since(today: date, when: date) -> float:
    return (today - when).days


def _ago(today: date, when: date | None) -> float | None:
    return None if when is None else _since(today, when)


def _years(days: float) -> str:
    if days >= 365:
        return f"{units.fmt(round(days / 365.25, 1))} years"
    return f"{units.fmt(round(days / 30.4375, 1))} months" if days >= 56 else f"{int(round(days))} days"


def _said(*spans: str | None) -> tuple[str, ...]:
    """The patient's words behind an outcome: the facts' source spans, each once, in order."""
    return tuple(dict.fromkeys(" ".join(s.split()) for s in spans if s and s.strip()))


def _negated_spans(names: list[str], idx: FactIndex) -> tuple[str, ...]:
    """Where the patient denied one of `names` or a parent of it ("no cancer" denies breast cancer)."""
    wanted = {a for n in names for a in lexicon.ancestors(n)} | set(names)
    return _said(*(d.span for d in idx.facts.diagnoses if d.negated and d.name in wanted))


# --- leaves --------------------------------------------------------------------------------


def age(rule: AgeRule, idx: FactIndex) -> Outcome:
    a = idx.facts.age
    if a is None:
        return Outcome(None, needs=("age",))
    out = _out_of_range(a, rule)
    said = _said(idx.facts.spans.get("age"))
    if out is not None:
        side, bound = out
        limit = "minimum" if side == "below" else "maximum"
        return Outcome(False, f"age {units.fmt(a)} is {side} the {limit} of {units.fmt(bound)}", said=said)
    return Outcome(True, f"age {units.fmt(a)} is within the allowed range", said=said)


def _out_of_range(value: float, rule: AgeRule | ScoreRule) -> tuple[Literal["below", "above"], float] | None:
    """("below", min) or ("above", max) when `value` falls outside the rule's bounds (with their inclusivity)."""
    if rule.min is not None and not _cmp(value, ">=" if rule.min_inclusive else ">", rule.min):
        return "below", rule.min
    if rule.max is not None and not _cmp(value, "<=" if rule.max_inclusive else "<", rule.max):
        return "above", rule.max
    return None


def sex(rule: SexRule, idx: FactIndex) -> Outcome:
    if rule.sex == "all":
        return Outcome(True, "open to all sexes")
    s = idx.facts.sex
    if s is None:
        return Outcome(None, needs=("sex",))
    return Outcome(
        s == rule.sex,
        f"the trial is for {rule.sex} participants; the patient is {s}",
        said=_said(idx.facts.spans.get("sex")),
    )


def _inactive(name: str) -> bool:
    term = lexicon.TERM_BY_NAME.get(name)
    return term is not None and term.inactive


def _matches(names: list[str], except_names: list[str], idx: FactIndex) -> list[Diagnosis]:
    out, seen = [], set()
    exc = set(except_names)
    for n in names:
        for d in idx.diag.get(n, ()):
            if id(d) in seen or (exc and (lexicon.ancestors(d.name) & exc)):
                continue
            seen.add(id(d))
            out.append(d)
    return out


def diagnosis(rule: DiagnosisRule, idx: FactIndex) -> Outcome:
    found = _matches(rule.names, rule.except_names, idx)
    if found:
        note = f" (taken to meet the {rule.qualifier} criteria)" if rule.qualifier else ""
        return Outcome(True, f"the patient has {found[0].label}{note}", said=_said(found[0].span))
    if all(idx.is_negated(n) for n in rule.names):
        return Outcome(False, f"the patient reports no {rule.label}", said=_negated_spans(rule.names, idx))
    if rule.closed_world:
        others = sorted(n for n in idx.stated_primary if not (lexicon.ancestors(n) & set(rule.names)))
        if others:
            labels = ", ".join(lexicon.TERM_BY_NAME[o].label for o in others if o in lexicon.TERM_BY_NAME)
            return Outcome(
                False,
                f"the patient's diagnosis ({labels}) is not {rule.label}",
                said=_said(*(d.span for o in others for d in idx.diag.get(o, ()))),
            )
    return Outcome(None, needs=("diagnosis",) if rule.closed_world else (rule.names[0],))


def condition(rule: ConditionRule, idx: FactIndex) -> Outcome:
    f = idx.facts
    if rule.names[0] in ("pregnancy", "breastfeeding"):
        value = f.pregnant if rule.names[0] == "pregnancy" else f.breastfeeding
        if value is None:
            return Outcome(None, needs=(rule.names[0],))
        return Outcome(
            value,
            f"the patient is {'' if value else 'not '}{'pregnant' if rule.names[0] == 'pregnancy' else 'breastfeeding'}",
            said=_said(f.spans.get("pregnant" if rule.names[0] == "pregnancy" else "breastfeeding")),
        )
    found = _matches(rule.names, rule.except_names, idx)
    if found:
        unknown_need = None
        false_reason = None
        said = _said(*(d.span for d in found))
        for d in found:
            one = _said(d.span)
            if rule.timing == "ever":
                return Outcome(True, f"the patient has a history of {d.label}", said=one)
            if rule.timing == "current" and d.name not in rule.names and _inactive(d.name):
                # "No active tuberculosis" and a stated latent tuberculosis: the patient named the inactive state.
                false_reason = f"{d.label} is not active {rule.label}"
                continue
            current = not d.historical or d.category in ("disease", "symptom") or d.name in CHRONIC
            if rule.timing in ("current", "unspecified"):
                if current:
                    return Outcome(True, f"the patient has {d.label}", said=one)
                unknown_need = unknown_need or f"{d.name}_active"
                continue
            # window
            if current and not (d.when or d.onset):
                return Outcome(True, f"the patient has {d.label}", said=one)
            when = d.when or d.onset
            if when is None:
                unknown_need = unknown_need or f"{d.name}_date"
                continue
            ago = _since(f.today, when)
            if current and d.category in ("disease", "symptom"):
                return Outcome(True, f"the patient has {d.label}", said=one)
            if rule.window_days is None:  # a window the parser did not bound: any time counts
                return Outcome(True, f"the patient has a history of {d.label}", said=one)
            if ago <= rule.window_days:
                return Outcome(
                    True, f"{d.label} {_years(ago)} ago is within the {_years(rule.window_days)} window", said=one
                )
            false_reason = f"{d.label} was {_years(ago)} ago, outside the {_years(rule.window_days)} window"
        if unknown_need:
            return Outcome(None, needs=(unknown_need,), said=said)
        return Outcome(False, false_reason or f"no current {rule.label}", said=said)
    if all(idx.is_negated(n) for n in rule.names):
        return Outcome(False, f"the patient reports no {rule.label}", said=_negated_spans(rule.names, idx))
    return Outcome(None, needs=(rule.names[0],))


def lab(rule: LabRule, idx: FactIndex) -> Outcome:
    m = idx.labs.get(rule.analyte)
    label = concepts.label(rule.analyte) or rule.analyte
    if m is None:
        return Outcome(None, needs=(rule.analyte,))
    if rule.uln:
        if m.uln_multiple is None:
            return Outcome(None, needs=(f"{rule.analyte}_uln",))
        v, shown = m.uln_multiple, f"{units.fmt(m.uln_multiple)}x ULN"
    else:
        if m.normalized is None:
            if rule.analyte == "ana" and m.positive is False:
                return Outcome(False, "ANA is negative", said=_said(m.span))
            return Outcome(None, needs=(rule.analyte,))
        v = m.normalized
        # As stated (a normalized value always has the stated one it came from; else the normalized one).
        stated = m.value if m.value is not None else v
        shown = f"{units.fmt(stated)} {m.unit}" if m.unit else f"{units.fmt(stated)}"
    ok = _cmp(v, rule.op, rule.value)
    word = _OP_WORDS[rule.op] if ok else {"<": "not below", "<=": "above", ">": "not above", ">=": "below"}[rule.op]
    return Outcome(ok, f"{label} {shown} is {word} the limit of the criterion ({rule.text})", said=_said(m.span))


def score(rule: ScoreRule, idx: FactIndex) -> Outcome:
    m = idx.scores.get(rule.score)
    label = concepts.label(rule.score) or rule.score
    if m is None or m.value is None:
        return Outcome(None, needs=(rule.score,))
    v = m.value
    out = _out_of_range(v, rule)
    side = out[0] if out else None
    said = _said(m.span)
    if side == "below":
        return Outcome(False, f"{label} {units.fmt(v)} is below the required {rule.text}", said=said)
    if side == "above":
        return Outcome(False, f"{label} {units.fmt(v)} is above the allowed {rule.text}", said=said)
    return Outcome(True, f"{label} {units.fmt(v)} meets {rule.text}", said=said)


def serology(rule: SerologyRule, idx: FactIndex) -> Outcome:
    m = idx.labs.get(rule.test)
    if m is None or m.positive is None:
        return Outcome(None, needs=(rule.test,))
    return Outcome(
        m.positive == rule.positive,
        f"{rule.test.replace('_', '-')} is {'positive' if m.positive else 'negative'}",
        said=_said(m.span),
    )


def _med_matches(rule: ExposureRule, m: Medication) -> bool:
    if rule.except_classes and any(c in rule.except_classes for c in m.classes):
        return False
    return m.name in rule.drugs or m.name in rule.classes or any(c in rule.classes for c in m.classes)


def _neg_covers(rule: ExposureRule, neg: set[str]) -> bool:
    """The patient denied every drug/class the rule asks about ("never had biologics")."""

    def covered(item: str, is_class: bool) -> bool:
        if item in neg:
            return True
        if is_class:
            return any(lexicon.class_covers(n, item) for n in neg if n in lexicon.ALL_CLASSES)
        return any(n in lexicon.drug_classes(item) for n in neg)

    items = [(d, False) for d in rule.drugs] + [(c, True) for c in rule.classes]
    return bool(items) and all(covered(i, c) for i, c in items)


def _need_name(rule: ExposureRule) -> str:
    base = (rule.drugs or rule.classes or ["drug"])[0]
    suffix = {"window": "last_dose", "started": "start", "ever": "use", "current": "use"}.get(rule.timing, "use")
    return f"{base}_{suffix}"


def exposure(rule: ExposureRule, idx: FactIndex) -> Outcome:
    """`_exposure`, quoting the patient's words about the drugs it matched (or denied)."""
    out = _exposure(rule, idx)
    if out.value is False and not any(_med_matches(rule, m) for m in idx.meds):
        denied = [m.span for m in idx.facts.medications if m.negated and _neg_covers(rule, {m.name})]
        return replace(out, said=_said(*denied)) if denied else out
    return replace(out, said=_said(*(m.span for m in idx.meds if _med_matches(rule, m))))


def _exposure(rule: ExposureRule, idx: FactIndex) -> Outcome:
    f = idx.facts
    found = [m for m in idx.meds if _med_matches(rule, m)]
    unknown = False
    false_reason = None
    for m in found:
        if rule.min_duration_days is not None:
            if m.current is False:
                false_reason = f"the patient is no longer on {m.name}"
                continue
            lasted = m.duration_days if m.duration_days is not None else _ago(f.today, m.started)
            if m.current and lasted is not None:
                if lasted >= rule.min_duration_days:
                    return Outcome(True, f"on {m.name} for {_years(lasted)}")
                false_reason = f"on {m.name} for only {_years(lasted)}, less than {_years(rule.min_duration_days)}"
                continue
            unknown = True
            continue
        if rule.timing == "ever":
            return Outcome(True, f"the patient has received {m.name}")
        if rule.timing == "current":
            if m.current:
                return Outcome(True, f"the patient is on {m.name}")
            if m.current is None:
                unknown = True
            else:
                false_reason = f"the patient is not currently on {m.name}"
            continue
        if rule.timing == "started":
            if m.started is None:
                unknown = True
                continue
            started = _since(f.today, m.started)
            if rule.window_days is None or started <= rule.window_days:
                return Outcome(True, f"{m.name} was started {_years(started)} ago")
            false_reason = f"{m.name} was started {_years(started)} ago"
            continue
        if m.current:
            return Outcome(True, f"the patient is currently on {m.name}")
        ago = _ago(f.today, m.last_taken)
        if ago is None:
            unknown = True
            continue
        if rule.window_days is None:  # a window the parser did not bound: any time counts
            return Outcome(True, f"the patient has received {m.name}")
        if ago <= rule.window_days:
            return Outcome(True, f"{m.name} {_years(ago)} ago is within the {_years(rule.window_days)} window")
        false_reason = f"{m.name} was {_years(ago)} ago, outside the {_years(rule.window_days)} window"
    if unknown:
        return Outcome(None, needs=(_need_name(rule),))
    if false_reason:
        return Outcome(False, false_reason)
    if _neg_covers(rule, idx.neg_meds):
        return Outcome(False, f"the patient reports no {rule.label}")
    if f.medications_complete and rule.timing == "current":
        # "No other medications" tells today's list, not what was taken before.
        return Outcome(False, f"{rule.label} is not among the patient's treatments")
    return Outcome(None, needs=(_need_name(rule),))


def dose(rule: DoseRule, idx: FactIndex) -> Outcome:
    """`_dose`, quoting the patient's words about the drugs of its class."""
    out = _dose(rule, idx)
    return replace(out, said=_said(*(m.span for m in idx.meds if rule.drug_class in m.classes)))


def _dose(rule: DoseRule, idx: FactIndex) -> Outcome:
    f = idx.facts
    steroids = [m for m in idx.meds if rule.drug_class in m.classes]
    relevant = []
    for m in steroids:
        ago = _ago(f.today, m.last_taken)
        if m.current or (ago is not None and rule.window_days is not None and ago <= rule.window_days):
            relevant.append(m)
        elif m.current is None and ago is None:
            return Outcome(None, needs=("prednisone_dose",))
    if not relevant:
        if (
            steroids
            or rule.drug_class in idx.neg_meds
            or f.medications_complete
            or any(n in idx.neg_meds for n in ("prednisone", "corticosteroid"))
        ):
            return Outcome(
                False, "the patient takes no corticosteroid" if not steroids else "no corticosteroid in the time frame"
            )
        return Outcome(None, needs=("prednisone_dose",))
    doses: list[tuple[float, str]] = []
    for m in relevant:
        if m.dose is None:
            return Outcome(None, needs=("prednisone_dose",))
        drug = lexicon.DRUG_BY_NAME.get(m.name)
        factor = drug.prednisone_factor if drug and drug.prednisone_factor else 1.0
        mg = m.dose * (1000.0 if m.unit == "g" else 0.001 if m.unit in ("mcg", "µg", "ug") else 1.0)
        daily = mg * factor * (m.frequency_per_day or 1.0)
        if rule.per_kg and not m.per_kg:
            if f.weight_kg is None:
                return Outcome(None, needs=("weight",))
            value, shown = daily / f.weight_kg, f"{units.fmt(daily)} mg/day at {units.fmt(f.weight_kg)} kg"
        else:
            value, shown = daily, f"{units.fmt(daily)} mg/day prednisone equivalent"
        doses.append((value, shown))
    value, shown = max(doses)
    ok = _cmp(value, rule.op, rule.value)
    return Outcome(ok, f"{shown} ({units.fmt(value)}) is {'' if ok else 'not '}{_OP_WORDS[rule.op]} {rule.text}")


def duration(rule: DurationRule, idx: FactIndex) -> Outcome:
    f = idx.facts
    names = list(rule.names) or sorted(idx.primary)
    if rule.subject == "symptoms":
        names = names + ["arthritis_symptoms"]
    dated = [d for n in names for d in idx.diag.get(n, ()) if d.onset is not None]
    if not dated:
        return Outcome(None, needs=("disease_duration",))
    days = max(_since(f.today, d.onset) for d in dated if d.onset is not None)
    said = _said(*(d.span for d in dated))
    if rule.min_days is not None and not _cmp(days, ">=" if rule.min_inclusive else ">", rule.min_days):
        return Outcome(False, f"{rule.subject} for {_years(days)}, shorter than required ({rule.text})", said=said)
    if rule.max_days is not None and not _cmp(days, "<=" if rule.max_inclusive else "<", rule.max_days):
        return Outcome(False, f"{rule.subject} for {_years(days)}, longer than allowed ({rule.text})", said=said)
    return Outcome(True, f"{rule.subject} for {_years(days)} ({rule.text})", said=said)


# --- structure -----------------------------------------------------------------------------


def evaluate(rule: Rule, idx: FactIndex, kind: str) -> Outcome:
    """Outcome of `rule` for the patient; `kind` (inclusion/exclusion) only matters for consent."""
    match rule:
        case AgeRule():
            return age(rule, idx)
        case SexRule():
            return sex(rule, idx)
        case DiagnosisRule():
            return diagnosis(rule, idx)
        case ConditionRule():
            return condition(rule, idx)
        case LabRule():
            return lab(rule, idx)
        case ScoreRule():
            return score(rule, idx)
        case SerologyRule():
            return serology(rule, idx)
        case ExposureRule():
            return exposure(rule, idx)
        case DoseRule():
            return dose(rule, idx)
        case DurationRule():
            return duration(rule, idx)
        case AllOf():
            return _all_of([evaluate(r, idx, kind) for r in rule.rules])
        case AnyOf():
            return _any_of([evaluate(r, idx, kind) for r in rule.rules])
        case Not():
            o = evaluate(rule.rule, idx, kind)
            return o if o.value is None else Outcome(not o.value, o.reason, o.needs, o.review, o.said)
        case Implies():
            c = evaluate(rule.condition, idx, kind)
            if c.value is False:
                return Outcome(True, f"does not apply ({c.reason})")
            t = evaluate(rule.then, idx, kind)
            if c.value is True or t.value is True:
                return t
            return _unknown([c, t])
        case Qualified():
            return _qualified(rule, idx, kind)
        case AssumedConsent():
            return Outcome(kind == "inclusion", "consent and willingness are assumed")
        case NeedsReview():
            return Outcome(None, rule.reason, review=True)


def _all_of(outs: list[Outcome]) -> Outcome:
    for o in outs:
        if o.value is False:
            return o
    if all(o.value is True for o in outs):
        reasons = [o.reason for o in outs if o.reason]
        # "the patient has HIV (stated as uncontrolled)" already says "the patient has HIV".
        return Outcome(
            True,
            "; ".join(dict.fromkeys(r for r in reasons if not any(r != x and r in x for x in reasons))),
            said=_said(*(q for o in outs for q in o.said)),
        )
    return _unknown(outs)


def _any_of(outs: list[Outcome]) -> Outcome:
    for o in outs:
        if o.value is True:
            return o
    if all(o.value is False for o in outs):
        return Outcome(
            False,
            "; ".join(dict.fromkeys(o.reason for o in outs if o.reason)),
            said=_said(*(q for o in outs for q in o.said)),
        )
    return _unknown(outs)


def _qualified(rule: Qualified, idx: FactIndex, kind: str) -> Outcome:
    o = evaluate(rule.rule, idx, kind)
    if o.value is not None and o.value in rule.review_when:
        if o.value is True and kind == "exclusion" and rule.qualifier and _conditions_only(rule.rule):
            # The patient's own words carry the qualifier ("uncontrolled HIV"): the exclusion holds on
            # those conditions alone. An unqualified fact ("HIV positive") never gets here. Inclusions
            # stay with the clinician: a misread inclusion must never make anyone eligible.
            stated = evaluate(rule.rule, idx.stated(rule.qualifier), kind)
            if stated.value is True:
                return Outcome(True, f"{stated.reason} (stated as {rule.qualifier})", said=stated.said)
        return Outcome(None, f"{o.reason}; a clinician must confirm because {rule.note}", review=True, said=o.said)
    return o


def _conditions_only(rule: Rule) -> bool:
    """A positive combination of diagnosis/condition leaves (no negation, numbers or drugs)."""
    if isinstance(rule, AllOf | AnyOf):
        return all(_conditions_only(r) for r in rule.rules)
    return isinstance(rule, DiagnosisRule | ConditionRule) and rule.names[0] not in ("pregnancy", "breastfeeding")


MAX_NEEDS = 8  # a criterion naming dozens of unknown facts is reviewed, not turned into a questionnaire


def _unknown(outs: list[Outcome]) -> Outcome:
    needs: dict[str, None] = {}
    review = False
    reasons: dict[str, None] = {}
    said: dict[str, None] = {}
    for o in outs:
        if o.value is None:
            said.update(dict.fromkeys(o.said))
            needs.update(dict.fromkeys(o.needs))
            review = review or o.review
            if o.reason and len(reasons) < 3:
                reasons[o.reason] = None
    if len(needs) > MAX_NEEDS:
        return Outcome(None, "; ".join(reasons) or "too many unknown facts to ask about", review=True, said=tuple(said))
    return Outcome(None, "; ".join(reasons), tuple(needs), review and not needs, tuple(said))
