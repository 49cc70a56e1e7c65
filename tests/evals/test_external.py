"""The external-eval pieces that need no archive: the BM25 baseline, scoring and failure grouping;
and the benchmark corpus generator on two hand-written XML records."""

from __future__ import annotations

from defusedxml import ElementTree

from benchmarks.synth import sections_of, synthesize
from evals.external import (
    CAUSE_EXTRACTION,
    CAUSE_MATCHING,
    CAUSE_RULE,
    CAUSE_STRUCTURED,
    Bm25Baseline,
    failures_by_cause,
    score_set,
    structured_turned_away,
)
from evals.schema import EligibilityCase, RankingCase
from ingest.formats import parse_document_each

TEXTS = {
    "NCT1": "Metformin in type 2 diabetes mellitus adults glucose control",
    "NCT2": "Rituximab for systemic lupus erythematosus nephritis",
    "NCT3": "Inhaled steroids for asthma in children",
}


def test_bm25_baseline_ranks_the_matching_record_first():
    baseline = Bm25Baseline(list(TEXTS), list(TEXTS.values()))
    ranked = baseline.rank(["woman with lupus nephritis", "diabetic man on metformin"], k=2)
    assert ranked[0][0] == "NCT2" and ranked[1][0] == "NCT1"


def _verdict(verdict, unknown=(), review=(), failed=()):
    return {
        "trial_id": "NCT1",
        "cohort": None,
        "verdict": verdict,
        "unknown": [{"criterion": "c", "kind": "exclusion", "needs": list(unknown)}] if unknown else [],
        "needs_review": [{"criterion": r, "kind": "inclusion", "reason": "?"} for r in review],
        "failed": [{"criterion": f, "kind": "exclusion", "reason": "because", "citation": {}} for f in failed],
    }


def test_failures_are_grouped_by_cause():
    def pair(case_id, expect, verdict):
        return (
            EligibilityCase(id=case_id, trial="NCT1", patient="p", expect=expect),
            {"output": {"results": [verdict]}},
        )

    groups = failures_by_cause(
        [
            pair("a", "ineligible", _verdict("possibly_eligible", unknown=["pregnancy"])),
            pair("b", "ineligible", _verdict("possibly_eligible", review=["Investigator's opinion"])),
            pair("c", "ineligible", _verdict("eligible")),
            pair("d", "not_ineligible", _verdict("ineligible", failed=["Not pregnant"])),
            pair("e", "ineligible", _verdict("ineligible", failed=["HIV"])),
        ]
    )
    assert [item.split(":")[0] for item in groups[CAUSE_EXTRACTION]] == ["a"]
    assert "pregnancy" in groups[CAUSE_EXTRACTION][0]
    assert [item.split(":")[0] for item in groups[CAUSE_RULE]] == ["b"]
    assert [item.split(":")[0] for item in groups[CAUSE_MATCHING]] == ["c", "d"]
    assert "Not pregnant" in groups[CAUSE_MATCHING][1]


def test_turned_away_by_the_records_structured_limits_is_counted_apart():
    def pair(case_id, sections):
        verdict = _verdict("ineligible", failed=[f"criterion {i}" for i in range(len(sections))])
        for failed, section in zip(verdict["failed"], sections, strict=True):
            failed["citation"] = {"section": section}
        return (
            EligibilityCase(id=case_id, trial="NCT1", patient="p", expect="not_ineligible"),
            {"output": {"results": [verdict]}},
        )

    pairs = [
        pair("age-field", ["eligibility.facts"]),
        pair("text", ["eligibility.inclusion"]),
        pair("both", ["eligibility.facts", "eligibility.exclusion"]),
        (
            EligibilityCase(id="ok", trial="NCT1", patient="p", expect="not_ineligible"),
            {"output": {"results": [_verdict("possibly_eligible")]}},
        ),
    ]
    split = structured_turned_away(pairs)
    assert split == {"turned_away_by_structured_limits": 1, "eligible_turned_away_by_criteria": 0.5}
    groups = failures_by_cause(pairs)
    assert [item.split(":")[0] for item in groups[CAUSE_STRUCTURED]] == ["age-field"]
    assert [item.split(":")[0] for item in groups[CAUSE_MATCHING]] == ["text", "both"]


def test_score_set_reports_bm25_next_to_ours():
    baseline = Bm25Baseline(list(TEXTS), list(TEXTS.values()))
    case = RankingCase(id="r", patient="lupus nephritis on rituximab", judged={"NCT2": 2, "NCT1": 0})
    ours = {"id": "r", "passed": True, "output": {"trials": [{"trial_id": "NCT1"}, {"trial_id": "NCT2"}]}}
    scored = score_set([(case, ours)], [case], baseline)
    assert scored["bm25"]["ndcg@10"] == 1.0 and scored["bm25"]["p@10"] == 0.1
    assert 0 < scored["ranking"]["ndcg@10"] < 1 and scored["ndcg_vs_bm25"] == scored["ranking"]["ndcg@10"]
    without_index = score_set([], [case], baseline)
    assert without_index["ranking"]["ndcg@10"] is None and "skipped" in without_index["ranking"]
    assert without_index["bm25"]["cases"] == 1


XML = """<clinical_study><id_info><nct_id>{id}</nct_id></id_info><brief_title>{title}</brief_title>
<sponsors><lead_sponsor><agency>Uni {id}</agency></lead_sponsor></sponsors>
<brief_summary><textblock>
  Summary of {id}.
</textblock></brief_summary><overall_status>Completed</overall_status><phase>Phase 2</phase>
<study_type>Interventional</study_type><condition>{condition}</condition>
<intervention><intervention_type>Drug</intervention_type><intervention_name>Drug {id}</intervention_name></intervention>
<eligibility><criteria><textblock>
        Inclusion Criteria:

          -  adults with {condition}

        Exclusion Criteria:

          -  pregnancy
</textblock></criteria><gender>All</gender><minimum_age>18 Years</minimum_age></eligibility>
<location><facility><name>Clinic {id}</name><address><city>Boston</city><country>United States</country></address></facility></location>
</clinical_study>"""


def test_synthetic_studies_are_valid_api_v2_records():
    import json

    records = [
        sections_of(ElementTree.fromstring(XML.format(id=i, title=f"Trial {i}", condition=c)))
        for i, c in (("NCT01", "Asthma"), ("NCT02", "Lupus"))
    ]
    studies = synthesize(records, 5, seed=1)
    assert [s["protocolSection"]["identificationModule"]["nctId"] for s in studies] == [
        "NCT90000000",
        "NCT90000001",
        "NCT90000002",
        "NCT90000003",
        "NCT90000004",
    ]
    data = "\n".join(json.dumps(s) for s in studies).encode()
    trials = [t for t in parse_document_each("synth.jsonl", data) if hasattr(t, "trial_id")]
    assert len(trials) == 5
    first = trials[0]
    assert first.title == "Trial NCT01" and first.conditions == ["Asthma"]
    assert first.summary and first.summary.startswith("Summary of NCT0")
    assert any(c.kind == "exclusion" for c in first.eligibility.criteria())
