"""Questions put to a carer or clinician about the patient (app/addressee.py)."""

from __future__ import annotations

import re

import pytest

from app.addressee import address
from app.conversation import subject_of
from eligibility import concepts
from eligibility.questions import question_for


def _every_question() -> list[str]:
    facts = ["age", "sex", "diagnosis", "disease_duration", "prednisone_dose", "pregnancy", "weight"]
    facts += [*concepts.MEASUREMENTS, *concepts.SEROLOGY]
    facts += [f"{c}{s}" for c in concepts.CONDITIONS for s in ("", "_active", "_date")]
    facts += [f"{d}{s}" for d in [*concepts.DRUGS, *concepts.DRUG_CLASSES] for s in ("_last_dose", "_start", "_use")]
    return sorted({question_for(f) for f in facts})


@pytest.mark.parametrize("subject", ["your mother", "your son", "your patient", "your child"])
def test_no_question_the_checker_can_ask_is_left_in_the_second_person(subject):
    questions = _every_question()
    assert len(questions) > 100
    for q in questions:
        asked = address(q, subject)
        # "your patient" itself says "your"; "if you know" asks the person answering
        left = asked.replace(subject, "").replace("if you know", "")
        assert not re.search(r"(?i)\byou(?:r|rself)?\b", left), (q, asked)
        assert asked.endswith("?")


@pytest.mark.parametrize(
    "question,subject,expected",
    [
        ("How old are you?", "your mother", "How old is she?"),
        ("Have you ever taken a biologic drug?", "your father", "Has he ever taken a biologic drug?"),
        (
            "Do you take prednisone, and what is your daily dose?",
            "your wife",
            "Does she take prednisone, and what is her daily dose?",
        ),
        ("Are you allergic to penicillin?", "your patient", "Is your patient allergic to penicillin?"),
        ("What was your most recent eGFR?", "your patient", "What was your patient's most recent eGFR?"),
        ("How old are you?", "you", "How old are you?"),
        (
            "How long are you expected to live, and how long you are told to wait?",
            "your father",
            "How long is he expected to live, and how long he is told to wait?",
        ),
        (
            "When did you have gout (month and year, if you know)?",
            "your son",
            "When did he have gout (month and year, if you know)?",
        ),
    ],
)
def test_the_shapes_of_the_registrys_questions(question, subject, expected):
    assert address(question, subject) == expected


def test_the_latest_text_naming_someone_decides_whom_the_answers_are_about():
    assert subject_of(["I have lupus, could I join?"]) == "you"
    assert subject_of(["My mother has lupus. Is there anything she could join?", "She's 67"]) == "your mother"
    assert subject_of(["my patient, 54, with RA"]) == "your patient"
    # a clinical note's opening describes someone else, unless the writer says "I"
    assert subject_of(["61F, dcSSc, mRSS 19, on MMF. Candidates?"]) == "your patient"
    assert subject_of(["Pt has lupus nephritis class IV"]) == "your patient"
    assert subject_of(["29 F here with SLE, can I take part?"]) == "you"
    # a relative named without asking for them is family history, not the patient
    assert subject_of(["My mother had breast cancer. I have lupus."]) == "you"
