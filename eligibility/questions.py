"""Fact name -> one plain-language question that would give the checker that fact.

Fact names are what `UnknownCriterion.needs` lists (see `eligibility.matching`): a scalar ("age"), a
lab, score or serology test ("alt", "sledai", "anti_ccp"), a lexicon condition ("hiv",
"allergy_methotrexate"), a condition with a suffix ("tb_active", "renal_transplant_date"), a lab
relative to its normal range ("alt_uln") or a drug or drug class with a suffix ("rituximab_last_dose",
"anti_cd20_use", "corticosteroid_start"). Every one is built from the shared vocabularies, so a
name the parser can emit never reaches the user as an identifier.
"""

from __future__ import annotations

from eligibility import concepts, lexicon

_FIXED = {
    "age": "How old are you?",
    "sex": "What is your sex (female or male)?",
    "pregnancy": "Are you pregnant, or could you be?",
    "breastfeeding": "Are you breastfeeding?",
    "diagnosis": "Which condition have you been diagnosed with (for example lupus, rheumatoid arthritis, "
    "systemic sclerosis)?",
    "disease_duration": "How long ago were you diagnosed (or did your symptoms start)?",
    "prednisone_dose": "Do you take prednisone or another steroid, and what is your daily dose?",
    "hiv": "Have you ever tested positive for HIV?",
    "tb": "Have you ever had tuberculosis or a positive TB test?",
    "latent_tb": "Have you ever had a positive TB skin or blood test (latent tuberculosis)?",
    "malignancy": "Have you ever had cancer? If so, which kind and when?",
    "infection": "Do you have any infection at the moment?",
    "arthritis_symptoms": "Do you have joint pain or swelling, and for how long?",
}

# Drugs and classes whose names are not plain words; other drugs are asked about by their name.
_DRUG_ENTRIES: list[concepts.Drug | concepts.DrugClass] = [*concepts.DRUG_CLASSES.values(), *concepts.DRUGS.values()]
DRUG_NAMES: dict[str, str] = {d.id: d.label for d in _DRUG_ENTRIES if d.label is not None}
_RECEIVED = frozenset(d.id for d in _DRUG_ENTRIES if d.received)

_COUNTABLE = ("disorder", "arrhythmia", "condition")
_DRUG_SUFFIXES = ("_last_dose", "_start", "_use")
_CONDITION_SUFFIXES = ("_active", "_date")


def question_for(fact: str) -> str:
    """A plain-language question that would give the checker `fact` (always a sentence ending in "?")."""
    if fact in _FIXED:
        return _FIXED[fact]
    if fact in concepts.MEASUREMENTS:
        return concepts.MEASUREMENTS[fact].question
    if fact.endswith("_uln") and fact[:-4] in concepts.MEASUREMENTS:
        return (
            f"What was your most recent {concepts.MEASUREMENTS[fact[:-4]].label}, compared with the upper limit "
            "of normal (for example, 2 times normal)?"
        )
    if fact in concepts.SEROLOGY:
        return concepts.SEROLOGY[fact].question
    for suffix in _DRUG_SUFFIXES:
        name = fact[: -len(suffix)]
        if fact.endswith(suffix) and _is_drug(name):
            return _drug_question(name, suffix)
    if fact in lexicon.TERM_BY_NAME:
        return _condition_question(lexicon.TERM_BY_NAME[fact])
    for suffix in _CONDITION_SUFFIXES:
        name = fact[: -len(suffix)]
        if fact.endswith(suffix) and name in lexicon.TERM_BY_NAME:
            term = lexicon.TERM_BY_NAME[name]
            if suffix == "_active":
                return f"Is your {term.label} active now, or was it only in the past?"
            your = "your " if term.category == "procedure" else ""
            return f"When did you have {your}{term.label} (month and year, if you know)?"
    return f"Could you tell me more about your {fact.replace('_', ' ')}?"


def _is_drug(name: str) -> bool:
    return name in lexicon.DRUG_BY_NAME or name in lexicon.ALL_CLASSES or name in DRUG_NAMES or name == "drug"


def _drug_question(name: str, suffix: str) -> str:
    what = "any of these medicines" if name == "drug" else DRUG_NAMES.get(name, name.replace("_", " "))
    verb = "received" if name in _RECEIVED else "taken"
    if suffix == "_last_dose":
        return f"Have you ever {verb} {what}, and when was the last dose?"
    if suffix == "_start":
        return f"Are you on {what}, and when did you start it?"
    return f"Have you ever {verb} {what}, and are you still on it?"


def _condition_question(term: lexicon.Term) -> str:
    if term.question is not None:
        return term.question
    label = term.label
    if term.category == "allergy":
        allergen = label.removeprefix("allergy to ").removesuffix(" allergy")
        return f"Are you allergic to {allergen}?"
    if term.category == "infection":
        return f"Have you ever had {label}, and is it active now?"
    if term.category == "cancer":
        return f"Have you ever had {label}? If so, when?"
    if term.category == "procedure":
        return f"Have you had {label}? If so, when?"
    if term.category == "symptom":
        return f"Do you have {label}, and for how long?"
    return f"Have you been diagnosed with {_with_article(label)}?"


def _with_article(label: str) -> str:
    """ "a psychiatric disorder", "a cardiac arrhythmia"; uncountable names stay bare ("lupus nephritis")."""
    return f"a {label}" if label.endswith(_COUNTABLE) else label


_FIXED_LABELS = {
    "diagnosis": "diagnosis",
    "disease_duration": "time since diagnosis",
    "prednisone_dose": "steroid dose",
    "latent_tb": "latent tuberculosis test",
    "tb": "tuberculosis",
    "hiv": "HIV",
    "malignancy": "cancer history",
    "infection": "current infection",
    "arthritis_symptoms": "joint symptoms",
}
_DRUG_SUFFIX_WORDS = {"_last_dose": "last dose", "_start": "start date", "_use": "use"}


def fact_label(fact: str) -> str:
    """The fact in a few plain words for a list ("anti-dsDNA antibody", "rituximab (last dose)"), never the
    checker's internal name."""
    if fact in _FIXED_LABELS:
        return _FIXED_LABELS[fact]
    if fact in concepts.MEASUREMENTS:
        return concepts.MEASUREMENTS[fact].label
    if fact.endswith("_uln") and fact[:-4] in concepts.MEASUREMENTS:
        return f"{concepts.MEASUREMENTS[fact[:-4]].label} (times the upper limit of normal)"
    if fact in concepts.SEROLOGY:
        return concepts.SEROLOGY[fact].label
    for suffix, words in _DRUG_SUFFIX_WORDS.items():
        name = fact[: -len(suffix)]
        if fact.endswith(suffix) and _is_drug(name):
            what = "any of the listed medicines" if name == "drug" else DRUG_NAMES.get(name, name.replace("_", " "))
            return f"{what} ({words})"
    if fact in lexicon.TERM_BY_NAME:
        return lexicon.TERM_BY_NAME[fact].label
    for suffix, words in (("_active", "active now?"), ("_date", "when")):
        name = fact[: -len(suffix)]
        if fact.endswith(suffix) and name in lexicon.TERM_BY_NAME:
            return f"{lexicon.TERM_BY_NAME[name].label} ({words})"
    return fact.replace("_", " ")
