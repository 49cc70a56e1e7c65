"""What a chat remembers between turns, and how a turn is read in that context.

One `Conversation` belongs to one chat session (or one `ask --conversation FILE`). It holds:
- the profile as the person's statements, each with its turn, its words and the facts read from them;
  the facts are the statements merged in order, so a correction (a later statement) overrides and a
  retraction (dropping a statement) removes;
- the trials in focus (what "these", "that one", "it" refer to);
- the question last asked (`pending`) and the facts already asked about, so an answer such as "No" or
  "71" is read as the answer to that question and the same question is never asked twice.

`classify` tells what a user turn is (answer, correction, retraction, meta request, or anything else,
left to the answer chain). Its state round-trips through the frozen `ConversationState` (JSON file).
The lock makes two turns of the same session (a double click) apply in order rather than interleave.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from app.models import NextQuestion
from eligibility import concepts, lexicon
from eligibility.context import proxy_relative
from eligibility.context.subject import asks_about, named_relative
from eligibility.facts import PatientFacts, extract_facts


class TurnKind(StrEnum):
    ANSWER = "answer"  # answers the pending question ("No", "yes", "71", "not that I know")
    CORRECTION = "correction"  # "actually 71, not 61"
    RETRACTION = "retraction"  # "that was my brother, not me"
    META = "meta"  # "start over"
    RECHECK = "recheck"  # "and now?": the last check again, with the profile as it is now
    ACKNOWLEDGEMENT = "acknowledgement"  # "no", "ok", "thanks" with no question pending: nothing to search for
    OTHER = "other"  # a question or new facts: the answer chain reads it


class Statement(BaseModel):
    """One thing the person said about the patient: the turn, their words, what was understood."""

    model_config = ConfigDict(frozen=True)

    turn: int
    words: str
    facts: PatientFacts


class TurnRecord(BaseModel):
    """One finished turn: the question, what the chain understood it to ask, the trials it was about."""

    model_config = ConfigDict(frozen=True)

    question: str
    intent: str
    trial_ids: tuple[str, ...] = ()
    aspects: tuple[str, ...] = ()
    answer: str = ""


class ConversationState(BaseModel):
    """The whole dialogue state as data (what `ask --conversation FILE.json` reads and writes)."""

    model_config = ConfigDict(frozen=True)

    statements: list[Statement] = Field(default_factory=list)
    turns: list[TurnRecord] = Field(default_factory=list)
    focus: list[str] = Field(default_factory=list, description="The trials in focus, most recent last")
    pending: NextQuestion | None = Field(default=None, description="The question last asked")
    asked: list[str] = Field(default_factory=list, description="Facts already asked about (never asked again)")
    about: str | None = Field(default=None, description="Whom an edited profile is about (`Conversation.about`)")


Turn = TurnRecord  # the chat's name for a finished turn


_WORDS = r"[\s,.!?;:]*"
_META = re.compile(
    r"(?i)^\W*(?:let'?s\s+)?(?:start\s+(?:over|again|afresh|from\s+scratch)|reset|restart|"
    r"new\s+(?:patient|conversation|chat)|forget\s+(?:everything|all\s+(?:of\s+)?(?:that|this)))\b"
)
_RETRACT = re.compile(
    r"(?i)\b(?:that\s+(?:was|is|'s|were)\s+(?:about\s+)?(?:my|her|his|our|a|the)\s+\w+,?\s+not\s+(?:me|her|him|"
    r"the\s+patient|my\s+\w+)|not\s+(?:about\s+)?me\b|(?:scratch|ignore|disregard|forget|delete|remove)\s+"
    r"(?:that|what\s+i\s+(?:just\s+)?(?:said|wrote|told\s+you))|i\s+was\s+(?:talking|thinking)\s+about\s+(?:my|someone)|"
    r"wrong\s+(?:person|patient))"
)
_CORRECT = re.compile(
    r"(?i)^\W*(?:sorry|oops|actually|correction|no\s*,?\s*(?:wait|sorry)|i\s+meant|i\s+mean|"
    r"my\s+mistake|typo|wait)\b|\b\d+(?:\.\d+)?\s*,?\s*not\s+\d+(?:\.\d+)?\b|\bnot\s+\d+(?:\.\d+)?\s*,?\s*"
    r"(?:but|it'?s|she'?s|he'?s|i'?m)\s+\d+"
)
_NOT_NUMBER = re.compile(r"(?i),?\s*(?:and\s+)?not\s+\d+(?:\.\d+)?\b")
_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d+)?)(?![\w.])")
_NO = re.compile(
    r"(?i)^\W*(?:no+|nope|nah|never|none|negative|not\s+(?:really|at\s+all|now|currently|any\s*more|anymore)|"
    r"i\s+(?:do\s*n[o']t|don'?t|haven'?t|have\s+not|am\s+not|'m\s+not)|she\s+(?:doesn'?t|hasn'?t|isn'?t)|"
    r"he\s+(?:doesn'?t|hasn'?t|isn'?t)|not\s+(?:that\s+)?i\s+know)\b"
)
_YES = re.compile(
    r"(?i)^\W*(?:yes|yeah|yep|yup|sure|correct|right|i\s+(?:do|have|am)|she\s+(?:does|has|is)|"
    r"he\s+(?:does|has|is)|positive|affirmative)\b"
)
_UNKNOWN = re.compile(
    r"(?i)\b(?:don'?t|do\s+not|doesn'?t|not)\s+(?:know|remember|sure|recall)|\bno\s+idea\b|"
    r"\bunsure\b|\bnot\s+(?:been\s+)?tested\b|\bunknown\b"
)
_NOT_THAT_I_KNOW = re.compile(r"(?i)\bnot\s+that\s+(?:i|we)\s+know\b|\bnot\s+as\s+far\s+as\s+(?:i|we)\s+know\b")
_RECHECK = re.compile(
    r"(?i)^\W*(?:and\s+|so\s+|what\s+about\s+|how\s+about\s+)?(?:now|then)\W*$|"
    r"^\W*(?:does\s+that|did\s+that|would\s+that)\s+change\s+(?:anything|things|it)\W*$|"
    r"^\W*(?:check|try)\s+(?:again|that\s+again)\W*$"
)
# "which ones are still open?", "any of these recruiting?": a question about the trials in focus.
FOCUS_REFERENCE = re.compile(
    r"(?i)\b(?:which\s+ones?|which\s+of\s+(?:them|these|those|the\s+above)|"
    r"any\s+of\s+(?:them|these|those)|are\s+(?:they|these|those)|of\s+(?:these|those)|"
    r"(?:these|those|they)\s+(?:still\s+)?(?:open|recruiting|enrolling))\b"
)
# "my patient", or a clinical note's opening ("58M with dcSSc", "62 yo F", "Pt is a 45-year-old") with no
# "I" or "me" in it ("34 F here, could I join?" is the person themself): a clinician describing someone else.
_MY_PATIENT = re.compile(
    r"(?i)\b(?:my|our)\s+(?:\d{1,3}[- ]?(?:year|yr)s?[- ]old\s+)?(?:patient|client)\b|"
    r"^(?!.*\b(?:I|I'm|I've|me|myself)\b)(?:\W*(?:pt\.?|patient)\s+(?:is|has|with)\b|"
    r"\W*\d{1,3}\s?(?:yo|y/o|y\.o\.|-?year-old)?\s?(?-i:[MF])\b)"
)
DRUG_SUFFIXES = ("_last_dose", "_start", "_use")  # the medicine facts eligibility/questions.py asks about
# A reply that carries nothing but assent, refusal or thanks.
_BARE_REPLY = re.compile(
    r"(?i)\W*(?:(?:no+|nope|nah|yes|yeah|yep|ok(?:ay)?|sure|fine|alright|right|got\s+it|i\s+see|thanks?(?:\s+you)?|"
    r"thank\s+you(?:\s+very\s+much)?|cheers|great|cool|good)\W*){1,3}"
)
_QUESTION_START = re.compile(
    r"(?i)^\W*(?:what|which|where|when|who|how|is|are|can|could|does|do|tell|show|list|"
    r"find|compare|and)\b"
)


def classify(text: str, pending: NextQuestion | None) -> TurnKind:
    """What kind of turn `text` is, given the question last asked (`pending`)."""
    if _META.search(text):
        return TurnKind.META
    if _RETRACT.search(text):
        return TurnKind.RETRACTION
    if _RECHECK.search(text):
        return TurnKind.RECHECK
    if _CORRECT.search(text) and (_NUMBER.search(text) or extract_facts(text).states_anything()):
        return TurnKind.CORRECTION
    if pending is not None and _answers(text):
        return TurnKind.ANSWER
    if _BARE_REPLY.fullmatch(text):
        return TurnKind.ACKNOWLEDGEMENT
    return TurnKind.OTHER


def _answers(text: str) -> bool:
    """A short reply that answers a question rather than asking one: yes/no, a number, "not sure"."""
    if text.strip().endswith("?") and _QUESTION_START.search(text):
        return False
    if _NO.search(text) or _YES.search(text) or _NOT_THAT_I_KNOW.search(text) or _UNKNOWN.search(text):
        return True
    return bool(_NUMBER.search(text)) and len(text.split()) <= 6


def answer_text(fact: str, text: str) -> str | None:
    """The reply to the question about `fact` restated so the fact extractor reads it, or None when the
    reply leaves the fact unknown ("not sure", "I don't know")."""
    negative = bool(_NO.search(text) or _NOT_THAT_I_KNOW.search(text))
    if _UNKNOWN.search(text) and not _NOT_THAT_I_KNOW.search(text):
        return None
    number = _NUMBER.search(text)
    if fact == "age" and number:
        return f"{number.group(1)} years old"
    if fact == "weight" and number:
        return f"{number.group(1)} kg"
    if fact in concepts.MEASUREMENTS and number:
        return f"{fact.replace('_', ' ')} {number.group(1)} {text}"
    if fact == "pregnancy":
        return "not pregnant" if negative else ("pregnant" if _YES.search(text) else None)
    if fact == "breastfeeding":
        return "not breastfeeding" if negative else ("breastfeeding" if _YES.search(text) else None)
    drug = next((fact[: -len(x)] for x in DRUG_SUFFIXES if fact.endswith(x)), None)
    if drug is not None and negative:
        return f"never taken {drug.replace('_', ' ')}"
    term = lexicon.TERM_BY_NAME.get(fact)
    if term is not None:
        if negative:
            return f"no {term.label}"
        return f"has {term.label}" if _YES.search(text) else None
    return text


@dataclass
class Conversation:
    """The running state of one chat; see the module docstring."""

    statements: list[Statement] = field(default_factory=list)
    turns: list[TurnRecord] = field(default_factory=list)
    focus: list[str] = field(default_factory=list)
    pending: NextQuestion | None = None
    asked: list[str] = field(default_factory=list)
    # Whom the profile was about when its form was last saved: the form's items ("no hepatitis B") name no
    # one, so "your mother" would otherwise become "you".
    about: str | None = None
    facts: PatientFacts | None = None
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    # -- the profile ------------------------------------------------------------------------------
    @property
    def patient_texts(self) -> list[str]:
        return [s.words for s in self.statements]

    @property
    def subject(self) -> str:
        """Whom the profile is about (see `subject_of`); derived from the statements, so a retraction
        undoes it."""
        named = subject_of(self.patient_texts)
        return self.about if named == "you" and self.about is not None else named

    def add_facts(self, facts: PatientFacts, text: str) -> PatientFacts:
        """Add a statement; a later statement wins over earlier ones (a correction overrides)."""
        with self.lock:
            self.statements.append(Statement(turn=len(self.turns), words=text, facts=facts))
            merged = self._remerge()
            assert merged is not None  # the statement just added is in the merge
            return merged

    def replace_statements(self, texts: list[str], today: date | None = None) -> PatientFacts | None:
        """The profile edited as a whole (the chat's profile form): re-read every statement."""
        with self.lock:
            self.about = self.subject
            self.statements = [Statement(turn=len(self.turns), words=t, facts=extract_facts(t, today)) for t in texts]
            self._remerge()
            return self.facts

    def retract_last(self) -> Statement | None:
        """Remove the most recent statement ("that was my brother, not me"); its facts go with it."""
        with self.lock:
            if not self.statements:
                return None
            dropped = self.statements.pop()
            self._remerge()
            return dropped

    def reset(self) -> None:
        with self.lock:
            self.statements, self.turns, self.focus, self.asked = [], [], [], []
            self.pending, self.facts, self.about = None, None, None

    def _remerge(self) -> PatientFacts | None:
        facts: PatientFacts | None = None
        relative = patient_relative(self.patient_texts)
        for s in self.statements:
            said = s.facts
            if relative is not None and named_relative(s.words) == relative and proxy_relative(s.words) is None:
                # "My daughter is 19 and has lupus nephritis" read as family history until a later turn asked
                # "is she eligible?": re-read it as the patient's own facts.
                said = extract_facts(s.words, s.facts.today, patient=relative)
            facts = said if facts is None else facts.merge(said)
        self.facts = facts
        return facts

    # -- the trials in focus and the turns ------------------------------------------------------------
    @property
    def last_trials(self) -> list[str]:
        """The trials in focus ("these", "it", "that one")."""
        return list(self.focus)

    @property
    def last_turn(self) -> TurnRecord | None:
        return self.turns[-1] if self.turns else None

    def last_checking_turn(self) -> TurnRecord | None:
        """The latest turn that checked or searched for trials: what an answer or correction re-runs."""
        for t in reversed(self.turns):
            if t.intent in ("eligibility", "find_trials"):
                return t
        return None

    def ask_next(self, question: NextQuestion | None) -> None:
        with self.lock:
            self.pending = question
            if question is not None and question.fact not in self.asked:
                self.asked.append(question.fact)

    def update(self, *, question: str, intent: str, trial_ids: list[str], aspects: list[str], answer: str) -> None:
        """Record a finished turn; its trials become the trials in focus."""
        with self.lock:
            self.turns.append(
                TurnRecord(
                    question=question, intent=intent, trial_ids=tuple(trial_ids), aspects=tuple(aspects), answer=answer
                )
            )
            if trial_ids:
                self.focus = list(dict.fromkeys(trial_ids))

    # -- persistence ------------------------------------------------------------------------------
    def state(self) -> ConversationState:
        with self.lock:
            return ConversationState(
                statements=list(self.statements),
                turns=list(self.turns),
                focus=list(self.focus),
                pending=self.pending,
                asked=list(self.asked),
                about=self.about,
            )

    @classmethod
    def from_state(cls, state: ConversationState) -> Conversation:
        conv = cls(
            statements=list(state.statements),
            turns=list(state.turns),
            focus=list(state.focus),
            pending=state.pending,
            asked=list(state.asked),
            about=state.about,
        )
        conv._remerge()
        return conv


def subject_of(texts: list[str]) -> str:
    """Whom the patient texts are about, as an answer names them: "you", "your mother", "your patient".

    The latest text that names someone decides ("my mother has lupus, could she join?"); a later "she's 67"
    names no one and keeps her."""
    relative = patient_relative(texts)
    if relative is not None:
        return f"your {relative}"
    if any(_MY_PATIENT.search(words) for words in texts):
        return "your patient"
    return "you"


def patient_relative(texts: list[str]) -> str | None:
    """The relative the conversation is about: one a message names and asks for ("my son has JIA, can he
    take part?"), or one named earlier and asked about later by pronoun ("My daughter is 19 and has lupus
    nephritis", then "Is she eligible?"). A relative only mentioned stays family history."""
    found: str | None = None
    named: str | None = None
    for words in texts:
        asked = proxy_relative(words)
        if asked is not None:
            found = asked
            continue
        named = named_relative(words) or named
        if named is not None and asks_about(words, named):
            found = named
    return found


def correction_text(text: str) -> str:
    """The corrected statement without the value it replaces: "actually 71, not 61" -> "actually 71"."""
    return _NOT_NUMBER.sub("", text)


def corrected_number(text: str, facts: PatientFacts | None, last: PatientFacts | None = None) -> str | None:
    """A bare corrected number restated for the fact it replaces: the fact holding the "not N" value
    (age first), so "sorry, she's 71, not 61" updates the age the person gave before; without "not N",
    the one value the person's last statement gave ("my SLEDAI is 12" then "sorry, I meant 9")."""
    new = _NUMBER.search(correction_text(text))
    old = re.search(r"(?i)\bnot\s+(\d+(?:\.\d+)?)", text)
    if new is None:
        return None
    value = new.group(1)
    if old is not None and facts is not None:
        was = float(old.group(1))
        if facts.age is not None and facts.age == was:
            return f"{value} years old"
        for m in [*facts.labs, *facts.scores]:
            if m.value == was:
                return f"{m.name} {value}"
        if facts.weight_kg is not None and facts.weight_kg == was:
            return f"{value} kg"
    if old is None and last is not None:
        values = _restatements(last, value)
        if len(values) == 1:
            return values[0]
    # Nothing held the replaced value (it was never understood): a bare number of years said of the
    # patient ("she's 71", "I'm 71") is the age.
    return f"{value} years old" if float(value) <= 120 else None


def ambiguous_number(text: str, last: PatientFacts | None) -> PatientFacts | None:
    """The values a bare corrected number could replace when it cannot tell which ("I'm 34, SLEDAI 6, eGFR
    95" then "sorry, I meant 36"), else None. Guessing the age there could turn someone away for an age they
    never gave, so the person is asked."""
    new = _NUMBER.search(correction_text(text))
    if last is None or new is None or re.search(r"(?i)\bnot\s+\d", text):
        return None
    if len(_restatements(last, new.group(1))) < 2:
        return None
    return PatientFacts(
        today=last.today, age=last.age, weight_kg=last.weight_kg, labs=list(last.labs), scores=list(last.scores)
    )


def _restatements(facts: PatientFacts, value: str) -> list[str]:
    """`value` restated for each value `facts` holds (age, weight, each lab and score), as the extractor reads it."""
    return [
        *([f"{value} years old"] if facts.age is not None else []),
        *([f"{value} kg"] if facts.weight_kg is not None else []),
        *(f"{m.name} {value}" for m in [*facts.labs, *facts.scores]),
    ]
