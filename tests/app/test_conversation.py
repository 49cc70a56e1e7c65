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


# -- turn classification and state (no index needed) ------------------------------------------------

from app.conversation import ConversationState, TurnKind, answer_text, classify  # noqa: E402
from app.models import NextQuestion  # noqa: E402

ASKED = NextQuestion(fact="infection", question="Do you have any infection at the moment?")


@pytest.mark.parametrize(
    "text, kind",
    [
        ("No", TurnKind.ANSWER),
        ("nope.", TurnKind.ANSWER),
        ("yes, since May", TurnKind.ANSWER),
        ("not that I know of", TurnKind.ANSWER),
        ("I'm not sure", TurnKind.ANSWER),
        ("sorry, she's 71, not 61", TurnKind.CORRECTION),
        ("actually I'm 68", TurnKind.CORRECTION),
        ("that was my brother, not me", TurnKind.RETRACTION),
        ("scratch that", TurnKind.RETRACTION),
        ("start over", TurnKind.META),
        ("let's start again with a new patient", TurnKind.META),
        ("and now?", TurnKind.RECHECK),
        ("What phase is it?", TurnKind.OTHER),
    ],
)
def test_turn_kinds_with_a_pending_question(text, kind):
    assert classify(text, ASKED) is kind


def test_a_bare_no_without_a_pending_question_is_not_an_answer_nor_a_search():
    for text in ("No", "ok thanks", "Thank you!", "yes."):
        assert classify(text, None) is TurnKind.ACKNOWLEDGEMENT
    assert classify("No, but I have lupus", None) is TurnKind.OTHER


def test_a_closed_trial_is_never_asked_about_and_a_bare_no_after_it_is_not_searched(bot):
    chat = Conversation()
    first = bot.ask("I'm 45 with SLE. Could I take part in NCT03171194?", conversation=chat)
    assert first.next_question is None and "not enrolling" in first.answer
    then = bot.ask("no", conversation=chat)
    assert then.intent == "meta" and "I don't have" not in then.answer and then.facts["age"] == 45


def test_answers_are_restated_for_the_fact_asked():
    assert answer_text("infection", "No, I don't have any infection right now") == "no infection"
    assert answer_text("age", "71") == "71 years old"
    assert answer_text("belimumab_last_dose", "never") == "never taken belimumab"
    assert answer_text("sledai", "I don't know") is None


def test_state_round_trips_through_json():
    from eligibility.facts import extract_facts

    chat = Conversation()
    chat.add_facts(extract_facts("I'm 45 with lupus"), "I'm 45 with lupus")
    chat.update(
        question="Can I join NCT03171194?", intent="eligibility", trial_ids=["NCT03171194"], aspects=[], answer="..."
    )
    chat.ask_next(ASKED)
    again = Conversation.from_state(ConversationState.model_validate_json(chat.state().model_dump_json()))
    assert again.facts.age == 45 and again.focus == ["NCT03171194"] and again.pending == ASKED
    assert again.asked == ["infection"] and again.statements[0].words == "I'm 45 with lupus"


# -- the same turns through the chain ------------------------------------------------------------------


def test_no_answers_the_question_and_it_is_never_asked_twice(bot):
    chat = Conversation()
    first = bot.ask("I'm 45 and I have lupus nephritis. Could I join KCT0004337?", conversation=chat)
    asked = first.next_question
    assert asked is not None
    second = bot.ask("No", conversation=chat)
    assert second.intent == "eligibility" and {c.trial_id for c in second.citations} >= {"KCT0004337"}
    assert second.next_question is None or second.next_question.fact != asked.fact


def test_correction_and_retraction_change_the_verdict(bot):
    chat = Conversation()
    bot.ask("I'm 61, I have SLE. Can I join NCT03171194?", conversation=chat)
    corrected = bot.ask("sorry, 71, not 61", conversation=chat)
    assert chat.facts.age == 71 and verdicts(corrected, "NCT03171194") == ["ineligible"]
    retracted = bot.ask("that was my father, not me", conversation=chat)
    assert chat.facts.age == 61 and verdicts(retracted, "NCT03171194") == ["possibly_eligible"]
    reset = bot.ask("start over", conversation=chat)
    assert chat.facts is None and reset.facts == {}


def test_a_bare_corrected_number_replaces_the_value_just_corrected_not_the_age(bot):
    # Own wording: a score corrected twice, the second time as a bare number.
    chat = Conversation()
    bot.ask("I'm 34, SLE, SLEDAI 6, eGFR 95: could I join NCT03171194?", conversation=chat)
    high = bot.ask("actually my SLEDAI is 12", conversation=chat)
    assert verdicts(high, "NCT03171194") == ["ineligible"]
    meant = bot.ask("sorry, I meant 9", conversation=chat)
    assert chat.facts.age == 34 and [s.value for s in chat.facts.scores] == [9]
    assert verdicts(meant, "NCT03171194") == ["possibly_eligible"]


