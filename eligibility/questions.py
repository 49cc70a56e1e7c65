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

# Labs and measurements as a patient knows them.
LAB_NAMES = {
    "platelets": "platelet count",
    "wbc": "white blood cell count",
    "anc": "neutrophil count",
    "hemoglobin": "hemoglobin level",
    "creatinine": "creatinine level",
    "egfr": "kidney function result (eGFR)",
    "ast": "AST (liver enzyme) result",
    "alt": "ALT (liver enzyme) result",
    "cd4": "CD4 count",
    "ana": "ANA (antinuclear antibody) titer",
}  # the registry's measurements ask their own question (eligibility/concepts)
SCORE_NAMES = {
    "sledai": "SLEDAI lupus activity score",
    "mrss": "modified Rodnan skin score (mRSS)",
    "basdai": "BASDAI score",
    "das28": "DAS28 score",
    "mmt8": "MMT-8 muscle strength score",
    "vas": "pain score on a 0-100 mm scale (VAS)",
}
SEROLOGY_NAMES = {
    "rf": "rheumatoid factor (RF)",
    "anti_ccp": "anti-CCP antibody",
    "dsdna": "anti-dsDNA antibody",
    "hbcab": "hepatitis B core antibody",
}

# Drugs and classes whose names are not plain words; other drugs are asked about by their name.
DRUG_NAMES = {
    "anti_cd20": "an anti-CD20 drug",
    "b_cell_depleting": "a B-cell depleting drug",
    "anti_tnf": "a TNF blocker",
    "anti_il6": "an IL-6 blocker",
    "anti_il17": "an IL-17 blocker",
    "anti_blys": "a BLyS blocker",
    "il1_antagonist": "an IL-1 blocker",
    "biologic": "a biologic drug",
    "mab": "a monoclonal antibody drug",
    "immunosuppressant": "an immunosuppressant",
    "dmard": "a disease-modifying antirheumatic drug (DMARD)",
    "jak_inhibitor": "a JAK inhibitor",
    "cytotoxic": "chemotherapy",
    "corticosteroid": "a steroid",
    "antimalarial": "an antimalarial",
    "myositis_inducing": "a medicine that can cause muscle inflammation",
    "nsaid": "an anti-inflammatory painkiller (NSAID)",
    "live_vaccine": "a live vaccine",
    "ivig": "IV immunoglobulin (IVIG)",
    "plasma_exchange": "plasma exchange",
    "intra_articular": "a joint injection",
    "intra_articular_injection": "a joint injection",
    "investigational": "an investigational drug in another study",
    "investigational_drug": "an investigational drug in another study",
    "supplement": "a supplement",
    "antidiabetic": "a diabetes medicine",
    "nitrogen_mustard": "nitrogen mustard",
    "statin": "a statin",
}
_RECEIVED = frozenset(
    {
        "live_vaccine",
        "ivig",
        "plasma_exchange",
        "intra_articular",
        "intra_articular_injection",
        "cytotoxic",
        "investigational",
        "investigational_drug",
    }
)
_ALLERGENS = {"allergy_contrast": "contrast dye", "allergy_mab": "monoclonal antibody drugs"}

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
    if fact in LAB_NAMES:
        return f"What was your most recent {LAB_NAMES[fact]}?"
    if fact.endswith("_uln") and fact[:-4] in LAB_NAMES:
        return (
            f"What was your most recent {LAB_NAMES[fact[:-4]]}, compared with the upper limit of normal "
            "(for example, 2 times normal)?"
        )
    if fact in SCORE_NAMES:
        return f"What was your latest {SCORE_NAMES[fact]}?"
    if fact in SEROLOGY_NAMES:
        return f"Was your {SEROLOGY_NAMES[fact]} test positive or negative?"
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
    label = term.label
    if term.category == "allergy":
        allergen = _ALLERGENS.get(term.name) or label.removeprefix("allergy to ").removesuffix(" allergy")
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
