"""Scope and structure of criteria (issue 11, section 3): who a criterion is about, when it applies,
what "other" means, which qualifiers a negation keeps and which disease a therapy is bound to.

Criteria are written here in the style of legacy registry records, in our own words."""

from __future__ import annotations

import pytest

from eligibility.facts import extract_facts
from eligibility.matching import FactIndex, evaluate
from eligibility.parsing import parse_text, studied_diseases
from eligibility.rules import AssumedConsent, NeedsReview
from ingest.criteria import parse_criteria_text


def _value(criterion: str, patient: str, today, kind: str = "inclusion", studied: tuple[str, ...] = ()):
    rule = parse_text(criterion, kind, None, studied)
    return evaluate(rule, FactIndex.build(extract_facts(patient, today=today)), kind).value


def _violated(value, kind: str) -> bool:
    return value is False if kind == "inclusion" else value is True


# --- "other" means other than the disease the trial studies ---------------------------------------


@pytest.mark.parametrize(
    "criterion",
    [
        "Other prior malignancy within the past 5 years",
        "A second malignancy",
        "History of another cancer, except treated basal cell carcinoma of the skin",
        "No other prior malignancy except adequately treated squamous cell skin cancer",
    ],
)
def test_other_cancer_is_not_the_cancer_the_trial_studies(criterion, today):
    studied = studied_diseases(["Breast Cancer"], "Adjuvant therapy in women with early breast cancer")
    # Written as an exclusion or as a negated inclusion, the studied cancer never counts as the "other" one.
    for kind in ("exclusion", "inclusion"):
        value = _value(criterion, "52-year-old woman with breast cancer", today, kind, studied)
        assert not _violated(value, kind), kind


def test_another_autoimmune_disease_excludes_the_studied_one_and_its_parents(today):
    studied = studied_diseases(["Lupus Nephritis"], None)
    assert not _violated(
        _value("Another autoimmune disease", "30-year-old woman with lupus nephritis", today, "exclusion", studied),
        "exclusion",
    )
    # A genuinely different autoimmune disease still excludes.
    assert _violated(
        _value(
            "Another autoimmune disease",
            "30-year-old woman with lupus nephritis and rheumatoid arthritis",
            today,
            "exclusion",
            studied,
        ),
        "exclusion",
    )


# --- conditional criteria apply only when their condition holds ------------------------------------


@pytest.mark.parametrize(
    ("criterion", "outside", "inside_violating"),
    [
        ("Aged 60 to 75 years: ECOG performance status 0-1", "45-year-old man, ECOG 2", "68-year-old man, ECOG 3"),
        (
            "If age is 50 years or older, platelets at least 150,000/mm3",
            "35-year-old woman, platelets 90,000/mm3",
            "58-year-old woman, platelets 90,000/mm3",
        ),
        (
            "(For the lupus nephritis cohort only) eGFR of at least 30 mL/min",
            "40-year-old woman with rheumatoid arthritis, eGFR 20",
            "40-year-old woman with lupus nephritis, eGFR 20",
        ),
        (
            "(Psoriatic arthritis arm only) DAS28 of more than 3.2",
            "47-year-old man with ankylosing spondylitis, DAS28 2.1",
            "47-year-old man with psoriatic arthritis, DAS28 2.1",
        ),
    ],
)
def test_a_conditional_criterion_applies_only_when_its_condition_holds(criterion, outside, inside_violating, today):
    assert _value(criterion, outside, today) is True
    assert _value(criterion, inside_violating, today) is False


def test_childbearing_potential_is_proven_only_by_pregnancy(today):
    criterion = "For women of childbearing potential: a negative serum pregnancy test"
    assert _value(criterion, "60-year-old man", today) is True
    assert _value(criterion, "29-year-old woman, 10 weeks pregnant", today) is False
    assert _value(criterion, "29-year-old woman", today) is not False


@pytest.mark.parametrize(
    "criterion",
    [
        "Women able to become pregnant must agree to use effective birth control",
        "Females who could get pregnant: negative urine pregnancy test at screening",
    ],
)
def test_being_able_to_become_pregnant_is_not_being_pregnant(criterion, today):
    # A possibility of pregnancy never requires one: a man or a non-pregnant woman is not failed by it.
    assert _value(criterion, "63-year-old man", today) is not False
    assert _value(criterion, "31-year-old woman, not pregnant", today) is not False


