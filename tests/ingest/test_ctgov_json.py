"""ClinicalTrials.gov API v2 JSON: field-by-field parsing, multi-study shapes, per-study hashes, errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.formats import ctgov_json, parse_document, parse_document_each
from ingest.models import IngestError, ParseError, Trial

FIXTURES = Path(__file__).parent / "fixtures" / "json"


def load(name: str) -> tuple[str, bytes]:
    path = FIXTURES / name
    return f"fixtures/json/{name}", path.read_bytes()


def parse_one(name: str) -> Trial:
    trials = parse_document(*load(name))
    assert len(trials) == 1
    return trials[0]


def test_complete_study_every_field():
    path, data = load("ctgov_v2_complete.json")
    t = parse_one("ctgov_v2_complete.json")
    assert (t.trial_id, t.registry, t.source_format, t.source_path) == (
        "NCT09990001",
        "ClinicalTrials.gov",
        "ctgov_json",
        path,
    )
    assert t.source_hash == hashlib.sha256(data).hexdigest()
    assert t.title == "Umbilical Cord Mesenchymal Stromal Cells for Refractory Lupus Nephritis"
    assert t.official_title.startswith("A Randomized, Double-Blind, Placebo-Controlled Phase 1/2 Study")
    assert t.acronym == "MSC-LN"
    assert (t.status, t.phase, t.study_type) == ("ACTIVE_NOT_RECRUITING", "PHASE1/PHASE2", "INTERVENTIONAL")
    assert (t.enrollment, t.enrollment_type) == (45, "actual")
    assert (t.start_date, t.completion_date, t.last_updated) == ("2023-03-15", "2026-03", "2025-01-22")
    assert t.sponsor == "Trialfinder University Hospital"
    assert t.collaborators == [
        "National Institute of Arthritis and Musculoskeletal and Skin Diseases (NIAMS)",
        "Cellular Therapy Core Facility",
    ]
    assert t.responsible_party == (
        "Principal Investigator: Maria Keller, Professor of Rheumatology, Trialfinder University Hospital"
    )
    assert t.conditions == ["Lupus Nephritis", "Systemic Lupus Erythematosus"]
    assert t.keywords == ["mesenchymal stromal cells", "MSC", "umbilical cord", "SLE", "proteinuria"]
    assert t.summary.startswith("This study tests whether an infusion of mesenchymal stromal cells")
    assert "\n\nParticipants are randomized 2:1" in t.description
    assert t.design == {
        "allocation": "Randomized",
        "intervention_model": "Parallel Assignment",
        "intervention_model_description": "2:1 randomization, stratified by baseline proteinuria "
        "(< 3 g/day vs >= 3 g/day)",
        "primary_purpose": "Treatment",
        "masking": "Quadruple (Participant, Care Provider, Investigator, Outcomes Assessor)",
    }
    assert [(a.label, a.type) for a in t.arms] == [("MSC infusion", "Experimental"), ("Placebo", "Placebo Comparator")]
    assert t.arms[0].interventions == [
        "Biological: Umbilical cord mesenchymal stromal cells",
        "Drug: Mycophenolate mofetil",
    ]
    assert t.arms[1].description == "One intravenous infusion of the cell-free vehicle on day 0, plus standard therapy."
    msc, placebo, mmf = t.interventions
    assert (msc.name, msc.type, msc.other_names, msc.arms) == (
        "Umbilical cord mesenchymal stromal cells",
        "Biological",
        ["UC-MSC", "TF-101"],
        ["MSC infusion"],
    )
    assert msc.description == "1 x 10^6 cells/kg body weight, single intravenous infusion over 30 minutes on day 0"
    assert (placebo.type, placebo.arms, placebo.other_names) == ("Other", ["Placebo"], [])
    assert (mmf.description, mmf.arms) == (
        "1 g orally twice daily, continued at the stable pre-study dose",
        ["MSC infusion", "Placebo"],
    )
    assert [(o.kind, o.measure, o.time_frame) for o in t.outcomes] == [
        ("primary", "Complete renal response", "Week 52"),
        ("secondary", "Change in SLEDAI-2K score", "Baseline to week 24"),
        ("secondary", "Number of participants with infusion-related adverse events", "Day 0 to day 7"),
        ("other", "Serum anti-dsDNA antibody titre", "Weeks 12, 24 and 52"),
    ]
    assert t.outcomes[0].description.startswith("Urine protein-to-creatinine ratio below 0.5 g/g")
    e = t.eligibility
    assert (e.minimum_age, e.maximum_age, e.min_age_years, e.max_age_years) == ("18 Years", "65 Years", 18.0, 65.0)
    assert (e.sex, e.healthy_volunteers) == ("all", False)
    assert e.text.startswith("Inclusion Criteria:\n\n* Age 18 to 65 years")
    assert [(loc.facility, loc.city, loc.state, loc.country, loc.status) for loc in t.locations] == [
        ("Trialfinder University Hospital", "Berlin", None, "Germany", "ACTIVE_NOT_RECRUITING"),
        ("Riverside Kidney Center", "Boston", "Massachusetts", "United States", "COMPLETED"),
    ]
    # The site PI is the overall PI: listed once.
    assert [(i.name, i.role, i.affiliation) for i in t.investigators] == [
        ("Maria Keller, MD", "Principal Investigator", "Trialfinder University Hospital"),
        ("Chen Li, MD, PhD", "Study Director", "Cellular Therapy Core Facility"),
        ("Jonas Weber, RN", "Central Contact", None),
    ]
    assert [(r.pmid, r.type) for r in t.references] == [("31000001", "BACKGROUND"), (None, "RESULT")]
    assert t.references[0].citation.startswith("Keller M, Li C. Mesenchymal stromal cells in lupus nephritis")
    assert [(i.id, i.type, i.source) for i in t.identifiers] == [
        ("TF-MSC-SLE-01", "org_study_id", "Trialfinder University Hospital"),
        ("2024-000123-11", "EUDRACT_NUMBER", None),
        ("R01AR099999", "NIH", None),
        ("TFR-77", "OTHER", "Trialfinder Research Network"),
    ]
    assert t.warnings == [] and t.related == []


def test_complete_study_criteria_point_at_the_criteria_line():
    _, data = load("ctgov_v2_complete.json")
    t = parse_one("ctgov_v2_complete.json")
    criteria = t.eligibility.criteria()
    assert [c.kind for c in criteria] == ["inclusion"] * 4 + ["exclusion"] * 5
    assert criteria[-1].text == "Platelet count < 50,000/mm3"
    source_lines = data.decode().splitlines()
    for criterion in criteria:
        line = source_lines[criterion.line - 1]
        assert '"eligibilityCriteria"' in line and json.dumps(criterion.text)[1:-1] in line


@pytest.mark.parametrize("name", ["ctgov_v2_list.json", "ctgov_v2_page.json", "ctgov_v2_studies.jsonl"])
def test_multi_study_shapes_give_the_same_studies_and_hashes(name):
    trials = parse_document(*load(name))
    reference = {t.trial_id: t for t in parse_document(*load("ctgov_v2_list.json"))}
    expected_ids = ["NCT09990002", "NCT09990003"] + (["NCT09990004"] if "page" not in name else [])
    assert [t.trial_id for t in trials] == expected_ids
    for trial in trials:
        # Per-study canonical hash: the same study hashes the same in every container format.
        assert trial.source_hash == reference[trial.trial_id].source_hash
        # Everything but where it sits (the path, the source lines of criteria and warnings) is the same.
        same = {"source_path": True, "eligibility": {"cohorts"}, "warnings": {"__all__": {"line"}}}
        assert trial.model_dump(exclude=same) == reference[trial.trial_id].model_dump(exclude=same)
        assert [c.text for c in trial.eligibility.criteria()] == [
            c.text for c in reference[trial.trial_id].eligibility.criteria()
        ]
    assert len({t.source_hash for t in trials}) == len(trials)


def test_changing_one_study_of_a_jsonl_file_changes_only_its_hash():
    path, data = load("ctgov_v2_studies.jsonl")
    lines = data.decode().splitlines()
    changed = json.loads(lines[1])
    changed["protocolSection"]["statusModule"]["overallStatus"] = "RECRUITING"
    lines[1] = json.dumps(changed)
    before = parse_document(path, data)
    after = parse_document(path, ("\n".join(lines) + "\n").encode())
    assert [a.source_hash == b.source_hash for a, b in zip(after, before, strict=True)] == [True, False, True]
    assert after[1].status == "RECRUITING"


def test_observational_registry_and_other_vocabularies():
    obs, prev, bare = parse_document(*load("ctgov_v2_list.json"))
    assert (obs.study_type, obs.phase, obs.status, obs.enrollment_type) == (
        "OBSERVATIONAL",
        None,
        "RECRUITING",
        "planned",
    )
    assert obs.design == {
        "observational_model": "Cohort",
        "time_perspective": "Prospective",
        "sampling_method": "Non-Probability Sample",
        "study_population": "Adults seen at consortium clinics",
        "study_type_detail": "Patient Registry",
    }
    assert obs.responsible_party == "Sponsor"
    assert [loc.status for loc in obs.locations] == ["RECRUITING", "NOT_YET_RECRUITING"]
    assert (prev.acronym, prev.phase, prev.status) == ("HOPE-CHB", "PHASE3", "NOT_YET_RECRUITING")
    assert prev.design == {
        "allocation": "N/A",
        "intervention_model": "Single Group Assignment",
        "primary_purpose": "Prevention",
        "masking": "None (Open Label)",
    }
    e = prev.eligibility
    assert (e.sex, e.healthy_volunteers, e.minimum_age, e.min_age_years, e.max_age_years) == (
        "female",
        True,
        "6 Months",
        0.5,
        45.0,
    )
    assert [c.number for c in e.criteria()] == ["1", "2", "1", "2"]
    assert (bare.status, bare.design, bare.eligibility.cohorts) == (
        "WITHDRAWN",
        {"why_stopped": "Funding not obtained"},
        [],
    )


def test_study_missing_optional_modules():
    t = parse_one("ctgov_v2_minimal.json")
    # No brief title: the official one stands in; no eligibility module: a missing_field warning.
    assert t.title == "An Official Title Only Study of Tocilizumab in Giant Cell Arteritis"
    assert (t.status, t.phase, t.study_type) == ("UNKNOWN", "NA", "INTERVENTIONAL")
    assert (t.sponsor, t.conditions, t.arms, t.interventions, t.outcomes, t.locations) == (None, [], [], [], [], [])
    assert t.eligibility.model_dump() == {
        "minimum_age": None,
        "maximum_age": None,
        "min_age_years": None,
        "max_age_years": None,
        "sex": None,
        "healthy_volunteers": None,
        "cohorts": [],
        "text": None,
    }
    assert [w.code for w in t.warnings] == ["missing_field"]
    assert "protocolSection.eligibilityModule.eligibilityCriteria" in t.warnings[0].message


def test_study_without_nct_id_names_the_missing_field():
    with pytest.raises(ParseError) as caught:
        parse_document(*load("ctgov_v2_no_nct.json"))
    assert "protocolSection.identificationModule.nctId" in caught.value.message
    assert caught.value.line == 1


def test_missing_nct_id_in_a_list_says_which_study():
    studies = json.loads(load("ctgov_v2_list.json")[1])
    del studies[1]["protocolSection"]["identificationModule"]["nctId"]
    results = parse_document_each("list.json", json.dumps(studies).encode())
    assert [r.trial_id if isinstance(r, Trial) else "error" for r in results] == ["NCT09990002", "error", "NCT09990004"]
    assert results[1].message.startswith("study 2 of 3: ")
    assert "protocolSection.identificationModule.nctId" in results[1].message


def test_jsonl_with_a_bad_line_reports_that_line_and_keeps_the_others():
    path, data = load("ctgov_v2_bad_line.jsonl")
    with pytest.raises(ParseError) as caught:
        parse_document(path, data)
    assert caught.value.line == 2 and "line 2 is not valid JSON" in caught.value.message
    results = parse_document_each(path, data)
    assert [type(r).__name__ for r in results] == ["Trial", "IngestError", "Trial"]
    assert results[1] == IngestError(path=path, line=2, message=caught.value.message)


def test_truncated_json_reports_the_line_where_it_stops():
    path, data = load("truncated.json")
    with pytest.raises(ParseError) as caught:
        parse_document(path, data)
    assert caught.value.line == data.count(b"\n") + 1
    assert caught.value.message.startswith("invalid JSON: ") and "truncated" in caught.value.message


@pytest.mark.parametrize("text", ['{"foo": 1}', "[1, 2]", '{"studies": "none"}', "[[]]", '{"protocolSection": 3}'])
def test_json_that_is_not_a_study_is_refused_with_the_expected_shapes(text):
    with pytest.raises(ParseError) as caught:
        parse_document("x.json", text.encode())
    message = caught.value.message
    assert "protocolSection" in message and "internal error" not in message


def test_pretty_json_followed_by_junk_is_not_mistaken_for_jsonl():
    _, data = load("ctgov_v2_minimal.json")
    with pytest.raises(ParseError) as caught:
        parse_document("x.json", data + b"}\n")
    assert "Extra data" in caught.value.message and caught.value.line == data.count(b"\n") + 1


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=10,
)
_module_names = st.sampled_from(
    [
        "identificationModule",
        "statusModule",
        "sponsorCollaboratorsModule",
        "descriptionModule",
        "conditionsModule",
        "designModule",
        "armsInterventionsModule",
        "outcomesModule",
        "eligibilityModule",
        "contactsLocationsModule",
        "referencesModule",
    ]
)
_field_names = st.sampled_from(
    [
        "nctId",
        "briefTitle",
        "overallStatus",
        "phases",
        "enrollmentInfo",
        "count",
        "type",
        "armGroups",
        "interventions",
        "primaryOutcomes",
        "eligibilityCriteria",
        "minimumAge",
        "sex",
        "healthyVolunteers",
        "locations",
        "references",
        "designInfo",
        "maskingInfo",
        "whoMasked",
        "leadSponsor",
        "collaborators",
        "startDateStruct",
        "date",
        "secondaryIdInfos",
        "orgStudyIdInfo",
        "label",
        "name",
        "facility",
    ]
)
_fields = st.recursive(
    _json_values,
    lambda children: st.dictionaries(_field_names, children, max_size=4) | st.lists(children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules=st.dictionaries(_module_names, _fields, max_size=5), nct=st.sampled_from(["NCT09990042", 7, None, ""]))
def test_malformed_study_fields_never_crash_the_parser(modules, nct):
    ident = modules.setdefault("identificationModule", {})
    if isinstance(ident, dict):
        ident["nctId"] = nct
    text = json.dumps({"protocolSection": modules})
    for result in ctgov_json.parse_each(text, "fuzz.json"):
        assert isinstance(result, Trial | ParseError)
        if isinstance(result, ParseError):
            assert "nctId" in result.message


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"studies": []}', "holds no studies"),
        ("[]", "holds no studies"),
        (
            '{"protocolSection": {"identificationModule": {"nctId": 9990001}}}',
            "protocolSection.identificationModule.nctId",
        ),
        (
            '{"protocolSection": {"identificationModule": {"nctId": "  "}}}',
            "protocolSection.identificationModule.nctId",
        ),
    ],
)
def test_empty_study_lists_and_non_string_ids_are_refused(text, needle):
    with pytest.raises(ParseError) as caught:
        parse_document("x.json", text.encode())
    assert needle in caught.value.message


def test_jsonl_records_are_split_only_at_newlines():
    study = json.loads(load("ctgov_v2_minimal.json")[1])
    study["protocolSection"]["identificationModule"]["briefTitle"] = "Tocilizumab\u2028in GCA"
    line = json.dumps(study, ensure_ascii=False)
    trials = parse_document("x.jsonl", f"{line}\n{line}\n".encode())
    assert [t.title for t in trials] == ["Tocilizumab\u2028in GCA"] * 2