def test_a_bare_number_that_could_replace_several_values_is_asked_about_not_guessed(bot):
    chat = Conversation()
    bot.ask("I'm 34, SLE, SLEDAI 6, eGFR 95: could I join NCT03171194?", conversation=chat)
    unsure = bot.ask("sorry, I meant 36", conversation=chat)
    assert "Which value" in unsure.answer and "age 34" in unsure.answer and not unsure.eligibility
    assert chat.facts.age == 34 and [s.value for s in chat.facts.scores] == [6]
    named = bot.ask("age 36", conversation=chat)
    assert chat.facts.age == 36 and verdicts(named, "NCT03171194") == ["possibly_eligible"]


def test_focus_follow_up_filters_the_listed_trials(bot):
    chat = Conversation()
    bot.ask("Are there any lupus trials?", conversation=chat)
    listed = set(chat.focus)
    answer = bot.ask("which of these are still recruiting?", conversation=chat)
    cited = {c.trial_id for c in answer.citations}
    assert cited and cited <= listed and "NCT03171194" not in cited  # completed


def test_documents_silent_on_payment_say_so(bot):
    answer = bot.ask("Are participants of NCT04356287 paid?")
    assert "don't say" in answer.answer and {c.trial_id for c in answer.citations} == {"NCT04356287"}


def test_near_a_city_says_how_far_the_closest_site_is(bot):
    far = bot.ask("Are there lupus trials near Chicago?")
    assert "closest" in far.answer.lower() and " km" in far.answer
    close = bot.ask("Any scleroderma trials near Montreal?")
    assert "NCT04356287" in close.answer.split("\n")[0] and "Nothing here is close" not in close.answer


def test_a_status_filter_is_answered_by_the_listed_trials_not_by_a_refusal(bot):
    from app.generators import NOT_FOUND

    chat = Conversation()
    bot.ask("I have lupus nephritis. Are there stem-cell trials for it?", conversation=chat)
    answer = bot.ask("which of these are still recruiting?", conversation=chat)
    assert "KCT0004337" in answer.answer and NOT_FOUND not in answer.answer


def test_near_me_is_the_place_the_person_said_they_live_in(bot):
    chat = Conversation()
    bot.ask("I'm based in Boston and I have systemic sclerosis.", conversation=chat)
    answer = bot.ask("Is there anything near me?", conversation=chat)
    assert "Boston" in answer.answer and "Montreal" in answer.answer
    # with no place said, "near me" resolves to nothing rather than to a town called "Me"
    alone = bot.ask("Any lupus trials near me?")
    assert "closest" not in alone.answer.lower()


def test_a_list_shows_what_each_trial_is_about_not_a_criterion_that_reads_as_a_claim(bot):
    answer = bot.ask("I have lupus nephritis. Are there stem-cell trials for it?")
    listed = [c for c in answer.citations if c.section not in ("status", "eligibility.facts")]
    passages = [c for c in listed if not any(f.citation.id == c.id for v in answer.eligibility for f in v.failed)]
    assert passages and not any(c.section.startswith("eligibility") for c in passages)
    # the question's topic is not a fact about the person
    assert "stem cell therapy" not in (answer.answer.split("Facts used:")[1].splitlines()[0])
    criteria = bot.ask("Which trials require a kidney biopsy?")
    assert any(c.section.startswith("eligibility") for c in criteria.citations)


def test_closest_to_a_city_orders_by_distance_and_a_summaryless_trial_shows_its_groups(bot):
    answer = bot.ask("I have systemic sclerosis. Which trial is closest to Toronto?")
    assert "Toronto" in answer.answer and "Montreal" in answer.answer.split("\n")[0]
    # NCT04356287's page has no summary: it is shown by its study groups, not by its sites
    listed = [c for c in answer.citations if c.trial_id == "NCT04356287" and c.section not in ("status",)]
    assert listed and listed[0].section in ("arms", "interventions", "description", "conditions")


def test_a_relative_named_earlier_and_asked_about_later_becomes_the_patient(bot):
    chat = Conversation()
    bot.ask("Our daughter got a lupus nephritis diagnosis when she was 17; she is 19 now.", conversation=chat)
    answer = bot.ask("Is she eligible for KCT0004337?", conversation=chat)
    assert chat.subject == "your daughter" and chat.facts.age == 19
    assert any(d.name == "lupus_nephritis" and not d.family for d in chat.facts.diagnoses)
    assert answer.next_question is None or "you" not in answer.next_question.question.lower().split()
    assert "your daughter" in answer.answer