# --- criteria about someone else ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "criterion",
    [
        "Healthy controls must have no history of rheumatic disease",
        "Control group: no evidence of coronary artery disease on angiography",
        "Caregivers must be at least 21 years old",
        "Participants or their parents who care for them must be 18 years or older",
        "Spouses of enrolled participants with no history of cancer",
        "Kidney donors: age 25 to 60",
        "Subjects without hypertension group:",
        "Participants in the healthy volunteer arm: no heart disease and no cancer",
        "Study partner aged 21 or older who sees the participant weekly",
        "Bone marrow donor: a matched sibling younger than 55",
    ],
)
def test_criteria_about_someone_else_never_decide_for_the_patient(criterion, today):
    rule = parse_text(criterion, "inclusion")
    assert isinstance(rule, NeedsReview)
    assert "someone other than the patient" in rule.reason or "judgement" in rule.reason
    assert _value(criterion, "9-year-old boy with coronary artery disease and cancer", today) is None


def test_consent_with_parents_is_how_consent_is_taken_not_an_age_limit(today):
    criterion = "Participants aged 12-17 will give assent and their parents will sign the consent form."
    assert isinstance(parse_text(criterion, "inclusion"), AssumedConsent)
    assert _value(criterion, "45-year-old man", today) is True


# --- negated inclusions keep their qualifiers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("criterion", "patient"),
    [
        ("No uncontrolled high blood pressure", "55-year-old man with hypertension"),
        ("No poorly controlled diabetes", "55-year-old man with type 2 diabetes"),
        ('No patients with "atypical" rheumatoid arthritis', "55-year-old woman with rheumatoid arthritis"),
    ],
)
def test_a_negated_inclusion_keeps_its_qualifier(criterion, patient, today):
    # The patient has the disease but nothing says it is uncontrolled / poorly controlled / atypical.
    assert _value(criterion, patient, today) is not False
    # Without the disease at all the criterion is met.
    assert _value(criterion, "55-year-old man, no medical history", today) is not False


@pytest.mark.parametrize(
    ("criterion", "kind"), [("No active tuberculosis", "inclusion"), ("Active TB infection", "exclusion")]
)
def test_an_inactive_state_is_not_the_active_disease(criterion, kind, today):
    # Latent tuberculosis is-a tuberculosis, but not an active one (conditions.yaml: inactive).
    assert not _violated(_value(criterion, "38-year-old woman with latent TB on isoniazid", today, kind), kind)
    assert _violated(_value(criterion, "38-year-old woman with tuberculosis", today, kind), kind)


def test_an_excluded_kind_of_a_disease_never_widens_to_the_disease(today):
    # Type 1 diabetes is-a diabetes: a diabetic of the other type is not excluded, while the parent term
    # still takes in every kind.
    assert not _violated(
        _value("Type I diabetes mellitus", "61-year-old man with T2DM", today, "exclusion"), "exclusion"
    )
    assert _violated(_value("Type one diabetes", "19-year-old with type 1 diabetes", today, "exclusion"), "exclusion")
    assert _violated(_value("Diabetes mellitus", "61-year-old man with T2DM", today, "exclusion"), "exclusion")


def test_a_drug_qualifying_a_disease_is_not_an_alternative(today):
    criterion = "Unstable insulin-requiring diabetes mellitus"
    # Not "insulin or diabetes": a diabetic on metformin is not excluded by it.
    assert not _violated(
        _value(criterion, "50-year-old man with type 2 diabetes on metformin", today, "exclusion"), "exclusion"
    )
    assert not _violated(
        _value(criterion, "50-year-old man on insulin glargine after pancreatectomy", today, "exclusion"), "exclusion"
    )


# --- therapy bound to a disease stays bound ------------------------------------------------------------


def test_therapy_bound_to_a_disease_is_not_a_history_of_that_disease(today):
    criterion = "No prior chemotherapy for ovarian cancer"
    # A history of the cancer treated by surgery alone does not violate it.
    assert _value(criterion, "61-year-old woman with ovarian cancer treated by surgery", today) is not False
    assert _value(criterion, "61-year-old woman, no prior chemotherapy", today) is True


@pytest.mark.parametrize(
    "criterion",
    [
        "Previous radiotherapy for prostate cancer",
        "Radiation to the pelvis for any cancer",
        "Prior surgery for colon cancer",
        "Stem cell transplant for lymphoma in the past",
    ],
)
def test_an_excluded_therapy_for_a_disease_is_not_the_disease(criterion, today):
    # Having the disease does not prove the therapy: never excluded by the disease alone.
    patient = "70-year-old man with prostate cancer and lymphoma on watchful waiting"
    assert not _violated(_value(criterion, patient, today, "exclusion"), "exclusion")
    # Without the disease there was no therapy for it: decided, not asked.
    assert _value(criterion, "70-year-old man, never had cancer", today, "exclusion") is False


