"""ClinicalTrials.gov legacy XML: real records field by field, criteria line numbers, adversarial XML."""

from __future__ import annotations

import hashlib
import html
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ingest.formats import parse_document
from ingest.models import ParseError, Trial

FIXTURES = Path(__file__).parent / "fixtures"
RECORDS = sorted((FIXTURES / "xml").glob("NCT*.xml"))


def load(relative: str) -> tuple[str, bytes]:
    return f"fixtures/{relative}", (FIXTURES / relative).read_bytes()


def parse_one(relative: str) -> Trial:
    trials = parse_document(*load(relative))
    assert len(trials) == 1
    return trials[0]


def test_fixture_set_is_the_varied_real_sample():
    assert len(RECORDS) >= 30
    for path in RECORDS:
        trial = parse_one(f"xml/{path.name}")
        assert trial.trial_id == path.stem and trial.registry == "ClinicalTrials.gov"
        assert trial.source_format == "ctgov_xml"
        assert trial.source_hash == hashlib.sha256(path.read_bytes()).hexdigest()


def test_record_with_arms_and_pi_every_field():
    t = parse_one("xml/NCT00005006.xml")
    assert t.title == "Parathyroid Hormone (PTH) With Alendronate for Osteoporosis"
    assert t.official_title == "Cyclical vs Daily Continuous PTH in Combination With Alendronate vs Alendronate Alone"
    assert t.acronym is None
    assert (t.status, t.phase, t.study_type) == ("COMPLETED", "PHASE2", "INTERVENTIONAL")
    assert (t.enrollment, t.enrollment_type) == (140, "actual")
    assert (t.start_date, t.completion_date, t.last_updated) == ("1987-09", "2006-12", "2015-08-19")
    assert t.sponsor == "Helen Hayes Hospital"
    assert t.collaborators == ["National Institute of Arthritis and Musculoskeletal and Skin Diseases (NIAMS)"]
    assert t.responsible_party == (
        "Principal Investigator: Robert Lindsay, Professor of Clinical Medicine, Helen Hayes Hospital"
    )
    assert t.conditions == ["Osteoporosis"]
    assert t.keywords[:3] == ["Anabolic agent", "hPTH", "PTH"] and len(t.keywords) == 10
    assert t.summary.startswith(
        "This study investigates the effectiveness of parathyroid hormone (PTH) in "
        "combination with\nalendronate, a standard treatment"
    )
    assert "\r" not in t.summary and "\n\nThe main effects we will look for" in t.summary
    assert t.description.startswith("Osteoporosis is a significant disease")
    assert t.design == {
        "allocation": "Randomized",
        "intervention_model": "Single Group Assignment",
        "primary_purpose": "Treatment",
        "masking": "None (Open Label)",
        "number_of_arms": "3",
    }
    assert [(a.label, a.type, a.description) for a in t.arms] == [
        ("1", "Active Comparator", "Alendronate alone"),
        ("2", "Active Comparator", "Teriparatide daily plus alendronate"),
        ("3", "Active Comparator", "Teriparatide cyclically plus alendronate"),
    ]
    assert t.arms[2].interventions == ["Drug: Parathyroid Hormone", "Drug: Alendronate", "Drug: Teriparatide"]
    assert t.arms[0].interventions == ["Drug: Alendronate"]
    pth, alendronate, teriparatide = t.interventions
    assert (pth.name, pth.type, pth.description, pth.other_names, pth.arms) == (
        "Parathyroid Hormone",
        "Drug",
        "Alendronate 70mg/week; Teriparatide 20mcg/ day",
        ["Fosamax", "Forteo"],
        ["3"],
    )
    assert (alendronate.description, alendronate.arms) == ("Alendronate 70mg/week", ["1", "2", "3"])
    assert (teriparatide.description, teriparatide.arms) == ("Teriparatide 20mcg/day", ["2", "3"])
    assert t.outcomes == []
    e = t.eligibility
    assert (e.sex, e.minimum_age, e.maximum_age, e.min_age_years, e.max_age_years, e.healthy_volunteers) == (
        "female",
        "50 Years",
        "N/A",
        50.0,
        None,
        False,
    )
    assert e.text.startswith("Inclusion Criteria:\n\n  -  Approximately 140 postmenopausal women, over 50")
    assert [c.kind for c in e.criteria()] == ["inclusion", "inclusion", "exclusion", "exclusion"]
    assert [(loc.facility, loc.city, loc.state, loc.country, loc.status) for loc in t.locations] == [
        ("Helen Hayes Hospital, Clinical Research Center", "West Haverstraw", "New York", "United States", None)
    ]
    assert [(i.name, i.role, i.affiliation) for i in t.investigators] == [
        ("Robert Lindsay, MD", "Principal Investigator", "Helen Hayes Hospital"),
        ("Felicia Cosman, MD", "Principal Investigator", "Helen Hayes Hospital"),
    ]
    assert t.references == []
    assert [(i.id, i.type) for i in t.identifiers] == [
        ("P50AR039191", "org_study_id"),
        ("P50AR039191", "secondary_id"),
        ("NIAMS-019", "secondary_id"),
        ("Subproject 5", "secondary_id"),
    ]
    assert t.identifiers[0].source == "Helen Hayes Hospital"
    assert t.warnings == []


