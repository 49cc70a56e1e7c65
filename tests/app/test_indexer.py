"""app.indexer.ingest_paths: per-document errors, the report, batching, archives and the progress bar."""

from __future__ import annotations

import io
import json
import tarfile

from app.indexer import IngestReport, ingest_paths
from vectorstore.index import TrialIndex


def test_a_bad_document_is_reported_and_the_others_still_ingest(make_settings, write_study, tmp_path):
    docs = tmp_path / "docs"
    write_study(docs, "NCT91000001", "Good lupus study")
    (docs / "broken.json").write_text('{"protocolSection": {"identificationModule": ')
    (docs / "noise.txt").write_bytes(b"\x00\x01\x02 binary noise")
    write_study(docs, "NCT91000002", "Good myositis study", conditions=("Myositis",))
    index = TrialIndex.open(make_settings())
    report = ingest_paths([docs, tmp_path / "missing.json"], index, progress=False)

    assert [t.trial_id for t in report.trials] == ["NCT91000001", "NCT91000002"]
    assert report.failed == len(report.errors) == 3
    paths = [e.path for e in report.errors]
    assert str(docs / "broken.json") in paths and str(docs / "noise.txt") in paths
    assert str(tmp_path / "missing.json") in paths
    assert all(e.message for e in report.errors)
    assert [t.trial_id for t in index.trials()] == ["NCT91000001", "NCT91000002"]
    index.close()


def test_size_and_criteria_bounds_give_one_error_each_and_lose_nothing_else(make_settings, write_study, tmp_path):
    docs = tmp_path / "docs"
    write_study(docs, "NCT91000011", "Good lupus study")
    many = "\n".join(f"* Criterion number {n} about lupus" for n in range(12))
    write_study(docs, "NCT91000012", "Study with a long list", criteria=f"Inclusion Criteria:\n\n{many}")
    big = write_study(docs, "NCT91000013", "Study in a huge file", summary="Lupus. " * 2000)
    index = TrialIndex.open(make_settings(max_file_bytes=8192, max_criteria=10))
    report = ingest_paths([docs], index, progress=False)

    assert [t.trial_id for t in report.trials] == ["NCT91000011"]
    errors = {e.path: e.message for e in report.errors}
    assert set(errors) == {str(docs / "NCT91000012.json"), str(big)}
    assert "NCT91000012 has 12 eligibility criteria" in errors[str(docs / "NCT91000012.json")]
    assert "TRIALFINDER_MAX_FILE_BYTES" in errors[str(big)]
    assert [t.trial_id for t in index.trials()] == ["NCT91000011"]
    index.close()


def test_report_matches_the_index_and_the_contract_shape(make_settings, write_study, tmp_path):
    docs = tmp_path / "docs"
    write_study(docs, "NCT91000003", "Study three")
    index = TrialIndex.open(make_settings())
    report = ingest_paths([docs], index, progress=False)
    payload = json.loads(report.model_dump_json())
    assert {"trials", "chunks", "errors"} <= set(payload)
    summary = payload["trials"][0]
    assert {"trial_id", "title", "sections", "criteria", "warnings", "outcome"} <= set(summary)
    chunks = index.chunks("NCT91000003")
    assert summary["sections"] == list(dict.fromkeys(c.section for c in chunks))
    assert summary["criteria"] == len(index.trial("NCT91000003").eligibility.criteria()) == 2
    assert report.chunks == len(chunks)
    timings = report.timings
    assert timings.embedded_chunks == index.vector_count()
    assert 0 < timings.embed_seconds <= timings.total_seconds and 0 < timings.embed_share <= 1
    index.close()


def test_batches_across_trials_give_the_same_index(make_settings, write_study, tmp_path):
    docs = tmp_path / "docs"
    for n in range(1, 6):
        write_study(docs, f"NCT9200000{n}", f"Study {n}", summary=f"Summary of study {n}.")
    small = TrialIndex.open(make_settings(tmp_path / "small"))
    large = TrialIndex.open(make_settings(tmp_path / "large"))
    one_by_one = ingest_paths([docs], small, progress=False, batch_chunks=1)
    all_at_once = ingest_paths([docs], large, progress=False, batch_chunks=10_000)
    assert one_by_one.trials == all_at_once.trials
    for trial in small.trials():
        assert small.chunks(trial.trial_id) == large.chunks(trial.trial_id)
    assert small.vector_count() == large.vector_count()
    small.close()
    large.close()


