"""Criterion text -> typed rules: every rule kind, units, windows, classes, logic, review, consent."""

from __future__ import annotations

import pytest

from eligibility import concepts
from eligibility.rules import parse_rule
from ingest.models import Criterion


def crit(text: str, kind: str = "exclusion", cohort: str | None = None) -> Criterion:
    return Criterion(id=f"T:eligibility.{kind}:1", trial_id="T", cohort=cohort, kind=kind, heading_kind=kind, text=text)


def leaves(rule) -> list:
    if rule.kind in ("all_of", "any_of"):
        return [x for r in rule.rules for x in leaves(r)]
    if rule.kind in ("not", "qualified"):
        return leaves(rule.rule)
    if rule.kind == "implies":
        return leaves(rule.condition) + leaves(rule.then)
    return [rule]


@pytest.mark.parametrize(
    "text,lo,hi,lo_inc,hi_inc",
    [
        ("18 Years and older", 18, None, True, True),
        ("5 to 50 Years of age", 5, 50, True, True),
        ("Adults over 18 years of age and less than 80 years of age", 18, 80, False, False),
        ("Adult patients, >/= 18 years of age", 18, None, True, True),
        ("Adults aged at least 18 years old", 18, None, True, True),
    ],
)
def test_age_phrases(text, lo, hi, lo_inc, hi_inc):
    rule = parse_rule(crit(text, "inclusion"))
    assert rule.kind == "age"
    assert (rule.min, rule.max, rule.min_inclusive, rule.max_inclusive) == (lo, hi, lo_inc, hi_inc)


def test_age_of_onset_is_not_an_age_rule():
    rule = parse_rule(crit("Diagnosis of JDM based on an age of onset is less 16 years of age", "inclusion"))
    assert all(r.kind != "age" for r in leaves(rule))


def test_lab_list_with_units_and_uln():
    rule = parse_rule(
        crit(
            "Laboratory exclusions: eGFR <30, WBC <2.0/mm3, hemoglobin <8 g/dL, platelet count "
            "<30,000/mm3, liver enzymes AST or ALT >4 times upper limit normal; Positive testing for "
            "HIV, hepatitis B or hepatitis C"
        )
    )
    assert rule.kind == "any_of"
    labs = {r.analyte: r for r in leaves(rule) if r.kind == "lab"}
    assert labs["platelets"].op == "<" and labs["platelets"].value == 30.0  # 30,000/mm3 = 30 x10^9/L
    assert labs["hemoglobin"].value == 8.0 and labs["egfr"].value == 30.0 and labs["wbc"].value == 2.0
    assert labs["ast"].uln and labs["alt"].uln and labs["alt"].value == 4.0
    assert {r.names[0] for r in leaves(rule) if r.kind == "condition"} == {"hiv", "hbv", "hcv"}


def test_lost_caret_units():
    rule = parse_rule(
        crit(
            "Bone marrow insufficiency defined as neutropenia < 0.5 x 109 cell/L, thrombocytopenia "
            "< 30 x 109 cell/L, anemia < 8g/dL, CD4+ T lymphopenia < 200 x 106 cell/L"
        )
    )
    labs = {r.analyte: r.value for r in leaves(rule) if r.kind == "lab"}
    assert labs == {"anc": 0.5, "platelets": 30.0, "hemoglobin": 8.0, "cd4": 200.0}


@pytest.mark.parametrize(
    "analyte,value,unit,expected",
    [
        ("platelets", 30000, "/mm3", 30.0),
        ("platelets", 30, "x 109 cell/L", 30.0),
        ("platelets", 25, "x10^9/L", 25.0),
        ("platelets", 150000, None, 150.0),
        ("platelets", 90, "x 10^3/µL", 90.0),
        ("hemoglobin", 75, "g/L", 7.5),
        ("hemoglobin", 9.1, None, 9.1),
        ("creatinine", 177, "µmol/L", 2.002),
        ("cd4", 0.2, "x10^9/L", 200.0),
        ("wbc", 2000, "/mm3", 2.0),
        ("upcr", 50, "mg/mmol", 0.442),
        ("proteinuria", 500, "mg/24h", 0.5),
    ],
)
def test_unit_normalisation(analyte, value, unit, expected):
    assert concepts.MEASUREMENTS[analyte].to_canonical(value, unit) == pytest.approx(expected, rel=1e-3)