def test_recruiting_record_with_contacts_sites_and_outcomes():
    t = parse_one("xml/NCT00004847.xml")
    assert (t.status, t.phase, t.enrollment, t.enrollment_type) == ("RECRUITING", "PHASE1", 3000, "planned")
    assert (t.start_date, t.completion_date) == ("2000-03-22", "2048-11-30")
    assert t.conditions == ["Pheochromocytoma", "Endocrine Disease", "Endocrine Diseases"]
    assert [(o.kind, o.time_frame) for o in t.outcomes] == [("primary", "Baseline"), ("secondary", "end of study")]
    assert t.outcomes[1].measure == (
        "To educate health care professionals and patients about pheochromocytoma and paraganglioma"
    )
    assert t.locations == [t.locations[0]] and t.locations[0].model_dump() == {
        "facility": "National Institutes of Health Clinical Center",
        "city": "Bethesda",
        "state": "Maryland",
        "country": "United States",
        "status": "RECRUITING",
    }
    assert [(i.name, i.role) for i in t.investigators] == [
        ("Karel Pacak, M.D.", "Principal Investigator"),
        ("Alberta Derkyi, C.R.N.P.", "Central Contact"),
        ("Karel Pacak, M.D.", "Central Contact Backup"),
        ("For more information at the NIH Clinical Center contact Office of Patient Recruitment (OPR)", "Site Contact"),
    ]
    assert t.investigators[-1].affiliation == "National Institutes of Health Clinical Center"
    assert t.responsible_party == "Sponsor"
    assert t.interventions[0].name == "([18F]-DOPA)"
    assert t.interventions[0].description.startswith("is L 3, 4 dihydroxyphenylalanine (L-DOPA) labeled")
    assert t.arms[0].interventions == ["Drug: ([18F]-DOPA)", "Drug: ([18F]-6F-DA)"]


@pytest.mark.parametrize(
    ("record", "minimum", "maximum"),
    [
        ("NCT00005777", ("5 Minutes", 5 / 525960), ("10 Days", 10 / 365.25)),
        ("NCT00009646", ("2 Hours", 2 / 8766), ("6 Hours", 6 / 8766)),
        ("NCT00002089", ("1 Day", 1 / 365.25), ("N/A", None)),
        ("NCT00005567", ("0 Years", 0.0), ("2 Weeks", 14 / 365.25)),
        ("NCT00002280", ("3 Months", 0.25), ("12 Years", 12.0)),
        ("NCT00005388", ("N/A", None), ("100 Years", 100.0)),
    ],
)
def test_odd_age_formats_kept_as_written_and_in_years(record, minimum, maximum):
    e = parse_one(f"xml/{record}.xml").eligibility
    assert (e.minimum_age, e.maximum_age) == (minimum[0], maximum[0])
    for got, want in ((e.min_age_years, minimum[1]), (e.max_age_years, maximum[1])):
        assert got == (None if want is None else pytest.approx(want, abs=1e-6))


