"""The three registry-page parsers on the seed pages: golden files, key facts, detection, bad input."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import text as textutil
from ingest.formats import clinconnect, ctgov_page, medpath
from ingest.models import ParseError, Trial
from trialfinder.ids import registry_for

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "data" / "trials"
GOLDEN = Path(__file__).resolve().parent / "golden"
MODULES = {"clinconnect": clinconnect, "ctgov_page": ctgov_page, "medpath": medpath}
SEED_FORMATS = {
    "NCT06888973": "clinconnect",
    "NCT03171194": "ctgov_page",
    "NCT04356287": "ctgov_page",
    "KCT0004337": "medpath",
    "NCT03929120": "medpath",
}
FILLER = [
    "Dive into the extended narrative",
    "Review the sponsor-provided synopsis",
    "Get a concise snapshot",
    "Explore similar clinical trials",
    "Check back later for updates",
    "© Copyright",
    "Copyright 2025",
    "ClinConnect Logo",
    "Patients applied",
    "patients applied",
    "Learn about the",
    "Explore where the study",
    "Review each arm",
    "Understand how the trial",
    "Meet the organizations",
    "Not available",
    "Not reported",
    "Not specified",
    "NameTimeMethod",
    "GroupInterventionDescription",
    "Additional clinical trials",
    "About National Institute",
    "🇺🇸",
]


# Words of the seeds' criteria headings ("Inclusion criteria for ankylosing spondlitis").
HEADING_WORDS = {
    "inclusion",
    "exclusion",
    "criteria",
    "systemic",
    "sclerosis",
    "ankylosing",
    "spondlitis",
    "dermatomyositis",
}


def _text(seed: str) -> str:
    return (SEEDS / f"{seed}.txt").read_text(encoding="utf-8")


def _parse(seed: str) -> Trial:
    return MODULES[SEED_FORMATS[seed]].parse(_text(seed), f"data/trials/{seed}.txt")


@pytest.fixture(scope="module")
def trials() -> dict[str, Trial]:
    return {seed: _parse(seed) for seed in SEED_FORMATS}


@pytest.mark.parametrize("seed", list(SEED_FORMATS))
def test_golden(seed, trials):
    """The parsed Trial equals the reviewed golden file; TRIALFINDER_UPDATE_GOLDEN=1 rewrites it."""
    got = trials[seed].model_dump(mode="json")
    path = GOLDEN / f"{seed}.json"
    if os.environ.get("TRIALFINDER_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("seed", list(SEED_FORMATS))
def test_detect_recognises_only_its_own_layout(seed):
    text = _text(seed)
    assert [name for name, mod in MODULES.items() if mod.detect(text)] == [SEED_FORMATS[seed]]


@pytest.mark.parametrize("seed", list(SEED_FORMATS))
def test_no_filler_or_related_trials_in_any_field(seed, trials):
    trial = trials[seed]
    content = trial.model_dump(exclude={"related", "warnings", "source_path", "source_format"})
    dumped = json.dumps(content, ensure_ascii=False)
    for phrase in FILLER:
        assert phrase not in dumped, phrase
    for related in trial.related:
        assert related.trial_id not in dumped
        assert related.title not in dumped


def test_nct03171194_ctgov_mirror(trials):
    t = trials["NCT03171194"]
    assert (t.status, t.phase, t.study_type, t.enrollment, t.enrollment_type) == (
        "COMPLETED",
        "PHASE1",
        "INTERVENTIONAL",
        6,
        "actual",
    )
    assert (t.start_date, t.completion_date, t.last_updated) == ("2017-04-27", "2018-10-25", "2019-05-02")
    assert t.design == {"allocation": "NA", "model": "SINGLE_GROUP", "purpose": "TREATMENT", "masking": "NONE"}
    e = t.eligibility
    assert (e.minimum_age, e.maximum_age, e.min_age_years, e.max_age_years, e.sex, e.healthy_volunteers) == (
        "18 Years",
        "65 Years",
        18.0,
        65.0,
        "all",
        False,
    )
    exclusion = e.cohorts[0].exclusion
    assert len(e.cohorts) == 1 and len(e.cohorts[0].inclusion) == 5 and len(exclusion) == 13
    lab = exclusion[1]
    assert lab.id == "NCT03171194:eligibility.exclusion:2" and lab.line == 59
    assert "platelet count <30,000/mm3" in lab.text and lab.text.startswith("Laboratory exclusions: eGFR <30")
    assert t.summary is None and t.description.startswith("The MSCs used in this trial")
    assert [r.trial_id for r in t.related] == [
        "NCT02633163",
        "NCT03917797",
        "NCT03219801",
        "NCT06737380",
        "NCT00698191",
    ]
    assert t.related[1].title == "Mesenchymal Stromal Cells (MSC´s) in Renal Lupus"
    assert t.interventions[0].type == "Drug" and "1 x 10^6 cells/kg" in t.arms[0].description
    assert [(loc.city, loc.state, loc.country) for loc in t.locations] == [
        ("Atlanta", "Georgia", "United States"),
        ("Charleston", "South Carolina", "United States"),
    ]
    assert t.investigators[0].role == "STUDY_CHAIR"
    assert t.identifiers[0].id == "00061632" and t.identifiers[0].source == "org_study_id"
    assert {w.code for w in t.warnings} == {"empty_section"}


def test_nct04356287_ctgov_mirror(trials):
    t = trials["NCT04356287"]
    assert (t.status, t.phase, t.enrollment, t.enrollment_type) == ("RECRUITING", "PHASE1/PHASE2", 18, "planned")
    assert t.sponsor == "Medical University of South Carolina"
    assert t.collaborators[0].startswith("McGill University Health Centre") and len(t.collaborators) == 6
    e = t.eligibility
    assert (e.minimum_age, e.maximum_age, e.sex, e.healthy_volunteers) == ("18 Years", None, "all", False)
    inc, exc = e.cohorts[0].inclusion, e.cohorts[0].exclusion
    assert [c.number for c in inc] == ["2", "3", "4"] and len(exc) == 12
    assert "ii) mRss >15" in inc[0].text and "c) cardiac involvement" in inc[0].text
    assert exc[1].text.count("\n") == 4 and "Left ventricular ejection fraction < 40%" in exc[1].text
    gaps = [w for w in t.warnings if w.code == "numbering_gap"]
    assert [w.line for w in gaps] == [63, 68]
    assert t.description is None
    assert {"Brief Summary", "Detailed Description"} <= {
        w.message.split("'")[1] for w in t.warnings if w.code == "empty_section"
    }
    assert [a.label for a in t.arms] == ["One infusion of UCMSC", "Two infusions of UCMSC", "Placebo infusions"]
    assert t.interventions[0].arms == ["One infusion of UCMSC", "Two infusions of UCMSC"]
    assert t.design["masking"] == "QUADRUPLE" and t.design["allocation"] == "RANDOMIZED"
    assert [r.type for r in t.references] == [None, None, "link"]
    assert t.locations[0].city == "Montreal" and t.locations[0].country == "Canada"


def test_nct06888973_clinconnect(trials):
    t = trials["NCT06888973"]
    assert t.status == "ENROLLING_BY_INVITATION" and t.registry == "ClinicalTrials.gov"
    assert t.sponsor == "NATIONAL INSTITUTE OF BLOOD AND MARROW TRANSPLANT (NIBMT), PAKISTAN"
    assert t.start_date == "2025-03-15" and t.last_updated == "2025-06-26" and t.completion_date is None
    assert t.keywords == [
        "Mesenchymal Stem Cells",
        "Autoimmune Diseases",
        "Rheumatoid Arthritis",
        "Systemic Lupus Erythematosus (Sle)",
        "Systemic Sclerosis",
        "Ankylosing Spondylitis (As)",
        "Juvenile Idiopathic Arthritis",
        "Polymyositis/Dermatomyositis",
    ]
    assert t.summary.startswith("The autoimmune disorders") and t.summary.endswith("reports...")
    counts = [(c.name, len(c.inclusion), len(c.exclusion)) for c in t.eligibility.cohorts]
    assert counts == [("RA", 7, 21), ("SLE", 5, 11), ("SSc", 6, 8), ("AS", 5, 3), ("DM/PM", 10, 16)]
    assert t.eligibility.sex == "all"
    assert [(loc.city, loc.state, loc.country) for loc in t.locations] == [("Rawalpindi", None, "Pakistan")] * 2
    assert t.investigators[0].model_dump() == {
        "name": "Memoona Haider, MBBS, FCPS",
        "role": "Study Chair",
        "affiliation": "National University of Medical Sciences",
    }
    assert [w.code for w in t.warnings] == ["empty_section"]
    # The sponsor's "About …" self-description is not content of this trial.
    assert "leading clinical research organization" not in json.dumps(t.model_dump())


def test_kct0004337_medpath(trials):
    t = trials["KCT0004337"]
    assert (t.registry, t.phase, t.status, t.enrollment, t.study_type) == (
        "CRIS",
        "NA",
        "RECRUITING",
        8,
        "INTERVENTIONAL",
    )
    assert t.sponsor == "Hanyang University Seoul Hospital"
    assert t.summary is None and t.description is None and t.design == {}
    assert [w.code for w in t.warnings].count("swapped_headings") == 1
    assert [w.code for w in t.warnings].count("lost_characters") == 1
    cohort = t.eligibility.cohorts[0]
    assert "SLICC" in cohort.inclusion[1].text and cohort.inclusion[1].heading_kind == "exclusion"
    assert cohort.exclusion[0].text.startswith("Patients who have received")
    assert [(o.kind, o.measure, o.time_frame) for o in t.outcomes] == [
        ("primary", "Tapering of corticosteroids with improvement in lupus nephritis or cytopenia", None),
        ("secondary", "Safety of CS20AT04", None),
    ]


def test_nct03929120_medpath(trials):
    t = trials["NCT03929120"]
    assert (t.phase, t.status, t.enrollment, t.sponsor) == ("PHASE1", "COMPLETED", 10, "Mayo Clinic")
    assert t.conditions == ["Interstitial Lung Disease", "Connective Tissue Diseases"]
    assert t.interventions[0].type == "Biological"
    assert t.interventions[0].name == "Allogeneic Bone Marrow Derived Mesenchymal Stem Cells (BMD-MSCs)"
    assert t.arms[0].label == "Interstitial Lung Disease with Connective Tissue Disorder"
    assert t.arms[0].description.startswith("Subjects with Interstitial Lung Disease")
    assert [(o.measure, o.time_frame) for o in t.outcomes] == [("Adverse Events", "6 months")]
    assert t.outcomes[0].description.startswith("Number of adverse events")
    assert t.locations[0].model_dump() == {
        "facility": "Mayo Clinic in Florida",
        "city": "Jacksonville",
        "state": "Florida",
        "country": "United States",
        "status": None,
    }
    assert t.design == {"model": "SINGLE_GROUP"}
    cohort = t.eligibility.cohorts[0]
    assert (len(cohort.inclusion), len(cohort.exclusion)) == (4, 11)
    assert not [w for w in t.warnings if w.code == "swapped_headings"]


def test_split_time_frame():
    assert medpath.split_time_frame("Adverse Events6 months") == ("Adverse Events", "6 months")
    assert medpath.split_time_frame("Change in mRSSBaseline and week 12") == ("Change in mRSS", "Baseline and week 12")
    assert medpath.split_time_frame("Safety of CS20AT04") == ("Safety of CS20AT04", None)
    assert medpath.split_time_frame("Response at 6 months") == ("Response at 6 months", None)


@pytest.mark.parametrize(
    "name, text",
    [
        ("ctgov_page", "Some title\nLast Updated: 2020-01-01\nBasic Information\nCOMPLETED\n"),
        ("ctgov_page", "NCT ID: NCT03171194\nBasic Information\nCOMPLETED\n"),
        ("clinconnect", "ClinConnect ClinConnect Logo\nSearch / Trial NCT06888973\n"),
        ("clinconnect", "ClinConnect ClinConnect Logo\nSearch / Trial nonsense\n\nA title\n"),
        ("medpath", "MedPath\n\nA title\n\nPhase 1\nRegistration Number\n\nLead Sponsor\nX\n"),
        ("medpath", "MedPath\n"),
        ("medpath", "Not a MedPath page\n"),
    ],
)
def test_missing_id_or_title_raises_parse_error_with_line(name, text):
    with pytest.raises(ParseError) as err:
        MODULES[name].parse(text, "bad.txt")
    assert err.value.line is not None and "bad.txt" in err.value.message


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(list(SEED_FORMATS)), st.data())
def test_damaged_pages_parse_or_raise_parse_error(seed, data):
    lines = _text(seed).splitlines()
    keep = data.draw(st.lists(st.booleans(), min_size=len(lines), max_size=len(lines)))
    noise = data.draw(st.text(max_size=80))
    at = data.draw(st.integers(min_value=0, max_value=len(lines)))
    damaged = [ln for ln, k in zip(lines, keep, strict=False) if k]
    damaged.insert(min(at, len(damaged)), noise)
    module = MODULES[SEED_FORMATS[seed]]
    try:
        trial = module.parse("\n".join(damaged), "x.txt")
    except ParseError as exc:
        assert exc.message
        return
    assert isinstance(trial, Trial) and trial.trial_id and trial.title


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_only_raises_parse_error(text):
    for module in MODULES.values():
        module.detect(text)
        with contextlib.suppress(ParseError):
            module.parse(text, "x.txt")


@pytest.mark.parametrize("seed", list(SEED_FORMATS))
def test_every_criteria_line_ends_up_in_a_criterion(seed, trials):
    """Nothing silently dropped: every line of the criteria text is a heading or inside some criterion."""
    eligibility = trials[seed].eligibility
    texts = " ".join(c.text for c in eligibility.criteria())
    words = set(texts.replace("\n", " ").split())
    for line in eligibility.text.splitlines():
        tokens = [w for w in line.replace("\\", "").split() if w.isalpha() and len(w) > 3]
        missing = [
            w
            for w in tokens
            if w not in words and w.lower() not in HEADING_WORDS and not (w.startswith("o") and w[1:] in words)
        ]  # glued "o" sub-bullet: "oNitrogen"
        assert not missing, (line, missing)


@pytest.mark.parametrize("seed", list(SEED_FORMATS))
def test_crlf_line_endings_and_bom_parse_the_same(seed, trials):
    text = "\ufeff" + _text(seed).replace("\n", "\r\n")
    module = MODULES[SEED_FORMATS[seed]]
    assert module.detect(text)
    assert module.parse(text, f"data/trials/{seed}.txt") == trials[seed]


def test_text_normalisers():
    assert textutil.unescape_markdown(r"ESR \>3.1 \[HIV\] 10\^6 \</= 40") == "ESR >3.1 [HIV] 10^6 </= 40"
    assert textutil.upper_snake("Enrolling by invitation") == "ENROLLING_BY_INVITATION"
    assert textutil.upper_snake("Active, not recruiting") == "ACTIVE_NOT_RECRUITING"
    assert [
        textutil.normalize_phase(p)
        for p in ("Phase 1", "PHASE1/PHASE2", "Phase 2/Phase 3", "Not Applicable", "Early Phase 1", "Recruiting")
    ] == ["PHASE1", "PHASE1/PHASE2", "PHASE2/PHASE3", "NA", "EARLY_PHASE1", None]
    assert [textutil.age_in_years(a) for a in ("18 Years", "6 Months", "2 Weeks", "N/A", None)] == [
        18.0,
        0.5,
        round(14 / 365.25, 6),
        None,
        None,
    ]
    assert [textutil.iso_date(d) for d in ("2017-04-27", "Mar 15, 2025", "June 26, 2025", "March 2020", "soon")] == [
        "2017-04-27",
        "2025-03-15",
        "2025-06-26",
        "2020-03",
        None,
    ]
    assert textutil.split_address("Rawalpindi, , Pakistan") == ("Rawalpindi", None, "Pakistan")
    assert textutil.is_filler("Dive into the extended narrative that explains the background.")
    assert not textutil.is_filler("The MSCs used in this trial are cells")
    assert registry_for("KCT0004337") == "CRIS"
    assert registry_for("NCT03171194") == "ClinicalTrials.gov"
