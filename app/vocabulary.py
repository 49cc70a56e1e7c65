"""Word lists shared by the turn understanding, the search query builder and the gate.

The condition synonyms are derived from the concept registry (eligibility/concepts/*.yaml): a clinician
extends them there, once, for the checker and the search alike.
"""

from __future__ import annotations

import re
from functools import lru_cache

import exrex

from eligibility import concepts as registry
from eligibility import lexicon

# Search synonyms come from the concept registry (eligibility/concepts): one group per disease or procedure
# and one per condition group ("autoimmune disease"), so the words a search expands a condition into are
# the words the checker reads it by. A group is the plain label first, then every spelling of its names
# (registry spellings are small regular expressions, enumerated by exrex; one that stands for more than
# _MAX_SPELLINGS strings is left to its label and the other names).
_SEARCHED = frozenset({"disease", "procedure"})
_MAX_SPELLINGS = 64


def _spellings(pattern: str, lower: bool = True) -> list[str]:
    # "transplant\w*" is spelled by its stem: the open ending only lets the checker read inflections.
    plain = pattern.replace("\\b", "").replace("\\w*", "")
    if exrex.count(plain, limit=2) > _MAX_SPELLINGS:
        return []
    out = [" ".join(w.split()) for w in exrex.generate(plain, limit=2)]
    return [w.lower() if lower else w for w in out if w.strip()]


def _group(label: str, patterns: tuple[str, ...], abbreviations: tuple[str, ...] = ()) -> tuple[str, ...]:
    names = [label.lower()]
    for p in patterns:
        names += _spellings(p)
    for a in abbreviations:
        names += [w.lower() for w in _spellings(a, lower=False)]
    names = list(dict.fromkeys(names))
    # A spelling holding a shorter one ("mesenchymal stem cells" holds "stem cell") finds nothing more and
    # would only weigh the query towards its words; the label stays first whatever it holds.
    return (names[0], *(n for n in names[1:] if not any(m != n and f" {m} " in f" {n} " for m in names[1:])))


# Registry id -> its group, in registry order (longer, more specific entries first).
_GROUP_BY_ID: dict[str, tuple[str, ...]] = {
    **{
        c.id: _group(c.label, c.names, c.case_sensitive)
        for c in registry.CONDITIONS.values()
        if c.category in _SEARCHED
    },
    **{g.id: _group(min(_spellings(g.phrases[-1]), key=len), g.phrases) for g in registry.CONDITION_GROUPS.values()},
}
# Product words of cell therapies that name no clinical concept, so the registry has no entry for them.
_PRODUCT_GROUPS: tuple[tuple[str, ...], ...] = (
    ("umbilical cord", "umbilical cord-derived", "cord-derived"),
    ("bone marrow", "marrow-derived", "bone marrow-derived"),
)
# Groups of names for the same condition or product; a mention of any member matches every member.
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (*_GROUP_BY_ID.values(), *_PRODUCT_GROUPS)


# A condition's group label -> the groups of the conditions it is directly a kind of (lupus nephritis -> SLE):
# a trial of the broader disease takes patients with the narrower one, never the other way round. One level
# only: a lupus nephritis patient is not looking for every connective-tissue-disease trial.
BROADER: dict[str, tuple[tuple[str, ...], ...]] = {
    group[0]: tuple(_GROUP_BY_ID[p] for p in registry.CONDITIONS[cid].parents if p in _GROUP_BY_ID)
    for cid, group in _GROUP_BY_ID.items()
    if cid in registry.CONDITIONS
}


def _written_abbreviations() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for c in registry.CONDITIONS.values():
        if c.category in _SEARCHED:
            for written in (w for a in c.case_sensitive for w in _spellings(a, lower=False)):
                out[written.lower()] = (*out.get(written.lower(), ()), written)
    return out


# Abbreviations that only count when written in capitals ("AS", not "as"): lower case -> written forms.
# Search leaves them out of query words; mentions are found by the checker's lexicon, which knows them.
CASE_SENSITIVE: dict[str, tuple[str, ...]] = _written_abbreviations()

