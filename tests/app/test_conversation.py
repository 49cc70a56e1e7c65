"""Multi-turn conversations: facts accumulate, later statements win, references carry over."""

from __future__ import annotations

import pytest

from app.chain import Assistant
from app.conversation import Conversation


@pytest.fixture(scope="module")
def bot(seed_index, seed_settings):
    return Assistant(seed_index, seed_settings)


def verdicts(answer, trial_id):
    return [v.verdict for v in answer.eligibility if v.trial_id == trial_id]


def test_facts_over_turns_follow_up_and_correction(bot):
    chat = Conversation()
    bot.ask("I have systemic lupus erythematosus.", conversation=chat)
    bot.ask("I'm 60 years old.", conversation=chat)
    assert chat.facts.age == 60 and any(d.name == "sle" for d in chat.facts.diagnoses)

    first = bot.ask("Can I join NCT03171194?", conversation=chat)
    assert first.intent == "eligibility"
    assert verdicts(first, "NCT03171194") == ["possibly_eligible"]
    assert not any("age" in f.reason.lower() for v in first.eligibility for f in v.failed)

    corrected = bot.ask("actually I'm 66", conversation=chat)
    assert chat.facts.age == 66
    assert corrected.intent == "eligibility"
    assert verdicts(corrected, "NCT03171194") == ["ineligible"]
    assert any("65" in f.criterion or "65" in f.reason for v in corrected.eligibility for f in v.failed)

    other = bot.ask("and the scleroderma one?", conversation=chat)
    assert other.intent == "eligibility"
    assert {v.trial_id for v in other.eligibility} == {"NCT04356287"}
    assert len(chat.turns) == 5 and chat.last_trials == ["NCT04356287"]


def test_pronoun_refers_to_the_last_trial(bot):
    chat = Conversation()
    bot.ask("Who sponsors the Mayo trial?", conversation=chat)
    answer = bot.ask("What phase is it?", conversation=chat)
    assert {c.trial_id for c in answer.citations} == {"NCT03929120"}
    assert "Phase 1" in answer.answer


def test_patient_text_is_merged_once_per_turn(bot):
    chat = Conversation()
    bot.ask("Can she join NCT03171194?", patient="45 year old woman with SLE", conversation=chat)
    bot.ask("Is she eligible for NCT04356287?", patient="she is pregnant", conversation=chat)
    assert chat.facts.age == 45 and chat.facts.pregnant is True
    texts = chat.patient_texts
    assert texts.index("45 year old woman with SLE") < texts.index("she is pregnant")