def test_archives_are_read_without_unpacking(make_settings, write_study, tmp_path):
    docs = tmp_path / "docs"
    write_study(docs, "NCT93000001", "Archived study")
    archive = tmp_path / "bundle.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(docs / "NCT93000001.json", arcname="NCT9300xxxx/NCT93000001.json")
        junk = b"not a trial"
        info = tarfile.TarInfo("NCT9300xxxx/readme.txt")
        info.size = len(junk)
        tar.addfile(info, io.BytesIO(junk))
    index = TrialIndex.open(make_settings())
    report = ingest_paths([archive], index, progress=False)
    assert [t.trial_id for t in report.trials] == ["NCT93000001"]
    assert [e.path for e in report.errors] == [f"{archive}!NCT9300xxxx/readme.txt"]
    assert index.trial("NCT93000001").source_path == f"{archive}!NCT9300xxxx/NCT93000001.json"
    index.close()


def test_progress_bar_stays_off_stderr_when_not_a_tty(make_settings, write_study, tmp_path, capfd):
    docs = tmp_path / "docs"
    write_study(docs, "NCT94000001", "Quiet study")
    index = TrialIndex.open(make_settings())
    ingest_paths([docs], index, progress=True)
    captured = capfd.readouterr()
    assert "ingest" not in captured.err and "doc/s" not in captured.err
    assert captured.out == ""
    index.close()


def test_seed_report_has_the_swapped_headings_warning_on_kct0004337_only(seed_report: IngestReport):
    swapped = {t.trial_id for t in seed_report.trials if any("swapped" in w.lower() for w in t.warnings)}
    assert swapped == {"KCT0004337"}
    assert seed_report.errors == [] and seed_report.ingested == 5
    assert all(t.criteria > 0 and "eligibility.exclusion" in t.sections for t in seed_report.trials)


def _count_parses(monkeypatch) -> list[str]:
    """Paths handed to the (real) parser from now on."""
    import app.indexer as pipeline

    parsed: list[str] = []
    real = pipeline.parse_document_each

    def counting(path, data, **limits):
        parsed.append(path)
        return real(path, data, **limits)

    monkeypatch.setattr(pipeline, "parse_document_each", counting)
    return parsed


def test_unchanged_reingest_skips_parsing_and_reports_the_same_trials(
    make_settings, write_study, tmp_path, monkeypatch
):
    docs = tmp_path / "docs"
    for n in range(1, 4):
        write_study(docs, f"NCT9500000{n}", f"Study {n}", summary=f"Summary of study {n}.")
    (docs / "broken.json").write_text('{"protocolSection": ')
    index = TrialIndex.open(make_settings())
    first = ingest_paths([docs], index, progress=False, batch_chunks=5)
    parsed = _count_parses(monkeypatch)
    again = ingest_paths([docs], index, progress=False, batch_chunks=5)
    assert parsed == [str(docs / "broken.json")] and again.timings.embedded_chunks == 0
    assert [t.model_copy(update={"outcome": "added"}) for t in again.trials] == first.trials
    assert (again.unchanged, again.chunks, again.documents) == (3, first.chunks, first.documents)
    assert [e.path for e in again.errors] == [str(docs / "broken.json")]  # a failed document is read again

    # Another policy reads every document again and replaces the trials' vectors.
    compact = TrialIndex.open(make_settings(dense_policy="compact"))
    switched = ingest_paths([docs], compact, progress=False)
    assert len(parsed) == 1 + 4 and switched.replaced == 3
    compact.close()
    index.close()


def test_a_document_whose_trial_was_replaced_since_is_read_again(make_settings, write_study, tmp_path, monkeypatch):
    old, new = tmp_path / "old", tmp_path / "new"
    write_study(old, "NCT96000001", "First version")
    write_study(new, "NCT96000001", "Second version")
    index = TrialIndex.open(make_settings())
    ingest_paths([old], index, progress=False)
    assert ingest_paths([new], index, progress=False).replaced == 1
    parsed = _count_parses(monkeypatch)
    back = ingest_paths([old], index, progress=False)
    assert back.replaced == 1 and len(parsed) == 1
    assert index.trial("NCT96000001").title == "First version"
    assert ingest_paths([old], index, progress=False).unchanged == 1 and len(parsed) == 1
    index.close()