def test_healthy_volunteers_and_sex():
    assert parse_one("xml/NCT00005567.xml").eligibility.healthy_volunteers is True
    assert parse_one("xml/NCT00005388.xml").eligibility.sex == "male"


def test_observational_expanded_access_registry_and_early_phase_vocabularies():
    observational = parse_one("xml/NCT00001456.xml")
    assert observational.study_type == "OBSERVATIONAL"
    assert observational.design["study_population"].startswith("HPS patients of any gender and ethnicity")
    assert observational.design["sampling_method"] == "Non-Probability Sample"
    assert parse_one("xml/NCT00495066.xml").study_type == "EXPANDED_ACCESS"
    registry = parse_one("xml/NCT00008216.xml")
    assert (registry.study_type, registry.design["study_type_detail"]) == ("OBSERVATIONAL", "Patient Registry")
    assert parse_one("xml/NCT00460928.xml").phase == "EARLY_PHASE1"
    assert parse_one("xml/NCT00005612.xml").phase == "PHASE1/PHASE2"
    assert parse_one("xml/NCT00006200.xml").status == "UNKNOWN"
    assert parse_one("xml/NCT00002644.xml").status == "ACTIVE_NOT_RECRUITING"
    assert parse_one("xml/NCT00000835.xml").status == "WITHDRAWN"
    aliased = parse_one("xml/NCT00001379.xml")
    assert any(i.type == "nct_alias" and re.fullmatch(r"NCT\d{8}", i.id) for i in aliased.identifiers)


def test_many_locations_all_kept_in_order():
    path, data = load("xml/NCT00460512.xml")
    trial = parse_document(path, data)[0]
    sites = ET.fromstring(data).findall("location")
    assert len(trial.locations) == len(sites) == 236
    assert [loc.city for loc in trial.locations] == [s.findtext("facility/address/city") for s in sites]


def test_records_with_references_keep_citation_and_pmid():
    for path in RECORDS:
        root = ET.fromstring(path.read_bytes())
        expected = [
            (r.findtext("citation").strip(), r.findtext("PMID"))
            for tag in ("reference", "results_reference")
            for r in root.findall(tag)
        ]
        trial = parse_one(f"xml/{path.name}")
        assert [(" ".join(r.citation.split()), r.pmid) for r in trial.references] == [
            (" ".join(c.split()), p) for c, p in expected
        ]


def test_results_sections_are_not_part_of_the_trial():
    with_results = [p for p in RECORDS if b"<clinical_results>" in p.read_bytes()]
    assert len(with_results) >= 2
    for path in with_results:
        root = ET.fromstring(path.read_bytes())
        results = root.find("clinical_results")
        outside = {" ".join((e.text or "").split()) for e in root.iter() if e not in set(results.iter())}
        only_in_results = {" ".join((e.text or "").split()) for e in results.iter()} - outside
        dumped = parse_one(f"xml/{path.name}").model_dump_json()
        long_texts = [t for t in only_in_results if len(t) > 30]
        assert long_texts and not [t for t in long_texts if t in dumped]


def test_criteria_lines_point_into_the_xml_file():
    checked = 0
    for path in RECORDS:
        lines = path.read_text(encoding="utf-8").splitlines()
        trial = parse_one(f"xml/{path.name}")
        for criterion in trial.eligibility.criteria():
            # Most words of the criterion's source line belong to the criterion (list markers and a group
            # label such as "Age:" that precedes them aside), or, where a flowed legacy line holds several
            # criteria ("Age: 18 to 65 Performance status: ECOG 0 or 1"), most of the criterion's words up
            # to the line's length are on that line.
            source = html.unescape(lines[criterion.line - 1].replace("&#xD;", ""))
            words = re.findall(r"[A-Za-z]{4,}", source) or source.split()
            found = [w for w in words if w in criterion.text]
            own = re.findall(r"[A-Za-z]{4,}", criterion.text)[: len(words)]
            on_line = [w for w in own if w in source]
            assert words and (len(found) * 2 >= len(words) or len(on_line) * 2 >= len(own) > 0), (
                path.name,
                criterion.line,
                source,
                criterion.text,
            )
            checked += 1
    assert checked > 300


