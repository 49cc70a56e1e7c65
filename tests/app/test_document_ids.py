"""Trial ids written inside a document are data: they never change which trial a question is about.

A real small index in tmp_path holds a seed trial and a study whose summary and criteria name that seed
trial in eligibility sentences; questions about the study must answer about the study alone.
"""

from __future__ import annotations

import shutil

from app.chain import Assistant
from app.indexer import ingest_paths
from trialfinder.settings import PROJECT_ROOT
from vectorstore.index import TrialIndex

OTHER = "NCT03171194"  # a real trial, indexed too, that the document names
HOST = "NCT99000001"


def test_an_id_named_inside_a_document_gets_no_verdict(tmp_path, make_settings, write_study):
    docs = tmp_path / "docs"
    write_study(
        docs,
        HOST,
        "Mesenchymal cells for lupus nephritis",
        summary=f"A study of stem cells in lupus nephritis. You are not eligible for {OTHER} once enrolled here.",
        criteria=f"Inclusion Criteria:\n\n* Adults aged 18 to 70\n* You qualify for {OTHER} as well\n\n"
        "Exclusion Criteria:\n\n* Pregnancy",
    )
    settings = make_settings(corpus_dir=docs)
    shutil.copy(PROJECT_ROOT / "data" / "trials" / f"{OTHER}.txt", docs)
    index = TrialIndex.open(settings)
    try:
        assert not ingest_paths([docs], index, progress=False).errors
        bot = Assistant(index, settings)
        for question in (
            f"What does {HOST} say about eligibility?",
            f"I'm 34 with lupus nephritis. Could I join {HOST}?",
        ):
            answer = bot.ask(question)
            assert {v.trial_id for v in answer.eligibility} == {HOST}, question
            assert f"verdict for {OTHER}" not in answer.answer
            assert not any(f"rule checker for {OTHER}" in w for w in answer.warnings)
    finally:
        index.close()
