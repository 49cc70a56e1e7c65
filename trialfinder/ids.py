"""Trial registry ids: the one place that knows what a trial id looks like.

Every module that finds, strips or checks a trial id uses this table, so a registry added here (prefix,
name, shape) is recognised by ingest, the index, the question router, the answer gate and the metrics alike.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class Registry(NamedTuple):
    prefix: str  # canonical spelling of the id's prefix
    name: str  # the registry that issues the ids
    shape: str  # regular expression of a whole id (canonical case)


REGISTRIES: tuple[Registry, ...] = (
    Registry("NCT", "ClinicalTrials.gov", r"NCT\d{8}"),
    Registry("KCT", "CRIS", r"KCT\d{7}"),
    Registry("ISRCTN", "ISRCTN", r"ISRCTN\d{8}"),
    Registry("EUCTR", "EU Clinical Trials Register", r"EUCTR\d{4}-\d{6}-\d{2}(?:-[A-Z]{2})?"),
    Registry("CTRI", "CTRI", r"CTRI/\d{4}/\d+/\d+"),
    Registry("ChiCTR", "ChiCTR", r"ChiCTR[-\w]{6,20}"),
    Registry("ACTRN", "ANZCTR", r"ACTRN\d{14}"),
    Registry("DRKS", "DRKS", r"DRKS\d{8}"),
    Registry("JPRN", "JPRN", r"JPRN-[A-Za-z]+[-\w]{4,20}"),
)

_ALTERNATIVES = "|".join(r.shape for r in REGISTRIES)

# An id exactly as a registry writes it (ingest: is this field a trial id?).
TRIAL_ID = re.compile(rf"\b(?:{_ALTERNATIVES})\b")
# An id as a person may type it ("nct03171194") inside free text (questions, answers, queries).
TRIAL_ID_MENTION = re.compile(rf"\b(?:{_ALTERNATIVES})\b", re.IGNORECASE)


def is_trial_id(text: str) -> bool:
    """Is `text` exactly one trial id in its registry's spelling?"""
    return TRIAL_ID.fullmatch(text) is not None


def canonical(trial_id: str) -> str:
    """The registry's spelling of an id typed in any case ("nct03171194" -> "NCT03171194")."""
    for registry in REGISTRIES:
        if trial_id[: len(registry.prefix)].upper() == registry.prefix.upper():
            rest = trial_id[len(registry.prefix) :]
            return registry.prefix + (rest.upper() if registry.prefix in {"NCT", "KCT", "ISRCTN", "DRKS"} else rest)
    return trial_id


def find_ids(text: str) -> list[str]:
    """The trial ids mentioned in a text, in canonical spelling, first mention first, without repeats."""
    return list(dict.fromkeys(canonical(m) for m in TRIAL_ID_MENTION.findall(text)))


def strip_ids(text: str, replacement: str = " ") -> str:
    """The text with every mentioned trial id replaced (ids are names, not content words)."""
    return TRIAL_ID_MENTION.sub(replacement, text)


def registry_for(trial_id: str) -> str:
    """The registry that issued a trial id: NCT -> ClinicalTrials.gov, KCT -> CRIS, ..."""
    return next((r.name for r in REGISTRIES if trial_id.startswith(r.prefix)), "unknown")
