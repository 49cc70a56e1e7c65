"""Who the patient is: a message asking for someone else ("my son has JIA, can he take part?"), or opening
with a relative's present state and saying nothing of the writer ("My daughter is 19 and has lupus
nephritis"), makes that person the patient, so the family cue naming them is not a family history. "My
mother had breast cancer" with no question about her stays family history; a conversation can still make
her the patient later ("is she eligible?": app/conversation.py)."""

from __future__ import annotations

import re
from functools import lru_cache

RELATIVES = {
    "son": "he",
    "daughter": "she",
    "mother": "she",
    "mom": "she",
    "mum": "she",
    "father": "he",
    "dad": "he",
    "brother": "he",
    "sister": "she",
    "husband": "he",
    "wife": "she",
    "child": "either",
    "kid": "either",
    "grandmother": "she",
    "grandfather": "he",
    "grandson": "he",
    "granddaughter": "she",
    "partner": "either",
    "boy": "he",
    "girl": "she",
}
_MY_RELATIVE = re.compile(
    r"(?i)\b(?:my|our)\s+(?:\d{1,3}[- ]?(?:year|yr)s?[- ]old\s+|little\s+|teenage\s+|"
    r"elderly\s+|adult\s+)?(" + "|".join(RELATIVES) + r")\b"
)
# Asking on their behalf: "can he take part", "is she eligible", "would he qualify", "for him", "enrol her".
_ASKING_FOR = {
    "he": re.compile(
        r"(?i)\b(?:(?:can|could|would|is|does|will|might|may|should)\s+he|for\s+him|enrol+\s+him|"
        r"he\s+(?:(?:can|could|would|might|may|will)\s+(?:possibly\s+)?)?(?:qualify|be\s+eligible|join|enrol+|"
        r"take\s+part|participate|get\s+into|sign\s+up))\b"
    ),
    "she": re.compile(
        r"(?i)\b(?:(?:can|could|would|is|does|will|might|may|should)\s+she|for\s+her\b(?!\s+\w+\s+\w+ment)|"
        r"enrol+\s+her|she\s+(?:(?:can|could|would|might|may|will)\s+(?:possibly\s+)?)?(?:qualify|be\s+eligible|"
        r"join|enrol+|take\s+part|participate|get\s+into|sign\s+up))\b"
    ),
}
# A message that opens by describing a relative's present state ("My daughter is 19 and has lupus nephritis")
# and says nothing of the writer is about that relative; "My mother had breast cancer" (the past) and any
# message where the writer speaks of themselves ("I have RA") keep the relative as family history.
_DESCRIBED = re.compile(
    r"(?i)\W*(?:my|our)\s+(?:\d{1,3}[- ]?(?:year|yr)s?[- ]old\s+|little\s+|teenage\s+|elderly\s+|adult\s+)?("
    + "|".join(RELATIVES)
    + r")(?:\s*,\s*\d{1,3}\s*,|\s*\(\s*\d{1,3}\s*\))?\s+(?:is|has|'s|was\s+(?:just\s+|recently\s+)?diagnosed|"
    r"suffers|lives\s+with|got\s+diagnosed)\b"
)
_FIRST_PERSON = re.compile(r"(?i)\b(?:i|i'm|im|i've|i'd|me|myself)\b")
_NAMED_ASK = re.compile(
    r"(?i)\b(?:is|would|could|can)\s+my\s+(\w+)\s+(?:be\s+)?(?:eligible|qualify|join|enrol+|"
    r"take\s+part|participate)"
)


@lru_cache(maxsize=16)
def proxy_relative(text: str) -> str | None:
    """The relative the message asks about as the patient ("son"), or None when the patient is the writer."""
    named = _NAMED_ASK.search(text)
    if named and named.group(1).lower() in RELATIVES:
        return named.group(1).lower()
    for m in _MY_RELATIVE.finditer(text):
        word = m.group(1).lower()
        pronoun = RELATIVES[word]
        pronouns = ("he", "she") if pronoun == "either" else (pronoun,)
        if any(_ASKING_FOR[p].search(text, m.end()) for p in pronouns):
            return word
    described = _DESCRIBED.match(text)
    if described and not _FIRST_PERSON.search(text):
        return described.group(1).lower()
    return None


def named_relative(text: str) -> str | None:
    """The last relative the text names as "my/our <relative>", asked for or not."""
    found = [m.group(1).lower() for m in _MY_RELATIVE.finditer(text)]
    return found[-1] if found else None


def asks_about(text: str, relative: str) -> bool:
    """Whether the text asks on behalf of `relative` by pronoun alone ("Is she eligible?" for a daughter)."""
    pronoun = RELATIVES[relative]
    pronouns = ("he", "she") if pronoun == "either" else (pronoun,)
    return any(_ASKING_FOR[p].search(text) for p in pronouns)