def test_ingest_stores_compiled_rules_and_recompiles_stale_ones(make_settings, write_study, tmp_path):
    from app.indexer import compile_rules
    from eligibility import compiled, evaluate
    from eligibility.evaluate import check_trials
    from eligibility.facts import extract_facts
    from vectorstore.records import stored_chunks

    docs = tmp_path / "docs"
    write_study(docs, "NCT93000001", "Lupus study")
    write_study(docs, "NCT93000002", "Myositis study", conditions=("Myositis",))
    index = TrialIndex.open(make_settings())
    ingest_paths([docs], index, progress=False)
    store = index.store
    ids = ["NCT93000001", "NCT93000002"]
    stored = store.compiled_rules(ids)
    assert set(stored) == set(ids) and all(compiled.is_current(p) for p in stored.values())
    assert store.uncompiled(compiled.COMPILER_VERSION) == []
    trial = index.trial("NCT93000001")
    assert compiled.loads(trial, stored["NCT93000001"]) is not None

    # A payload another compiler wrote is found stale and recompiled by the next ingest's compile step.
    store.save_compiled(
        "an-older-compiler", {"NCT93000001": stored["NCT93000001"].replace(compiled.COMPILER_VERSION, "x")}
    )
    assert store.uncompiled(compiled.COMPILER_VERSION) == ["NCT93000001"]
    evaluate.clear_cache()
    facts = extract_facts("40-year-old woman with lupus")
    before = check_trials([trial], facts, rules=store.compiled_rules)  # parsed afresh, not the stale payload
    assert compile_rules(index) == 1
    assert store.uncompiled(compiled.COMPILER_VERSION) == []
    evaluate.clear_cache()
    assert check_trials([trial], facts, rules=store.compiled_rules) == before

    # Writing a trial's record drops its payload in the same transaction; the next ingest compiles it again.
    myositis = index.trial("NCT93000002")
    store.commit([(myositis, stored_chunks(myositis, index.chunks("NCT93000002")))])
    assert store.compiled_rules(["NCT93000002"]) == {}
    assert store.uncompiled(compiled.COMPILER_VERSION) == ["NCT93000002"]
    write_study(docs, "NCT93000002", "Myositis study, amended", conditions=("Myositis",))
    ingest_paths([docs], index, progress=False)
    assert compiled.is_current(store.compiled_rules(["NCT93000002"])["NCT93000002"])
    assert compiled.loads(index.trial("NCT93000002"), store.compiled_rules(["NCT93000002"])["NCT93000002"])
    index.close()


def test_reading_an_index_without_compiled_rules_leaves_it_unchanged(tmp_path):
    import sqlite3

    from vectorstore.records import RecordStore

    path = tmp_path / "records.sqlite"
    store = RecordStore(path)
    assert store.compiled_rules(["NCT00000001"]) == {} and store.uncompiled("any") == []
    store.close()
    tables = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "compiled_rules" not in tables  # an eval opening a shared index must not change it


def test_many_trials_are_compiled_by_several_processes_into_the_same_payloads(
    make_settings, write_study, tmp_path, monkeypatch
):
    from app import indexer
    from eligibility import compiled

    docs = tmp_path / "docs"
    ids = [f"NCT9400000{n}" for n in range(1, 6)]
    for n, nct in enumerate(ids):
        write_study(docs, nct, f"Lupus study {n}", criteria=f"Inclusion Criteria:\n\n* Aged {18 + n} to 70\n")
    # Five trials stand for a registry: the processes start from this many (500 in production).
    monkeypatch.setattr(indexer, "PARALLEL_COMPILE_FROM", 2)
    pools: list[int] = []

    class CountedPool(indexer.ProcessPoolExecutor):  # the real pool, counted
        def __init__(self, max_workers: int, **kwargs):
            pools.append(max_workers)
            super().__init__(max_workers, **kwargs)

    monkeypatch.setattr(indexer, "ProcessPoolExecutor", CountedPool)
    index = TrialIndex.open(make_settings(compile_workers=2))
    try:
        ingest_paths([docs], index, progress=False)
        stored = index.store.compiled_rules(ids)
        assert stored == {nct: compiled.compile_payload(index.trial(nct)) for nct in ids}
        assert pools == [2]
    finally:
        index.close()