def test_scores_and_ranges():
    r = parse_rule(
        crit("Clinically mild to moderately active SLE determined by SLEDAI score ≥4 and ≤10 at screening", "inclusion")
    )
    score = [x for x in leaves(r) if x.kind == "score"][0]
    assert (score.score, score.min, score.max) == ("sledai", 4, 10)
    r = parse_rule(crit(">/= 15 and </= 40 mRSS units at screening", "inclusion"))
    assert (r.kind, r.score, r.min, r.max) == ("score", "mrss", 15, 40)
    r = parse_rule(crit("Active RA, as defined as DAS ESR\\>3.1 (as defined by moderate and sever RA )", "inclusion"))
    das = [x for x in leaves(r) if x.kind == "score"][0]
    assert (das.score, das.min, das.min_inclusive) == ("das28", 3.1, False)


def test_exposure_windows_and_classes():
    r = parse_rule(
        crit(
            "Having received belimumab within 3 months of Baseline, or having received rituximab or other "
            "B cell depleting biologic therapy within 6 months of Baseline."
        )
    )
    exp = [x for x in leaves(r) if x.kind == "exposure"]
    assert exp[0].drugs == ["belimumab"] and round(exp[0].window_days) == 91
    assert exp[1].drugs == ["rituximab"] and exp[1].classes == ["b_cell_depleting"] and round(exp[1].window_days) == 183
    r = parse_rule(crit("Previous exposure to anti-CD20 monoclonal antibody (mAb) or other type(s) of mAb therapy"))
    assert (r.kind, r.timing, set(r.classes)) == ("exposure", "ever", {"anti_cd20", "mab"})
    r = parse_rule(
        crit(
            "Patients who have received any of the following within 6 months prior to baseline\n"
            "oNitrogen mustard, chlorambucil, vincristine, procarbazine\noAbatacept\noRituximab, belimumab"
        )
    )
    assert r.kind == "exposure" and "rituximab" in r.drugs and r.timing == "window" and round(r.window_days) == 183


def test_dose_per_kg():
    r = parse_rule(crit("Use of prednisone \\>0.5 mg/kg/day (or equivalent corticosteroid) within 1 month of Baseline"))
    assert (r.kind, r.op, r.value, r.per_kg, round(r.window_days)) == ("dose", ">", 0.5, True, 30)


def test_durations():
    r = parse_rule(
        crit("The presence of arthritis symptoms for more than 6 weeks but less than 5 year", "inclusion", "RA")
    )
    assert (r.kind, r.subject, r.min_days, round(r.max_days), r.names) == ("duration", "symptoms", 42, 1826, ["ra"])
    r = parse_rule(
        crit(
            "Disease duration upto 5 years (defined as time from first non-Raynaud phenomenon manifestation)",
            "inclusion",
            "SSc",
        )
    )
    assert r.kind == "qualified" and "raynaud" in r.note  # the definition is not read: met only after review
    assert (r.rule.kind, round(r.rule.max_days), r.rule.names) == ("duration", 1826, ["ssc"])


def test_unread_words_of_an_inclusion_need_review():
    r = parse_rule(crit("CVD free men and women aged 45-84 at baseline", "inclusion"))
    assert r.kind == "qualified" and r.rule.kind == "age" and r.review_when == [True]
    assert parse_rule(crit("18 Years and older", "inclusion")).kind == "age"


def test_condition_with_window_and_exceptions():
    r = parse_rule(
        crit(
            "History of malignant neoplasm within the last 3 years, except for adequately treated cancers "
            "of the skin (basal or squamous cell) or carcinoma in situ of the uterine cervix"
        )
    )
    assert r.kind == "condition" and r.names == ["malignancy"] and round(r.window_days) == 1096
    assert {"bcc", "cervical_cis"} <= set(r.except_names)
    r = parse_rule(
        crit(
            "History of cancer. Exception: participants with previous resected basal or squamous cell "
            "carcinoma, treated cervical dysplasia, or treated in situ Grade I cervical cancer within "
            "5 years prior to study entry are not excluded from study eligibility"
        )
    )
    assert (r.timing, r.window_days) == ("ever", None) and {"bcc", "scc_skin", "cervical_cis"} <= set(r.except_names)


def test_diagnosis_with_classification_and_other_than():
    r = parse_rule(crit("Active musculoskeletal SLE diagnosed by SLICC criteria.", "inclusion", "SLE"))
    inner = r.rule if r.kind == "qualified" else r
    assert (inner.kind, inner.names, inner.qualifier, inner.closed_world) == ("diagnosis", ["sle"], "SLICC", True)
    r = parse_rule(crit("Rheumatic autoimmune disease other than systemic sclerosis", "exclusion", "SSc"))
    assert r.kind == "diagnosis" and "ssc" not in r.names and "sle" in r.names and "ssc" in r.except_names


