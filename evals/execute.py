"""Run one eval case against the real index, chain and checker, and judge it.

Each case's `output` is exactly what the CLI would print with `--json` for that case:
`ask` (question-answer), `check --trial T` (eligibility), `search --limit 10` (ranking), and
`{"turns": [ask --conversation ...]}` (dialogue).
"""

from __future__ import annotations

import time
from datetime import date

from evals import metrics
from evals.schema import Case, DialogueCase, EligibilityCase, QACase, RankingCase

RETRIEVAL_K = 10


class CaseRunner:
    """Holds the opened index, the assistant and the settings for a run over many cases.

    `trials` (trial id -> Trial) lets eligibility cases run on parsed records without an index (the
    external sets check trials of the whole archive); without it, trials come from the index.
    """

    def __init__(self, index, settings, assistant=None, trials: dict | None = None):
        self.index = index
        self.settings = settings
        self._assistant = assistant
        self._trials = trials
        self.today = date.fromisoformat(settings.today) if settings.today else None

    @property
    def assistant(self):
        if self._assistant is None:
            from app.chain import Assistant

            self._assistant = Assistant(self.index, self.settings)
        return self._assistant

    def run(self, case: Case) -> dict:
        """One case record: id, passed, output, seconds, plus type, dataset, category, reasons (and retrieval)."""
        started = time.perf_counter()
        if isinstance(case, QACase):
            kind, output = "question-answer", self.ask(case)
            seconds = time.perf_counter() - started
            reasons = metrics.judge_qa(case, output)
        elif isinstance(case, DialogueCase):
            kind, output = "dialogue", self.converse(case)
            seconds = time.perf_counter() - started
            reasons = metrics.judge_dialogue(case, output)
        elif isinstance(case, EligibilityCase):
            kind, output = "eligibility", self.check(case)
            seconds = time.perf_counter() - started
            reasons = metrics.judge_eligibility(case, output)
        else:
            kind, output = "ranking", self.search(case)
            seconds = time.perf_counter() - started
            reasons = metrics.judge_ranking(case, output)
        record = {
            "id": case.id,
            "passed": not reasons,
            "output": output,
            "seconds": round(seconds, 4),
            "type": kind,
            "dataset": case.source,
            "category": case.category,
            "reasons": reasons,
        }
        if isinstance(case, QACase) and case.trials:
            record["retrieval"] = self.retrieval(case)
        return record

    def ask(self, case: QACase) -> dict:
        """What `trialfinder ask QUESTION [--patient TEXT] --json` prints."""
        return self.assistant.ask(case.question, patient=case.patient).model_dump(mode="json")

    def converse(self, case: DialogueCase) -> dict:
        """`{"turns": [...]}`: each turn what `ask --json --conversation FILE` prints, in one conversation."""
        from app.conversation import Conversation

        conversation = Conversation()
        return {
            "turns": [
                self.assistant.ask(t.user, patient=t.patient, conversation=conversation).model_dump(mode="json")
                for t in case.turns
            ]
        }

    def check(self, case: EligibilityCase) -> dict:
        """What `trialfinder check --patient TEXT --trial TRIAL --json` prints (results empty if not indexed)."""
        from eligibility.evaluate import check_trials
        from eligibility.facts import extract_facts

        facts = extract_facts(case.patient, today=self.today)
        trial = self._trials.get(case.trial) if self._trials is not None else self.index.trial(case.trial)
        rules = self.index.store.compiled_rules if self.index is not None else None
        verdicts = check_trials([trial], facts, rules=rules) if trial is not None else []
        return {"facts": facts.to_json(), "results": [v.model_dump(mode="json") for v in verdicts]}

    def search(self, case: RankingCase) -> dict:
        """What `trialfinder search [QUERY] --patient TEXT --limit 10 --json` prints."""
        from app.search import search_trials

        return search_trials(self.index, query=case.query, patient=case.patient, limit=10, today=self.today)

    def retrieval(self, case: QACase) -> dict:
        """Recall@k, section hit@k and reciprocal rank of the hybrid retriever on the bare question."""
        hits = [(h.chunk.trial_id, h.chunk.section) for h in self.index.search(case.question, k=RETRIEVAL_K)]
        return metrics.retrieval_scores(case.trials, case.sections, hits, RETRIEVAL_K)