COUNTRY_WORDS: dict[str, str] = {
    "korea": "korea",
    "korean": "korea",
    "south korea": "korea",
    "pakistan": "pakistan",
    "pakistani": "pakistan",
    "canada": "canada",
    "canadian": "canada",
    "united states": "united states",
    "usa": "united states",
    "u.s.": "united states",
    "america": "united states",
    "american": "united states",
    "us": "united states",
    "france": "france",
    "french": "france",
    "china": "china",
    "chinese": "china",
    "germany": "germany",
    "german": "germany",
    "japan": "japan",
    "japanese": "japan",
    "spain": "spain",
    "spanish": "spain",
    "italy": "italy",
    "italian": "italy",
    "united kingdom": "united kingdom",
    "uk": "united kingdom",
    "british": "united kingdom",
    "brazil": "brazil",
    "india": "india",
    "iran": "iran",
    "egypt": "egypt",
    "turkey": "turkey",
}

# Registries whose trials are run in one country even when the record lists no site.
REGISTRY_COUNTRY = {"KCT": "korea"}

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "aren't",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "isn't",
        "it",
        "its",
        "itself",
        "just",
        "let",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "per",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "tell",
        "give",
        "show",
        "list",
        "please",
        "there's",
        "what's",
        "i'm",
        "i've",
        "it's",
        "does",
        "do",
        "get",
        "gets",
        "got",
        "one",
        "ones",
    ]
)

# Words that frame a sentence about a trial without carrying a fact of their own; the citation check
# ignores them so "The status of NCT03171194 is COMPLETED" is judged on "COMPLETED" only.
FRAME_WORDS = frozenset(
    [
        "trial",
        "trials",
        "study",
        "studies",
        "participant",
        "participants",
        "patient",
        "patients",
        "people",
        "subject",
        "subjects",
        "status",
        "phase",
        "enrollment",
        "enrolment",
        "planned",
        "actual",
        "target",
        "sponsor",
        "sponsors",
        "sponsored",
        "lead",
        "start",
        "started",
        "starts",
        "completion",
        "complete",
        "completed",
        "date",
        "dates",
        "listed",
        "lists",
        "says",
        "say",
        "document",
        "documents",
        "record",
        "records",
        "registry",
        "page",
        "section",
        "sections",
        "criterion",
        "criteria",
        "inclusion",
        "exclusion",
        "include",
        "includes",
        "eligibility",
        "arm",
        "arms",
        "group",
        "groups",
        "intervention",
        "interventions",
        "outcome",
        "outcomes",
        "measure",
        "measures",
        "primary",
        "secondary",
        "location",
        "locations",
        "site",
        "sites",
        "country",
        "countries",
        "investigator",
        "investigators",
        "principal",
        "chair",
        "reference",
        "references",
        "design",
        "summary",
        "description",
        "condition",
        "conditions",
        "receive",
        "receives",
        "received",
        "will",
        "be",
        "been",
        "given",
        "uses",
        "use",
        "using",
        "run",
        "runs",
        "conducted",
        "held",
        "takes",
        "take",
        "place",
        "number",
        "total",
        "aims",
        "aim",
        "purpose",
        "about",
    ]
)

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


def words(text: str) -> list[str]:
    """Lower-case word tokens (hyphenated and apostrophe words kept whole)."""
    return _WORD.findall(text.lower())


def normalized(text: str) -> str:
    """Text as space-separated lower-case tokens with a space at each end, for phrase lookups."""
    return " " + " ".join(words(text)) + " "


def contains_phrase(norm_text: str, phrase: str) -> bool:
    """Whether a phrase occurs as whole words in text made by `normalized`."""
    return normalized(phrase) in norm_text


def mentioned_groups(text: str) -> list[tuple[str, ...]]:
    """The synonym groups a text mentions, found by the checker's own lexicon (capitals rule for short
    abbreviations, abbreviations that mean something else in context, the words only patients use).

    A name inside a longer matched name counts once, for the longer: "lupus nephritis" names lupus
    nephritis, not lupus in general.
    """
    ids = [term.name for _, _, term in lexicon.find_terms(text, patient=True)]
    ids += [gid for gid, pattern in _GROUP_PATTERNS if pattern.search(text)]
    found = [_GROUP_BY_ID[i] for i in dict.fromkeys(ids) if i in _GROUP_BY_ID]
    norm = normalized(text)
    found += [g for g in _PRODUCT_GROUPS if any(contains_phrase(norm, n) for n in g)]
    return found