# --- legacy headings split into their items ------------------------------------------------------------

LEGACY = """DISEASE CHARACTERISTICS: Biopsy-proven soft tissue sarcoma of the limb No distant
metastases No prior radiotherapy to the limb

PATIENT CHARACTERISTICS: Age: 16 to 70 Performance status: Karnofsky 70-100% Life expectancy:
Not specified Hematopoietic: WBC at least 3,500/mm3 Renal: Creatinine no greater than
1.8 mg/dL

PRIOR CONCURRENT THERAPY: Biologic therapy: Not specified Chemotherapy: No prior doxorubicin
Surgery: See Disease Characteristics"""


def test_legacy_sections_split_into_their_fields_on_their_own_lines():
    cohorts, _ = parse_criteria_text("NCT7", LEGACY, first_line=10)
    got = [(c.text, c.line) for c in cohorts[0].inclusion]
    assert got == [
        ("DISEASE CHARACTERISTICS: Biopsy-proven soft tissue sarcoma of the limb", 10),
        ("No distant metastases", 10),  # each piece on the line holding most of it
        ("No prior radiotherapy to the limb", 11),
        ("PATIENT CHARACTERISTICS: Age: 16 to 70", 13),
        ("Performance status: Karnofsky 70-100%", 13),
        ("Life expectancy: Not specified", 13),
        ("Hematopoietic: WBC at least 3,500/mm3", 14),
        ("Renal: Creatinine no greater than 1.8 mg/dL", 14),
        ("PRIOR CONCURRENT THERAPY: Biologic therapy: Not specified", 17),
        ("Chemotherapy: No prior doxorubicin", 17),
        ("Surgery: See Disease Characteristics", 18),
    ]
    # Nothing of the source is lost.
    words = " ".join(LEGACY.split())
    assert " ".join(t for t, _ in got) == words


@pytest.mark.parametrize("field", ["Biologic therapy: Not specified", "Surgery: See Disease Characteristics"])
def test_a_field_that_states_no_requirement_requires_nothing(field, today):
    assert isinstance(parse_text(field, "inclusion"), AssumedConsent)
    assert _value(field, "40-year-old woman", today) is True


# --- an "or" list decides nothing from a read alternative failing when another was not read -------------


@pytest.mark.parametrize(
    ("criterion", "read_alone"),
    [
        (
            "Relapsing disease after two lines of treatment, or intolerable toxicity of methotrexate",
            "58-year-old woman on methotrexate",
        ),
        (
            "Current insulin therapy, or poorly responsive glycaemic control despite lifestyle measures",
            "58-year-old woman on insulin glargine",
        ),
    ],
)
def test_an_unread_alternative_keeps_a_failed_read_one_from_deciding(criterion, read_alone, today):
    # Neither the drug nor anything else is stated: the unread alternative may hold, so no failure.
    assert _value(criterion, "58-year-old woman, takes no medicines", today) is None
    # An exclusion written the same way is never cleared by the read alternative alone.
    assert _value(criterion, "58-year-old woman, takes no medicines", today, "exclusion") is None
    # The read alternative holding still decides the whole "or": met (inclusion), violated (exclusion).
    assert _value(criterion, read_alone, today, "exclusion") is True


@pytest.mark.parametrize(
    "criterion",
    [
        "Negative result on a serum or urine pregnancy test",
        "Men or women aged 30 to 60 on metformin",
        "Psoriasis with or without joint involvement",
    ],
)
def test_words_coordinated_inside_a_phrase_are_not_alternatives(criterion):
    rule = parse_text(criterion, "inclusion")
    assert "an alternative the checker did not read" not in rule.model_dump_json()


# --- sub-items kept under their lead in one criterion ---------------------------------------------------

NESTED = """Younger than 16 years. For outpatients, any of the following:
- known cirrhosis of the liver
- active cancer treatment
- current pregnancy"""


def test_sub_items_on_their_own_lines_are_joined_as_their_list_joins_them(today):
    # Each line is its own exclusion: the age alone excludes, without the lines below it.
    assert _value(NESTED, "14-year-old boy with asthma", today, "exclusion") is True
    assert _value(NESTED, "30-year-old woman, 12 weeks pregnant", today, "exclusion") is True
