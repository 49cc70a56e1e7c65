"""Who the patient is: a message asking for someone else ("my son has JIA, can he take part?") makes that
person the patient, so the family cue naming them is not a family history. "My mother had breast cancer"
with no question about her stays family history."""

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
    return None