_GROUP_PATTERNS = tuple(
    (g.id, re.compile("|".join(rf"(?i:\b{p}\b)" for p in g.phrases))) for g in registry.CONDITION_GROUPS.values()
)


def mentioned_countries(text: str) -> list[str]:
    """Countries a text names (by name or adjective), as canonical lower-case names."""
    norm = normalized(text)
    out: list[str] = []
    for word, country in COUNTRY_WORDS.items():
        hit = re.search(r"\b(US|U\.S\.)\b", text) is not None if word == "us" else contains_phrase(norm, word)
        if hit and country not in out:
            out.append(country)
    return out


def stem(word: str) -> str:
    """A light suffix stripper so 'infusions' meets 'infusion' and 'randomized' meets 'randomised'."""
    word = word.replace("isation", "ization").replace("ised", "ized")
    for suffix in ("ies", "es", "s"):
        if len(word) > 4 and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


# Clinical paraphrases for picking the passage that answers a question ("kidney transplant" is written
# "renal transplantation" in the criteria). Each set is one concept; any member found marks it.
CONCEPT_SETS: tuple[tuple[str, ...], ...] = (
    ("kidney", "renal", "nephr", "glomerular", "egfr", "gfr", "creatinine", "dialysis"),
    ("transplant", "transplantation", "graft"),
    ("liver", "hepatic", "transaminase", "ast", "alt", "asat", "alat"),
    ("heart", "cardiac", "cardio", "coronary", "myocardial", "ejection fraction", "arrhythmia"),
    ("lung", "pulmonary", "respiratory", "interstitial", "fvc", "dlco"),
    ("oxygen", "so2", "spo2", "hypoxemia", "saturation"),
    ("bmi", "body mass index", "malnutrition", "kg/m2"),
    ("cancer", "malignancy", "malignant", "neoplasm", "neoplasms", "tumor", "tumour", "carcinoma"),
    ("pregnant", "pregnancy", "breast feeding", "breastfeeding", "lactating", "nursing", "contraception"),
    ("infection", "infections", "infectious", "hiv", "hepatitis", "tuberculosis"),
    ("steroid", "steroids", "corticosteroid", "corticosteroids", "prednisone", "methylprednisolone"),
    ("blood pressure", "hypertension"),
    ("blood count", "cbc", "hemoglobin", "anemia", "platelet", "thrombocytopenia", "leukopenia", "neutropenia"),
    ("vaccine", "vaccination", "immunization"),
    ("alcohol", "etoh", "substance abuse", "drug abuse"),
    ("age", "years of age", "years old", "aged"),
    ("dose", "dosage", "cells/kg", "mg/kg"),
    ("mental", "psychiatric"),
    ("allergy", "allergic", "hypersensitivity", "anaphylaxis", "anaphylactic"),
    ("surgery", "surgical", "operation"),
)


# Words by which a question asks about medicines in general ("which drug exposure excludes ...").
_DRUG_WORDS = re.compile(
    r"\b(drugs?|medications?|medicines?|meds|therap(y|ies)|treatments?|exposures?|biologics?|"
    r"agents?|prior (use|treatment))\b",
    re.IGNORECASE,
)


def concepts(text: str) -> set[str]:
    """Matching keys of a text: 6-letter word prefixes (so "transplant" meets "transplantation"),
    whole numbers, `@n` for every clinical concept set of CONCEPT_SETS it mentions, and `@drug` when
    it names a medicine (the checker's drug lexicon) or asks about medicines."""
    return set(_concepts(text))


@lru_cache(maxsize=100_000)
def _concepts(text: str) -> frozenset[str]:
    low = text.lower()
    keys = {w[:6] if len(w) > 6 and not w[0].isdigit() else w for w in re.findall(r"[a-z0-9]+", low)}
    norm = normalized(text)
    for n, members in enumerate(CONCEPT_SETS):
        if any(contains_phrase(norm, m) or ("/" in m and m in low) for m in members):
            keys.add(f"@{n}")
    if _DRUG_WORDS.search(text) or lexicon.find_drugs(text, with_classes=False):
        keys.add("@drug")
    return frozenset(keys)
