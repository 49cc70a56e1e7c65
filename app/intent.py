"""Understanding one turn: what is asked, about which trials, and whether the rules are being pushed.

Everything here is deterministic pattern work over the question and the indexed trial records; no model
is involved, so the same question always routes the same way and an LLM backend cannot change routing.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app import vocabulary as vocab
from eligibility.facts import extract_facts
from ingest.models import Trial
from trialfinder.ids import TRIAL_ID_MENTION, find_ids

IntentKind = Literal[
    "find_trials",
    "trial_fact",
    "eligibility",
    "compare",
    "definition",
    "out_of_scope",
    "unknown_trial",
]

# Aspect -> cue patterns (regex on the lower-cased question). Order matters only for display.
ASPECT_CUES: dict[str, str] = {
    "dose": r"\bdos(e|es|age|ing)\b|\bhow much\b|\bcells?/kg\b|\bhow many (cells|infusions)\b|\bschedule\b|"
    r"\b(infusions?|injections?|cells|drug|treatment) (are |is )?(given|administered|scheduled)\b|\badministered\b|"
    r"\b(participants|patients|subjects|people) (get|receive)\b|\bwhat do (participants|patients|they) (get|receive)\b|"
    r"\broutes? of administration\b|\badministration\b|\bhow (is|are) (it|they|the \w+) (given|delivered|taken)\b|"
    r"\b(iv|intravenous\w*|oral\w*|by mouth|subcutaneous\w*|injected|infused)\b",
    "arms": r"\barms?\b|\bstudy groups?\b|\btreatment groups?\b|\bgroups\b|\bplacebo\b|\brandomi[sz]ed to\b",
    "interventions": r"\binterventions?\b|\b(name of the|which) (drug|product|treatment|therapy|medicine)\b|\bdrug name\b|\bwhat (drug|treatment|therapy|product)\b|\bbeing tested\b|"
    r"\b(drug|product) (is|are) (used|given|tested)\b|\bwhat is (tested|given)\b",
    "source": r"\bcome from\b|\bcomes from\b|\bderived\b|\b(cell|cells|product) source\b|\bsource of\b|"
    r"\bobtained\b|\bwhere .{0,40} from\b|\bautologous\b|\ballogeneic\b|\bdonors?\b|\bmade from\b",
    "outcomes": r"\bfollow[- ]?ups?\b|\bfollowed( up)?\b|\boutcomes?\b|\bend ?points?\b|\bmeasures?\b|\bmeasured\b|\bassess(ed|es)?\b",
    "status": r"\bstatus\b|\brecruiting\b|\bstill (open|running|enrolling)\b|\benrolling\b|\bcompleted\b|"
    r"\bis it (open|active|over|finished)\b|\bactive\b|\bopen\b(?![- ]label)|\bclosed\b|\bstill going\b",
    "phase": r"\bphase\b",
    "dates": r"\bhow long\b|\bduration\b|\bwhen\b|\bstart(ed|s)?\b|\bbegin|\bbegan\b|\bcomplet(ion|e) date\b|\bend(s|ed)?\b|\bdates?\b|"
    r"\blast updated\b|\bfinish",
    "enrollment": r"\benrol(l)?(ment|ed|ing)?\b|\bhow many (participants|patients|people|subjects)\b|"
    r"\bsample size\b|\btarget recruitment\b|\bparticipants? (are|were) (planned|enrolled)\b",
    "sponsor": r"\bsponsor|\bfund(s|ed|ing)?\b|\bwho (runs|is running|ran|leads the organi[sz]ation)\b|"
    r"\bcollaborat\w*|\borgani[sz]ations?\b|\bresponsible party\b",
    "investigators": r"\binvestigators?\b|\bprincipal\b|\bstudy chair\b|\b(pi|PI)\b|\blead researcher|"
    r"\bwho (leads|is leading|led|is in charge)\b|\bofficials?\b|\bdoctor (in charge|running)\b",
    "contacts": r"\bcontacts?(ed)?\b|\bphone\b|\be-?mail\b|\bget in touch\b|\bwho (do|can|should) i (call|ask|talk to|speak to)\b",
    "locations": r"\bwhere\b|\blocations?\b|\bsites?\b|\bcountr(y|ies)\b|\bcit(y|ies)\b|\bhospitals?\b|\bheld\b",
    "references": r"\breferences?\b|\bpublications?\b|\bpapers?\b|\bpublished\b|\barticles?\b|\bpubmed\b|\bcitations?\b",
    "identifiers": r"\b(org(ani[sz]ation(al)?)?|organi[sz]ation's|secondary|other|protocol|institutional|local|"
    r"sponsor'?s?|study|alias) (study )?(ids?|identifiers?|numbers?|codes?)\b|\bidentifiers?\b|"
    r"\bregistry (numbers?|ids?)\b|\borg_study_id\b|\beudract\b",
    "design": r"\bdesign\b|\brandomi[sz]ed\b|\bblind(ed)?\b|\bmask(ing|ed)?\b|\ballocation\b|\bsingle[- ]group\b|"
    r"\bparallel\b|\bprimary purpose\b|\bstudy type\b|\binterventional\b|\bobservational\b|"
    r"\bcontrol(led)? (group|arm)s?\b|\bcomparator\b|\b(placebo|sham)[- ]controlled\b|\bsingle[- ]arm\b|"
    r"\bopen[- ]label\b|\bcontrolled\b",
    "summary": r"\babout\b|\bsummary\b|\bsummari[sz]e\b|\bpurpose\b|\baims?\b|\bobjectives?\b|\bdescribe\b|"
    r"\boverview\b|\bgoal\b|\bwhy\b",
    "conditions": r"\bconditions?\b|\bdiseases?\b|\bwhat does (it|the trial|the study) (study|treat|target)\b|\btarget(s|ing)?\b",
    "criteria": r"\b(inclusion|exclusion|eligibility) criteria\b|\bcriteria\b|\brequirements?\b|\bexclu\w*|"
    r"\binclusions?\b|\bwho can (join|participate|enrol)|\brequir(e|es|ed|ing)\b|\bmust (have|be)\b|\ballowed\b",
    "quality": r"\bdata[- ]quality\b|\bswapped\b|\b(problem|issue|error|mistake)s? (with|in) the (data|record|document|"
    r"criteria|eligibility|page)|\bwarnings?\b",
    "age": r"\b(children|child|kids?|minors?|p(a)?ediatric|adolescents?|teen(ager)?s?|elderly|seniors|older (adults|people|patients))\b|\bages?\b|\bhow old\b|\bage (limit|range)s?\b|\b(minimum|maximum) age\b|\byears? old\b",
    "sex": r"\bsex\b|\bgender\b|\b(women|men|females?|males?|boys|girls)\b",
    "healthy_volunteers": r"\bhealthy volunteers?\b",
}

# Aspect -> index sections holding it (CONTRACT section keys).
ASPECT_SECTIONS: dict[str, list[str]] = {
    "dose": ["arms", "interventions", "description", "summary"],
    "arms": ["arms", "interventions"],
    "interventions": ["interventions", "arms"],
    "source": ["description", "summary", "arms", "interventions"],
    "outcomes": ["outcomes"],
    "status": ["status"],
    "phase": ["status", "design"],
    "dates": ["status"],
    "enrollment": ["status", "design"],
    "sponsor": ["sponsor"],
    "investigators": ["investigators", "sponsor"],
    "locations": ["locations"],
    "contacts": ["investigators", "locations"],
    "references": ["references"],
    "identifiers": ["identifiers"],
    "design": ["design", "status"],
    "summary": ["summary", "description"],
    "conditions": ["conditions", "summary"],
    "criteria": ["eligibility.inclusion", "eligibility.exclusion"],
    "age": ["eligibility.facts", "eligibility.inclusion"],
    "sex": ["eligibility.facts"],
    "healthy_volunteers": ["eligibility.facts"],
}


_ELIGIBILITY = re.compile(
    r"\b(eligib\w*|qualif\w*|excluded|exclude me|(can|could|may|would) (i|we|she|he|they|my \w+) (join|participate|take part|"
    r"enrol\w*|enter|be (included|enrolled|accepted)|apply|sign up|get in)|am i a (candidate|fit|match)|"
    r"(is|would) (she|he|my \w+) (be )?a (candidate|fit|match)|do (i|we) fit|(i|she|he) fit|"
    r"(a )?(good )?candidate|allowed to (join|participate|enrol\w*)|"
    r"(suitable|right|an option|open|appropriate) for (me|her|him|them|us|my \w+|a \d{1,3}[- ]?(year|yr))|"
    r"(open|available) to (me|her|him|them|us|my \w+))",
    re.IGNORECASE,
)
_PERSONAL = re.compile(
    r"\b(i|i'm|im|i've|i am|me|my|mine|myself|we|our|she|he|her|his|they're|patient of mine|my patient|"
    r"\d{1,3}[- ]?(yo|y/o|year[- ]old|years? old)|\d{1,3}\s?(m|f))\b",
    re.IGNORECASE,
)
_FACT_STATEMENT = re.compile(
    r"\b(i'm|im|i am|i have|i've|i had|i take|i'm taking|i am taking|i was|my (age|egfr|creatinine|hemoglobin|platelet|weight)|"
    r"she is|he is|she has|he has|patient is|patient has|(actually|also|and) (i|she|he)|"
    r"\d{1,3}[- ]?(yo|y/o|year[- ]old|years? old)|diagnosed|pregnan\w*|breast ?feeding|on (prednisone|methotrexate|\w+mab\b))",
    re.IGNORECASE,
)
_SUPPOSITION = re.compile(r"(?i)\b(?:what\s+)?if\b[^,.;?!]*")
# A sentence ending in "?" asks ("does it exclude an eGFR below 30?"); the others may state.
_ASKED_SENTENCE = re.compile(r"[^.?!]*\?")


def _states_values(text: str) -> bool:
    """Whether a sentence that asks nothing gives the patient's age, weight, a lab or a score, as the fact
    extractor reads them ("her SLEDAI was 8 last month", "mum has lupus and is 58"): the wordings
    `_FACT_STATEMENT` lists are a few of the many that state facts."""
    facts = extract_facts(_SUPPOSITION.sub(" ", _ASKED_SENTENCE.sub(" ", text)))
    return facts.age is not None or facts.weight_kg is not None or bool(facts.labs or facts.scores)


_FIND = re.compile(
    r"\b(are there|is there|any (trials?|studies)|find|search|look(ing)? for|which (trials?|studies)|"
    r"what (trials?|studies)|list (the |all )?(trials?|studies)|trials? (for|in|on|about|with|that)|"
    r"studies (for|in|on|about|with|that)|recommend a trial|options)\b",
    re.IGNORECASE,
)
# "both" compares trials, except in "both A and B", which joins two other things ("both men and women").
_COMPARE = re.compile(
    r"\b(compare|comparison|difference|differences|differ|versus|vs\.?|both(?!\s+[\w'-]+(?:\s+[\w'-]+){0,2}\s+(?:and\b|&))|which (one|trial|study) (has|is|was|had|uses|gives|enrol\w*|started|ends|is larger|is bigger)|"
    r"which of (the|these|them|those))\b",
    re.IGNORECASE,
)
_ADVICE = re.compile(
    r"\b(should (i|we|she|he|my \w+) (take|stop|start|increase|decrease|reduce|switch|change|try|use|get|skip|double|quit|continue)|"
    r"what (dose|dosage|medication|medicine|drug|treatment) should|how much \w+ should|"
    r"is it safe (for me|for my|to take|to stop|to combine)|can i (stop|quit|skip|double|combine|mix|reduce|increase) (my )?"
    r"(medication|medicine|meds|pills|prednisone|methotrexate|dose|treatment)|"
    r"diagnos(e|is) me|do i have (lupus|cancer|\w+itis|a disease)|what treatment is best|"
    r"best treatment for me|prescribe|what should i do about my)\b",
    re.IGNORECASE,
)
_UNRELATED = re.compile(
    r"\b(weather|recipe|cook|football|soccer|movie|song|poem|joke|stock|bitcoin|crypto|capital of|"
    r"president|election|translate|write (me )?(a |an )?(story|poem|essay|code)|homework|horoscope|lottery)\b",
    re.IGNORECASE,
)
_INJECTION = re.compile(
    r"(ignore|disregard|forget|override|bypass) (all |any |the |your )?(previous|prior|above|earlier|system|"
    r"safety)?\s*(instructions|rules|prompts?|guidelines|checks?)|you are now|act as|pretend (to be|that|you)|"
    r"system prompt|jailbreak|developer mode|(say|tell me|confirm|state|answer) (that )?(i'?m|i am|i'll be|i qualify|"
    r"my patient is|she is|he is)\s+(eligible|qualified|a candidate|included)|without (checking|the checker)",
    re.IGNORECASE,
)
_DEFINITION = re.compile(
    r"^\s*(?:what(?:'s| is| are| does)|define|definition of|meaning of|explain(?: the term)?|what is meant by)\s+"
    r"(?:an? |the (?=[A-Z]))?(?P<term>[A-Za-z0-9][\w\-/+.]*(?:\s+[\w\-/+.]+){0,4}?)"
    r"\s*(?:mean|stand for|refer to|means|measure)?\s*[?.!]?\s*$",
    re.IGNORECASE,
)
# What may follow a count of trials ("compare these two for me", "both side by side"); a noun there means
# something else is counted ("the two infusions", "both men and women").
_COUNT_ENDS = "trials|studies|ones|for|please|side|again|now|in|on|by|with|against|to|and"
_PRONOUN = re.compile(
    r"\b(it|its|it's|that one|this one|that (trial|study|pilot)|this (trial|study|pilot)|the same (trial|study)|"
    r"the (trial|study)|there|they|them|these (trials|studies)|those (trials|studies)|"
    r"(?<=compare )(these|those))\b|"
    r"\b((these|those|the) (two|three|four)|both)(?=\s*($|[?.!,;:]|(of (them|these|those)|" + _COUNT_ENDS + r")\b))",
    re.IGNORECASE,
)
# "compare these two", "the first three", "both": how many of the trials in focus, in the order they were
# shown. A count stands for trials only where nothing else is counted: "compare both", "the two studies",
# "both of them", not "the two infusions" or "both men and women".
_COUNTED = re.compile(
    r"\b(?:(?:these|those|the|first)\s+(?:first\s+)?(two|three|four)|(both))"
    r"(?=\s*(?:$|[?.!,;:]|(?:of\s+(?:them|these|those)|" + _COUNT_ENDS + r")\b))",
    re.IGNORECASE,
)
_COUNTS = {"two": 2, "three": 3, "four": 4, "both": 2}
DESCRIPTOR = re.compile(
    r"\b(?:the|that|this)\s+(?P<desc>[\w\-'’ .]{2,60}?)\s+(?P<noun>trial|study|one|pilot|protocol|project)\b",
    re.IGNORECASE,
)
# What joins two descriptions of the same trial: "the lupus pilot, the one in South Carolina".
_APPOSITION = re.compile(r"\s*(?:,|:|-|–|—|\(|i\.e\.,?|i mean)\s*")
# "the lupus trials": a description naming several trials; only read as one when the turn compares them,
# since "what are the lupus trials?" asks to find trials rather than about known ones.
PLURAL_DESCRIPTOR = re.compile(
    r"\b(?:the|these|those|both)\s+(?P<desc>[\w\-'’ .]{2,60}?)\s+(?:trials|studies|ones|pilots|protocols)\b",
    re.IGNORECASE,
)
_GENERIC_DESCRIPTOR_WORDS = frozenset(
    [
        "same",
        "other",
        "first",
        "second",
        "last",
        "previous",
        "earlier",
        "new",
        "current",
        "above",
        "below",
        "same",
        "same",
    ]
)
_GREETING = re.compile(
    r"^\s*(hi|hello|hey|hallo|good (morning|afternoon|evening)|thanks?( you)?( very much)?|thank you|bye|goodbye|"
    r"ok(ay)?|cheers)\b[\s!.,?]*(there|trialfinder)?[\s!.,?]*$",
    re.IGNORECASE,
)
# "and the scleroderma one?", "ok, what about the Korean one?": a filler word may open it.
_ELLIPTIC = re.compile(
    r"^\s*(?:(?:ok(?:ay)?|alright|right|so|hmm+|thanks?|great|fine)\W+)?"
    r"(and|what about|how about|same for|and for|and what about|also)\b",
    re.IGNORECASE,
)


class Intent(BaseModel):
    """What one turn asks, with the trials it refers to and the filters it implies."""

    model_config = ConfigDict(frozen=True)

    kind: IntentKind
    aspects: list[str] = Field(default_factory=list, description="Trial facts asked about (dose, status, ...)")
    trial_ids: list[str] = Field(default_factory=list, description="Indexed trials the turn refers to")
    unknown_ids: list[str] = Field(default_factory=list, description="Trial ids named but not indexed")
    term: str | None = Field(default=None, description="The term to define (definition intent)")
    conditions: list[str] = Field(default_factory=list, description="Condition names mentioned, with synonyms")
    countries: list[str] = Field(default_factory=list)
    statuses: list[str] = Field(default_factory=list, description="Status filters, upper snake case")
    phases: list[str] = Field(default_factory=list, description="Phase filters as the record writes them: PHASE2")
    personal: bool = Field(default=False, description="The turn speaks about the user or their patient")
    states_facts: bool = Field(default=False, description="The turn states patient facts")
    injection: bool = Field(default=False, description="The turn tries to change the assistant's rules")
    reason: str | None = Field(default=None, description="Why out of scope, in words")
    resolved_by: str | None = Field(default=None, description="How the trials were found: id, description, context")

    def sections(self) -> list[str] | None:
        """Index sections holding the asked aspects, or None for no restriction."""
        out: list[str] = []
        for aspect in self.aspects:
            for section in ASPECT_SECTIONS.get(aspect, []):
                if section not in out:
                    out.append(section)
        return out or None


class TrialProfile(BaseModel):
    """The words a user may use to describe a trial ("the Mayo trial"), weighted by where they come from."""

    model_config = ConfigDict(frozen=True)

    trial_id: str
    fields: list[tuple[int, str]] = Field(description="(weight, normalized text) pairs")
    order: int = 0


def build_profiles(trials: Iterable[Trial]) -> list[TrialProfile]:
    """Profiles of the indexed trials for description matching; built once and cached by the caller."""
    profiles = []
    for order, trial in enumerate(trials):
        strong = [trial.title, trial.official_title or "", trial.acronym or "", *trial.conditions]
        org = [trial.sponsor or "", *trial.collaborators, trial.responsible_party or ""]
        places: list[str] = []
        for loc in trial.locations:
            places.extend(x for x in (loc.facility, loc.city, loc.state, loc.country) if x)
        registry_country = vocab.REGISTRY_COUNTRY.get(trial.trial_id[:3])
        if registry_country:
            places.append(registry_country)
        people = [inv.name for inv in trial.investigators] + [inv.affiliation or "" for inv in trial.investigators]
        weak = [*trial.keywords, *(i.name for i in trial.interventions), trial.registry]
        fields = [
            (3, vocab.normalized(" | ".join(strong))),
            (3, vocab.normalized(" | ".join(org))),
            (2, vocab.normalized(" | ".join(places))),
            (2, vocab.normalized(" | ".join(people))),
            (1, vocab.normalized(" | ".join(weak))),
        ]
        profiles.append(TrialProfile(trial_id=trial.trial_id, fields=fields, order=order))
    return profiles


def _descriptor_terms(desc: str) -> list[tuple[str, ...]]:
    """Terms of a description: synonym groups it names, then its other content words one by one."""
    terms: list[tuple[str, ...]] = list(vocab.mentioned_groups(desc))
    covered = {w for group in terms for name in group for w in vocab.words(name)}
    for country in vocab.mentioned_countries(desc):
        terms.append((country,))
        covered |= {w for w, c in vocab.COUNTRY_WORDS.items() if c == country}
    for word in vocab.words(desc):
        if word in vocab.STOPWORDS or word in covered or word in _GENERIC_DESCRIPTOR_WORDS:
            continue
        if word in {"trial", "trials", "study", "studies", "one", "protocol"}:
            continue
        terms.append((word,))
    return terms


@dataclass(frozen=True)
class _FieldWords:
    """The texts at one field position of every profile, with the profiles each word occurs in."""

    texts: list[str]
    weights: list[int]
    where: dict[str, list[int]]  # word -> positions (in the profile list) of the profiles whose text has it


class _ProfileScan:
    """`TrialProfile` texts indexed by word, so a phrase lookup visits only the profiles holding its words."""

    def __init__(self, profiles: Sequence[TrialProfile]):
        self.profiles = profiles
        width = max((len(p.fields) for p in profiles), default=0)
        self.fields = []
        for position in range(width):
            texts = [p.fields[position][1] if position < len(p.fields) else "" for p in profiles]
            weights = [p.fields[position][0] if position < len(p.fields) else 0 for p in profiles]
            where: dict[str, list[int]] = {}
            for which, text in enumerate(texts):
                for word in set(text.split()):
                    where.setdefault(word, []).append(which)
            self.fields.append(_FieldWords(texts, weights, where))

    def best_weights(self, names: list[str]) -> dict[int, int]:
        """Per profile (by position) containing one of the normalized `names` as whole words: the weight of
        its strongest field containing one."""
        best: dict[int, int] = {}
        for field in self.fields:
            for name in names:
                words = name.split()
                if words:
                    # A normalized text is its words joined by single spaces: it can only hold the phrase if
                    # it holds each of its words; one word is then a match, longer phrases are checked.
                    candidates = set(field.where.get(words[0], ()))
                    for word in words[1:]:
                        candidates.intersection_update(field.where.get(word, ()))
                    found = candidates if len(words) == 1 else {w for w in candidates if name in field.texts[w]}
                else:  # a name without words matches where `contains_phrase` would: texts holding its spaces
                    found = {w for w, text in enumerate(field.texts) if name in text}
                for which in found:
                    if field.weights[which] > best.get(which, 0):
                        best[which] = field.weights[which]
        return best


_scan_lock = threading.Lock()
_last_scan: _ProfileScan | None = None


def _scan_of(profiles: Sequence[TrialProfile]) -> _ProfileScan:
    # The caller caches its profile list (one per index); its layout is kept for as long as that list is.
    global _last_scan
    with _scan_lock:
        if _last_scan is None or _last_scan.profiles is not profiles:
            _last_scan = _ProfileScan(profiles)
        return _last_scan


def match_description(desc: str, profiles: Sequence[TrialProfile]) -> list[str]:
    """Trials best matching a description such as "Mayo", "scleroderma" or "lupus pilot".

    Each term scores the weight of the strongest profile field containing it (title/conditions/sponsor 3,
    places/people 2, keywords/interventions 1); the trials with the top total win, ties all returned.
    """
    terms = _descriptor_terms(desc)
    if not terms:
        return []
    # Phrases are looked up through a word index of the profiles (`_ProfileScan`): a Python loop over
    # thousands of profiles per term was most of an answer's time on a large index.
    scan = _scan_of(profiles)
    scores: dict[int, int] = {}
    for term in terms:
        for which, weight in scan.best_weights([vocab.normalized(name) for name in term]).items():
            scores[which] = scores.get(which, 0) + weight
    if not scores:
        return []
    top = max(scores.values())
    return [p.trial_id for which, p in enumerate(profiles) if scores.get(which) == top]


def _inside(inner: tuple[int, int], outer: tuple[int, int]) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1] and outer != inner


def _covering(hit: tuple[int, int], spans: dict[str, list[tuple[int, int]]], name: str) -> tuple[int, int] | None:
    """A strictly longer match of another aspect that contains `hit`, if any."""
    return next((span for other, hits in spans.items() if other != name for span in hits if _inside(hit, span)), None)


def _aspects(question: str) -> list[str]:
    low = question.lower()
    spans: dict[str, list[tuple[int, int]]] = {}
    for name, cue in ASPECT_CUES.items():
        text = low if name != "investigators" else question
        hits = [m.span() for m in re.finditer(cue, text) if m.end() > m.start()]
        if hits:
            spans[name] = hits
    # The longest cue wins: an aspect whose every match lies inside another aspect's longer match only named a
    # part of that phrase ("organization" inside "organization study id", "purpose" inside "primary purpose").
    found = [name for name, hits in spans.items() if any(_covering(hit, spans, name) is None for hit in hits)]
    if "dose" in found and "arms" in found and not re.search(r"\barms?\b|\bgroups?\b", low):
        found.remove("arms")
    if "criteria" in found and "age" in found and not re.search(r"\bcriteria\b", low):
        found.remove("criteria")
    if (
        "source" in found
        and "locations" in found
        and not re.search(r"\b(sites?|locations?|countr|cit(y|ies)|hospital)", low)
    ):
        found.remove("locations")  # "where do the cells come from" asks for their source
    if (
        "dates" in found
        and len(found) > 1
        and not re.search(
            r"\bstart|\bbegin|\bbegan|\bcomplet|\bend(s|ed)?\b|\bdates?\b|\bupdated|\bfinish|\bhow long\b", low
        )
    ):
        found.remove("dates")  # "when are the infusions given" asks for the schedule
    if (
        "summary" in found
        and len(found) > 1
        and not re.search(r"\bsummar|\bpurpose\b|\baims?\b|\bobjectives?\b|\bgoal\b|\boverview\b|\bdescribe\b", low)
    ):
        found.remove("summary")  # "papers published about it" asks for the papers; "about" names the topic
    # "where ... recruiting" asks for places; "when" alone asks for dates, not status.
    if "status" in found and "locations" in found and re.search(r"\bwhere\b", low):
        found.remove("status")
    return found


_PHASE = re.compile(r"(?i)\bphase\s*(1|2|3|4|iv|iii|ii|i)\b")
_ROMAN = {"i": "1", "ii": "2", "iii": "3", "iv": "4"}


def _phases(question: str) -> list[str]:
    """ "phase 2", "phase II" -> ["PHASE2"] (a record of PHASE1/PHASE2 is in both phases)."""
    return list(dict.fromkeys(f"PHASE{_ROMAN.get(m.group(1).lower(), m.group(1))}" for m in _PHASE.finditer(question)))


def _statuses(question: str) -> list[str]:
    low = question.lower()
    out = []
    if re.search(r"\bnot yet recruiting\b", low):
        out.append("NOT_YET_RECRUITING")
    elif re.search(r"\b(recruiting|open|enrolling)\b", low):
        out += ["RECRUITING", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING"]
    if re.search(r"\b(completed|finished|closed)\b", low):
        out.append("COMPLETED")
    return out


def _definition_term(question: str) -> str | None:
    m = _DEFINITION.match(question.strip())
    if not m:
        return None
    term = m.group("term").strip(" ?.!")
    low = term.lower()
    if TRIAL_ID_MENTION.search(term) or low.split()[0] in {"the", "this", "that", "it", "its", "a", "an"}:
        return None
    if any(re.search(cue, low) for cue in ASPECT_CUES.values()):
        return None
    if len(term.split()) > 4:
        return None
    if low.split()[-1] in {"trial", "trials", "study", "studies", "pilot", "protocol"}:
        return None  # "what are the lupus trials?" asks for trials, not for a word's meaning
    return term


def understand(
    question: str,
    *,
    known_ids: set[str],
    profiles: Sequence[TrialProfile],
    previous_trials: Sequence[str] = (),
    previous_kind: str | None = None,
    previous_aspects: Sequence[str] = (),
    explicit_trials: Sequence[str] = (),
    has_patient: bool = False,
) -> Intent:
    """Classify a turn and resolve the trials it refers to.

    `known_ids` are the indexed trial ids, `profiles` their descriptions (`build_profiles`),
    `previous_*` what the conversation was last about (for "it", "that one" and "and the X one?"),
    `explicit_trials` ids passed alongside the question (CLI `--trial`), `has_patient` whether patient
    facts are known from earlier turns or a patient description.
    """
    text = question.strip()
    low = text.lower()
    by_upper = {i.upper(): i for i in known_ids}
    named = [m.upper() for m in find_ids(text)]
    named += [t.upper() for t in explicit_trials]
    trial_ids: list[str] = []
    unknown: list[str] = []
    for tid in named:
        target = trial_ids if tid in by_upper else unknown
        real = by_upper.get(tid, tid)
        if real not in target:
            target.append(real)
    resolved_by = "id" if trial_ids else None

    if not named:
        described: list[tuple[re.Match[str], list[str]]] = []
        for m in DESCRIPTOR.finditer(text):
            desc = m.group("desc")
            if m.group("noun").lower() == "pilot":
                desc += " pilot"
            other = re.match(r"(?i)(?:the\s+)?other\s+", desc)
            desc = re.sub(r"^(same|other)\s+", "", desc, flags=re.IGNORECASE)
            matches = match_description(desc, profiles)
            if other and previous_trials:
                # "the other lupus trial": a lupus trial besides the ones just talked about.
                matches = [t for t in matches if t not in previous_trials] or matches
            if described and _APPOSITION.fullmatch(text[described[-1][0].end() : m.start()]):
                # "the other lupus trial, the Korean one": two descriptions of one trial.
                both = [t for t in described[-1][1] if t in matches]
                if both:
                    described[-1] = (m, both)
                    continue
            described.append((m, matches))
        for _, matches in described:
            for tid in matches:
                if tid not in trial_ids:
                    trial_ids.append(tid)
        if not trial_ids and _COMPARE.search(text):
            for m in PLURAL_DESCRIPTOR.finditer(text):
                for tid in match_description(m.group("desc"), profiles):
                    if tid not in trial_ids:
                        trial_ids.append(tid)
        if trial_ids:
            resolved_by = "description"

    injection = bool(_INJECTION.search(text))
    aspects = _aspects(_ELLIPTIC.sub(" ", text))
    groups = vocab.mentioned_groups(text)
    conditions = [g[0] for g in groups]
    countries = vocab.mentioned_countries(text)
    personal = bool(_PERSONAL.search(text)) or bool(re.search(r"\bmy patient\b", low))
    # "What happens if I get pregnant during it?" states nothing: a clause under "if" is a supposition.
    states_facts = bool(_FACT_STATEMENT.search(_SUPPOSITION.sub(" ", text))) or _states_values(text)
    wants_eligibility = bool(_ELIGIBILITY.search(text)) and (personal or has_patient or injection)
    if re.search(r"\b(eligibility|inclusion|exclusion) criteria\b", low) and not personal:
        wants_eligibility = False
    elliptic = bool(_ELLIPTIC.match(text))

    if (
        not trial_ids
        and not unknown
        and previous_trials
        and (
            _PRONOUN.search(text)
            and not _FIND.search(text)
            or (elliptic and not groups and not countries)
            or (states_facts and previous_kind == "eligibility" and not _FIND.search(text))
        )
    ):
        trial_ids = list(previous_trials)
        if counted := _COUNTED.search(text):
            trial_ids = trial_ids[: _COUNTS[(counted.group(1) or counted.group(2)).lower()]]
        resolved_by = "context"

    def make(kind: IntentKind, **extra) -> Intent:
        fields = dict(
            kind=kind,
            aspects=aspects,
            trial_ids=trial_ids,
            unknown_ids=unknown,
            conditions=conditions,
            countries=countries,
            statuses=_statuses(text),
            phases=_phases(text),
            personal=personal,
            states_facts=states_facts,
            injection=injection,
            resolved_by=resolved_by,
        )
        fields.update(extra)
        return Intent(**fields)

    if _GREETING.match(text):
        return make("out_of_scope", reason="greeting")
    if _ADVICE.search(text) and not wants_eligibility:
        return make("out_of_scope", reason="medical advice")
    if unknown and not trial_ids:
        return make("unknown_trial")
    if wants_eligibility:
        return make("eligibility")
    if _UNRELATED.search(text) and not groups and not trial_ids:
        return make("out_of_scope", reason="unrelated")
    term = _definition_term(text)
    if term and not trial_ids and not vocab.mentioned_countries(term):
        return make("definition", term=term, aspects=[])
    if len(trial_ids) >= 2 and (_COMPARE.search(text) or resolved_by == "id" and len(named) >= 2):
        return make("compare")
    if elliptic and previous_kind and not aspects and not _FIND.search(text):
        # "and the scleroderma one?" repeats the previous question about another trial.
        kind: IntentKind = "trial_fact"
        if previous_kind == "eligibility":
            kind = "eligibility"
        elif previous_kind == "compare" and len(trial_ids) >= 2:
            kind = "compare"
        return make(kind, aspects=list(previous_aspects))
    if states_facts and not aspects and not _FIND.search(text) and (trial_ids or previous_kind == "eligibility"):
        return make("eligibility")
    if states_facts and not trial_ids and not aspects and not _FIND.search(text) and "?" not in text:
        return make("find_trials")
    if trial_ids:
        return make("trial_fact", aspects=aspects or ["summary"])
    if injection and not groups and not countries:
        return make("out_of_scope", reason="injection")
    if _FIND.search(text) or groups or countries or not aspects:
        return make("find_trials")
    return make("trial_fact")