def test_record_without_criteria_warns_with_the_eligibility_line():
    for name, line in (("NCT00000180", 52), ("NCT00005388", 81)):
        trial = parse_one(f"xml/{name}.xml")
        assert trial.eligibility.cohorts == [] and trial.eligibility.text is None
        assert [(w.code, w.line) for w in trial.warnings] == [("missing_field", line)]
        assert "eligibility/criteria/textblock" in trial.warnings[0].message


def test_handmade_record_missing_criteria():
    t = parse_one("bad/missing_criteria.xml")
    assert (t.trial_id, t.status, t.study_type, t.conditions) == (
        "NCT09990101",
        "COMPLETED",
        "OBSERVATIONAL",
        ["Polymyositis"],
    )
    assert (t.eligibility.sex, t.eligibility.min_age_years, t.eligibility.healthy_volunteers) == ("female", 40.0, True)
    assert [(w.code, w.line) for w in t.warnings] == [("missing_field", 10)]


def test_empty_fields_read_as_absent():
    t = parse_one("bad/empty_fields.xml")
    assert t.title == "Empty Fields Everywhere"  # blank brief_title: the official title stands in
    assert (t.summary, t.status, t.phase, t.study_type, t.enrollment, t.enrollment_type) == (None,) * 6
    assert (t.conditions, t.keywords, t.interventions, t.arms, t.outcomes, t.locations, t.references) == (
        ["Vasculitis"],
        [],
        [],
        [],
        [],
        [],
        [],
    )
    assert t.identifiers == []
    e = t.eligibility
    assert (e.sex, e.minimum_age, e.text, e.cohorts) == (None, None, None, [])
    assert [w.code for w in t.warnings] == ["missing_field"]


def test_huge_text_record_parses():
    path, data = load("xml/NCT00005006.xml")
    filler = ("Bone turnover was measured again. " * 160_000).encode()  # ~5.4 MB
    huge = data.replace(b"Osteoporosis is a significant disease", filler + b"Osteoporosis is a significant disease", 1)
    started = time.perf_counter()
    trial = parse_document("huge.xml", huge)[0]
    assert time.perf_counter() - started < 10
    assert len(trial.description) > 5_000_000
    assert trial.description.startswith("Bone turnover was measured again.")
    assert "Osteoporosis is a significant disease" in trial.description
    assert trial.title == "Parathyroid Hormone (PTH) With Alendronate for Osteoporosis"


@pytest.mark.parametrize("name", ["billion_laughs.xml", "external_entity.xml"])
def test_entity_declarations_are_refused_not_expanded(name):
    path, data = load(f"bad/{name}")
    started = time.perf_counter()
    with pytest.raises(ParseError) as caught:
        parse_document(path, data)
    assert time.perf_counter() - started < 1
    assert caught.value.line == 3
    assert caught.value.message.startswith("XML refused") and "nothing was expanded" in caught.value.message
    assert "root:" not in caught.value.message  # /etc/passwd was never read


@pytest.mark.parametrize(
    ("name", "line", "needle"),
    [
        ("syntax_error.xml", 5, "XML syntax error: mismatched tag"),
        ("truncated.xml", 70, "XML syntax error: no element found"),
        ("wrong_root.xml", 2, "root element is <rss>, not <clinical_study>"),
        ("no_nct.xml", 2, "id_info/nct_id is missing"),
        ("latin1_undeclared.xml", 14, "not UTF-8 text (invalid byte 0xe9"),
    ],
)
def test_broken_xml_reports_line_and_reason(name, line, needle):
    with pytest.raises(ParseError) as caught:
        parse_document(*load(f"bad/{name}"))
    assert caught.value.line == line
    assert needle in caught.value.message


def test_latin1_xml_that_declares_its_encoding_is_read():
    trial = parse_one("bad/latin1_declared.xml")
    assert trial.trial_id == "NCT00000180" and trial.title.startswith("Caf\u00e9 au lait spots: ")