def test_logic_and_or_roman_and_lettered():
    r = parse_rule(
        crit("Positive for rheumatoid factor (RF) and/or anticyclic citrullinated peptide (CCP)", "inclusion")
    )
    assert r.kind == "any_of" and {x.test for x in r.rules} == {"rf", "anti_ccp"}
    text = (
        "Severe disease defined as:\ni) disease duration of 2 years or less with an mRss of \\> 20 and (ESR \\> 25 "
        "mm and/or hemoglobin \\< 11 g/dL, not explained by other causes than SSc), or ii) mRss \\>15 without any "
        "restriction as to disease duration plus at least one major organ involvement as defined by: a) "
        "respiratory involvement consisting of DLCO and/or FVC \\< 80% predicted and evidence of interstitial "
        "lung disease; b) renal involvement consisting of stage 2 or 3 chronic kidney disease (glomerular "
        "filtration rate between 30-89 mL/min) not explained by other causes than SSc"
    )
    r = parse_rule(crit(text, "inclusion"))
    assert r.kind == "any_of" and len(r.rules) == 2
    second = r.rules[1]
    assert second.kind == "all_of" and second.rules[0].kind == "score" and second.rules[0].min == 15
    assert second.rules[1].kind == "any_of" and len(second.rules[1].rules) == 2


def test_negated_atoms():
    r = parse_rule(crit("Male or non-pregnant, non-lactating female patients at least 18 years of age", "inclusion"))
    assert r.kind == "all_of" and [x.kind for x in r.rules] == ["not", "not", "age"]
    r = parse_rule(
        crit(
            "Patients with interstitial lung disease without evidence of a concomitant rheumatologic "
            "autoimmune disorder"
        )
    )
    assert r.kind == "all_of" and r.rules[1].kind == "not"


def test_conditional_requirement():
    r = parse_rule(
        crit(
            "Subjects with a diagnosis of Juvenile Dermatomyositis (JDM) must meet either of the "
            "following criteria:\n1. An MMT-8 score that is no greater than 125/150",
            "inclusion",
            "DM/PM",
        )
    )
    assert r.kind == "implies" and r.condition.names == ["jdm"]


@pytest.mark.parametrize(
    "text",
    [
        "Any other medical condition, related or unrelated to SLE, that in the opinion of the investigator would render "
        "the patient inappropriate",
        "Active disease, as defined by protocol",
        "Patients who determined by the investigators to be inappropriate",
    ],
)
def test_judgement_needs_review_with_verbatim_text(text):
    r = parse_rule(crit(text))
    assert r.kind == "needs_review" and r.text == text and r.subjective


@pytest.mark.parametrize(
    "text",
    [
        "Able and willing to give written informed consent",
        "Willing to use acceptable effective forms of contraception",
        "Inability to provide informed consent",
    ],
)
def test_consent_is_assumed(text):
    r = parse_rule(crit(text))
    assert r.kind == "assumed_consent" and r.text == text


def test_qualifier_wraps_only_its_atom():
    r = parse_rule(
        crit(
            "Known coronary artery disease or significant cardiac arrhythmias or severe congestive heart "
            "failure (New York Heart Association [NYHA] classes III or IV)"
        )
    )
    assert [x.kind for x in r.rules] == ["condition", "qualified", "qualified"]


def test_unparseable_is_review_never_dropped():
    r = parse_rule(crit("Initiation of an exercise program within 4 weeks of screening"))
    assert r.kind == "needs_review" and r.text.startswith("Initiation")


def test_consent_words_do_not_hide_a_substantive_criterion():
    r = parse_rule(
        crit(
            "M/F . Meet DSM-IV criteria for cocaine or methamphetamine dependence. Agree to conditions "
            "of the study and sign informed consent.",
            "inclusion",
        )
    )
    assert r.kind == "needs_review"


def test_negation_cue_scopes_over_a_list():
    r = parse_rule(crit("Other: Not pregnant or nursing", "inclusion"))
    assert r.kind == "all_of" and [x.kind for x in r.rules] == ["not", "not"]  # not (pregnant or nursing)
    r = parse_rule(crit("Chemotherapy: No prior chemotherapy", "inclusion"))
    assert r.kind == "not" and r.rule.kind == "exposure"
    r = parse_rule(
        crit(
            "Active infections, including but not limited to the human immunodeficiency virus, "
            "hepatitis B or hepatitis C"
        )
    )
    assert all(x.kind != "not" for x in r.rules)  # "not limited to" negates nothing


def test_exclusion_written_in_an_inclusion_list():
    r = parse_rule(crit("Those with psychiatric disorders will be excluded.", "inclusion"))
    assert r.kind == "not" and r.rule.kind == "condition" and r.rule.names == ["psychiatric"]
