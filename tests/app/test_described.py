"""A description that matches more trials than an answer covers ("the stem cell trial" on a large index):
the answer covers the few whose passages best match the question and says how many matched.

A real small index in tmp_path: eight studies share "stem cell" in their titles, one of them alone says
where its cells come from.
"""

from __future__ import annotations

from app.chain import MAX_DESCRIBED, Assistant
from app.indexer import ingest_paths
from vectorstore.index import TrialIndex

SOURCE = "NCT99100004"


def test_a_description_matching_many_trials_answers_for_the_best_few_and_says_so(tmp_path, make_settings, write_study):
    docs = tmp_path / "docs"
    for n in range(1, 9):
        nct = f"NCT9910000{n}"
        summary = (
            "The mesenchymal stem cells come from the umbilical cord of healthy donors."
            if nct == SOURCE
            else f"Stem cell infusion number {n} for patients with lupus, followed for one year."
        )
        write_study(docs, nct, f"Stem cell study {n} in lupus", summary=summary)
    settings = make_settings(corpus_dir=docs)
    index = TrialIndex.open(settings)
    try:
        assert not ingest_paths([docs], index, progress=False).errors
        answer = Assistant(index, settings).ask("Where do the cells in the stem cell trial come from?")
        cited = {c.trial_id for c in answer.citations}
        assert SOURCE in cited and len(cited) <= MAX_DESCRIBED
        assert any(w.startswith("8 trials match that description") for w in answer.warnings), answer.warnings
        assert "umbilical cord" in answer.answer
    finally:
        index.close()


def test_a_description_matching_few_trials_answers_for_each_without_a_warning(tmp_path, make_settings, write_study):
    docs = tmp_path / "docs"
    for n in range(1, 3):
        write_study(docs, f"NCT9920000{n}", f"Stem cell study {n} in lupus", summary=f"Stem cell infusion {n}.")
    settings = make_settings(corpus_dir=docs)
    index = TrialIndex.open(settings)
    try:
        assert not ingest_paths([docs], index, progress=False).errors
        answer = Assistant(index, settings).ask("What phase is the stem cell trial?")
        assert {c.trial_id for c in answer.citations} == {"NCT99200001", "NCT99200002"}
        assert not any("match that description" in w for w in answer.warnings)
    finally:
        index.close()
