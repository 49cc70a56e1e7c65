"""What a chat remembers between turns: the patient facts so far, the trials talked about, the turns.

One `Conversation` belongs to one chat session; the assistant reads it at the start of a turn and calls
`update` at the end. The lock makes two turns of the same session (a double click) apply in order
rather than interleave.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from eligibility.facts import PatientFacts


@dataclass(frozen=True)
class Turn:
    """One question and what the assistant understood and answered."""

    question: str
    intent: str
    trial_ids: tuple[str, ...]
    aspects: tuple[str, ...]
    answer: str


@dataclass
class Conversation:
    """The running state of one chat: accumulated patient facts, referred trials and turns."""

    facts: PatientFacts | None = None
    patient_texts: list[str] = field(default_factory=list)
    trials: list[str] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    @property
    def last_trials(self) -> list[str]:
        """The trials of the most recent turn that referred to any ("it", "that one")."""
        for turn in reversed(self.turns):
            if turn.trial_ids:
                return list(turn.trial_ids)
        return []

    @property
    def last_turn(self) -> Turn | None:
        return self.turns[-1] if self.turns else None

    def add_facts(self, facts: PatientFacts, text: str) -> PatientFacts:
        """Merge newly stated facts over the earlier ones (a later statement wins) and return the result."""
        with self.lock:
            self.facts = facts if self.facts is None else self.facts.merge(facts)
            self.patient_texts.append(text)
            return self.facts

    def update(self, *, question: str, intent: str, trial_ids: list[str], aspects: list[str], answer: str) -> None:
        """Record a finished turn; its trials become what "it" and "that one" refer to."""
        with self.lock:
            self.turns.append(
                Turn(question=question, intent=intent, trial_ids=tuple(trial_ids), aspects=tuple(aspects), answer=answer)
            )
            for tid in trial_ids:
                if tid in self.trials:
                    self.trials.remove(tid)
                self.trials.append(tid)
