"""The answer chain: understand -> retrieve -> draft -> verify, as LangChain runnables.

`Assistant.ask` is what the CLI, the chat and the evals call. Each step is a plain function over a
`_Turn` state wrapped in a `RunnableLambda`; the sequence is built once per assistant. The assistant
keeps no per-question state: the only shared things are the index (read-only here) and caches of the
trial list, so concurrent calls from the chat are safe. A conversation object, when given, carries the
patient facts and referred trials between turns.
"""

from __future__ import annotations

import gc
import re
import threading
from dataclasses import dataclass, field
from datetime import date

from langchain_core.runnables import RunnableLambda, RunnableSerializable

from app import render
from app import vocabulary as vocab
from app.addressee import address
from app.conversation import (
    FOCUS_REFERENCE,
    Conversation,
    TurnKind,
    ambiguous_number,
    answer_text,
    classify,
    corrected_number,
    correction_text,
    subject_of,
)
from app.generators import NOT_FOUND, Draft, Generator, Passage, Statement, make_generator
from app.generators.extractive import MAX_TRIALS
from app.intent import Intent, TrialProfile, build_profiles, understand
from app.models import Answer, NextQuestion
from app.places import Place, nearest_site, site_km
from app.places import resolve as resolve_place
from app.refusal import NEAREST_LABEL, NOT_ABOUT_THIS_TRIAL, asked_property, not_stated, stating_chunks
from app.search import rank_trials
from app.verify import QUALITY_CODES, best_verdicts, claim_trials, find_claim, gate, quality_warnings, with_trial
from eligibility.evaluate import check_trial, rank_missing_facts
from eligibility.facts import PatientFacts, extract_facts
from eligibility.models import TrialVerdict
from eligibility.questions import question_for
from ingest.models import Chunk, Trial
from trialfinder.ids import TRIAL_ID_MENTION
from trialfinder.settings import Settings
from vectorstore.index import Hit, TrialIndex

MAX_LISTED = 5
# A description matching more trials than an answer covers ("the stem cell trial" on an archive, where it
# matches hundreds): the answer covers this many, the best for the question, and says how many matched.
MAX_DESCRIBED = MAX_TRIALS
NOT_ENROLLING = frozenset({"COMPLETED", "TERMINATED", "WITHDRAWN", "SUSPENDED", "ACTIVE_NOT_RECRUITING", "UNKNOWN"})
# Where the passage shown under each trial of a list comes from: what the trial studies and does.
LIST_SECTIONS = ("summary", "description", "conditions", "interventions", "arms", "outcomes")
# The order a list of trials is shown in, by how soon a person could join: recruiting first.
ENROLLING_ORDER = ("RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION")
ADVICE_REFUSAL = (
    "I can't give medical advice about your own treatment, such as what to take, stop or change. "
    "Please ask your treating clinician. I can tell you what the trial documents say, for example a "
    "trial's dose, criteria, sites or status, and check trial criteria against facts you give me."
)
UNRELATED_REFUSAL = (
    "I can only answer questions about the clinical trials in this collection: what they study, their "
    "doses, criteria, sites and status, and whether a patient might fit them."
)
GREETING = (
    "Hello! I answer questions about the clinical trials in this collection from their documents, with "
    "citations: what a trial studies, its dose, criteria, sites and status. Tell me about the patient and I "
    "can check trial criteria too."
)
RULES_REFUSAL = (
    "I can't change the rules I work by or show my instructions. I answer only from the trial documents, "
    "and eligibility is always decided by the rule checker."
)
START_OVER = "Starting over: I've forgotten everything you told me in this conversation. What would you like to know?"
WHICH_VALUE = (
    "Which value do you want to change? You told me: {values}. Please say it with its name, for example "
    '"age 36" or "eGFR 40"; I have changed nothing yet.'
)
ACKNOWLEDGED = (
    "All right. You can ask about a trial (what it studies, its dose, sites or status), tell me more about the "
    "patient, or ask which trials might fit."
)
INJECTION_WARNING = (
    "The question contained instructions to change how answers are made or checked; they were ignored "
    "and the rule checker's verdicts are shown as always."
)


@dataclass
class _Turn:
    """The state passed along the chain for one question."""

    question: str
    patient: str | None
    explicit_trials: list[str]
    conversation: Conversation | None
    reread: bool = True  # False when re-running an earlier question whose facts are already in the profile
    lead: str | None = None  # what the turn changed in the profile, said before the answer
    within: list[str] = field(default_factory=list)  # a find question about the trials in focus only
    place: Place | None = None  # "near Chicago": the place the trials' sites are measured from
    intent: Intent | None = None
    facts: PatientFacts | None = None
    passages: list[Passage] = field(default_factory=list)
    trials: dict[str, Trial] = field(default_factory=dict)
    verdicts: list[TrialVerdict] = field(default_factory=list)
    draft: Draft | None = None

    # Each step fills the state the next steps read; these say so, and fail loudly if a step runs early.
    @property
    def understood(self) -> Intent:
        if self.intent is None:
            raise RuntimeError("a chain step read the intent before the 'understand' step set it")
        return self.intent

    @property
    def answered(self) -> Answer:
        if self.answer is None:
            raise RuntimeError("the chain ended before the 'verify' step set the answer")
        return self.answer

    @property
    def drafted(self) -> Draft:
        if self.draft is None:
            raise RuntimeError("a chain step read the draft before the 'draft' step set it")
        return self.draft

    warnings: list[str] = field(default_factory=list)
    answer: Answer | None = None


class Assistant:
    """Answers questions about the indexed trials; see the module docstring."""

    def __init__(self, index: TrialIndex, settings: Settings, generator: Generator | None = None):
        self.index = index
        self.settings = settings
        self.generator = generator or make_generator(settings)
        self._lock = threading.Lock()
        self._profiles: list[TrialProfile] | None = None
        self._known: set[str] | None = None
        self._chain: RunnableSerializable[_Turn, _Turn] = (
            RunnableLambda(self._understand, name="understand")
            | RunnableLambda(self._retrieve, name="retrieve")
            | RunnableLambda(self._draft, name="draft")
            | RunnableLambda(self._verify, name="verify")
        )

    # -- public ---------------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        patient: str | None = None,
        trial_ids: list[str] | None = None,
        conversation: Conversation | None = None,
    ) -> Answer:
        """Answer one question; with a `conversation`, facts and referred trials carry over between turns."""
        if conversation is not None:
            with conversation.lock:
                return self._converse(question, patient, list(trial_ids or []), conversation)
        return self._run(
            _Turn(question=question, patient=patient, explicit_trials=list(trial_ids or []), conversation=None)
        )

    def _converse(self, question: str, patient: str | None, trial_ids: list[str], conv: Conversation) -> Answer:
        """One turn in context: an answer to the pending question, a correction or a retraction changes the
        profile and re-runs the last check; a meta request resets; anything else goes through the chain."""
        kind = classify(question, conv.pending)
        today = self._today()
        if kind is TurnKind.META:
            conv.reset()
            return Answer(answer=START_OVER, intent="meta", backend="rules")
        if kind is TurnKind.ACKNOWLEDGEMENT:  # "no" or "thanks" with nothing asked: not a search for "no"
            profile = conv.facts.to_json() if conv.facts is not None else {}
            return Answer(answer=ACKNOWLEDGED, intent="meta", backend="rules", facts=profile)
        lead: str | None = None
        if kind is TurnKind.ANSWER and conv.pending is not None:
            restated = answer_text(conv.pending.fact, question)
            said = extract_facts(restated, today) if restated else None
            if said is not None and said.states_anything():
                conv.add_facts(said, question)
                lead = "Thanks, noted."
            else:
                lead = "That's fine; I'll leave that open."
        elif kind is TurnKind.CORRECTION:
            said = extract_facts(correction_text(question), today)
            last = conv.statements[-1].facts if conv.statements else None
            bare = not said.age and not said.weight_kg and not said.labs and not said.scores
            which = ambiguous_number(question, last) if bare else None
            if which is not None:
                return Answer(
                    answer=WHICH_VALUE.format(values=render.facts_line(which)),
                    intent="meta",
                    backend="rules",
                    facts=conv.facts.to_json() if conv.facts is not None else {},
                )
            restated = corrected_number(question, conv.facts, last)
            if restated and bare:
                said = said.merge(extract_facts(restated, today))
            if said.states_anything():
                conv.add_facts(said, question)
                lead = "Corrected."
            else:
                kind = TurnKind.OTHER
        elif kind is TurnKind.RECHECK:
            lead = "Checked again with what you've told me so far."
        elif kind is TurnKind.RETRACTION:
            dropped = conv.retract_last()
            lead = (
                f'Removed what you said earlier ("{dropped.words}"); it is no longer part of the profile.'
                if dropped
                else "There was nothing about the patient to remove."
            )
        if kind is TurnKind.OTHER and _adds_to_check(question, conv):
            said = extract_facts(question, today)
            if said.states_anything():
                conv.add_facts(said, question)
                kind, lead = TurnKind.ANSWER, "Noted."
        if kind is TurnKind.OTHER:
            return self._run(_Turn(question=question, patient=patient, explicit_trials=trial_ids, conversation=conv))
        return self._recheck(conv, lead, kind.value)

    def recheck(self, conversation: Conversation, lead: str) -> Answer | None:
        """The conversation's last check or search run again with its current profile (after the profile was
        edited), opening with `lead`; None when nothing was checked yet."""
        with conversation.lock:
            if conversation.last_checking_turn() is None:
                return None
            return self._recheck(conversation, lead, TurnKind.RECHECK.value)

    def _recheck(self, conv: Conversation, lead: str | None, intent: str) -> Answer:
        again = conv.last_checking_turn()
        if again is None:
            facts = render.facts_line(conv.facts) if conv.facts is not None else None
            conv.pending = None
            text = (lead or "") + (f" What I know so far: {facts}." if facts else "")
            return Answer(
                answer=text,
                intent=intent,
                backend="rules",
                facts=conv.facts.to_json() if conv.facts is not None else {},
            )
        explicit = list(again.trial_ids) if again.intent == "eligibility" else []
        return self._run(
            _Turn(
                question=again.question,
                patient=None,
                explicit_trials=explicit,
                conversation=conv,
                reread=False,
                lead=lead,
            )
        )

    def refresh(self) -> None:
        """Forget the cached trial list (call after ingesting into the same index)."""
        with self._lock:
            self._profiles = None
            self._known = None

    # -- caches ---------------------------------------------------------------------------------------
    def _catalog(self) -> tuple[set[str], list[TrialProfile]]:
        with self._lock:
            if self._profiles is None or self._known is None:
                # Read a page at a time: only the profiles stay (a 100,000-trial index does not fit at once).
                self._profiles = build_profiles(self.index.iter_trials())
                self._known = {p.trial_id for p in self._profiles}
                # The catalog lives as long as the process and holds ~10 objects per indexed trial (600k on
                # the archive, with the interpreter's own). Every full garbage collection walked all of them:
                # 1.3 s over 30 archive answers, the biggest part of the slow answers. Frozen, they are left
                # out of collections (still freed by reference counting when dropped).
                gc.freeze()
            return self._known, self._profiles

    def _today(self) -> date | None:
        return date.fromisoformat(self.settings.today) if self.settings.today else None

    def _no_facts(self) -> PatientFacts:
        """An empty patient: the checker then reports every criterion it needs facts for as unknown."""
        return extract_facts("", self._today())

    # -- steps ----------------------------------------------------------------------------------------
    def _run(self, turn: _Turn) -> Answer:
        turn = self._chain.invoke(turn)
        answer = turn.answered
        if turn.conversation is not None:
            intent = turn.understood
            referred = intent.trial_ids
            if intent.kind == "find_trials" or not referred:
                # A list puts all its trials in focus: "which ones are still open?", "these".
                headings = turn.draft.statements if turn.draft is not None else []
                referred = [s.trial_id for s in headings if s.style == "heading" and s.trial_id is not None]
            turn.conversation.update(
                question=turn.question,
                intent=intent.kind,
                trial_ids=list(referred),
                aspects=list(intent.aspects),
                answer=answer.answer,
            )
            turn.conversation.ask_next(answer.next_question)
        return answer

    def _understand(self, turn: _Turn) -> _Turn:
        known, profiles = self._catalog()
        conv = turn.conversation
        last = conv.last_turn if conv else None
        facts = conv.facts if conv else None
        if turn.patient:
            new = extract_facts(turn.patient, self._today())
            facts = conv.add_facts(new, turn.patient) if conv else new
        turn.intent = understand(
            turn.question,
            known_ids=known,
            profiles=profiles,
            previous_trials=conv.last_trials if conv else (),
            previous_kind=last.intent if last else None,
            previous_aspects=last.aspects if last else (),
            explicit_trials=turn.explicit_trials,
            has_patient=facts is not None and facts.states_anything(),
        )
        speaks_of_patient = turn.understood.personal and turn.understood.kind in ("eligibility", "find_trials")
        if turn.reread and (turn.understood.states_facts or speaks_of_patient):
            said = extract_facts(turn.question, self._today())
            # A search that only names what it looks for ("any lupus trials for me?") states nothing: its
            # mentions are hypothetical (the context rules), so only facts asserted about the patient count.
            if said.asserts_anything():
                facts = conv.add_facts(said, turn.question) if conv else (facts.merge(said) if facts else said)
        if (
            conv is not None
            and conv.focus
            and not turn.understood.trial_ids
            and FOCUS_REFERENCE.search(turn.question)
            and turn.understood.kind in ("find_trials", "trial_fact")
        ):
            # "which ones are still open?" filters the listed trials, it does not search anew.
            turn.intent = turn.intent.model_copy(update={"kind": "find_trials"})
            turn.within = list(conv.focus)
        near = _NEAR.search(turn.question)
        if near and turn.understood.kind == "find_trials":
            turn.place = (
                _home_place(turn) if _SELF_PLACE.fullmatch(near.group(1).strip()) else resolve_place(near.group(1))
            )
        turn.facts = facts
        if turn.understood.injection:
            turn.warnings.append(INJECTION_WARNING)
        return turn

    def _retrieve(self, turn: _Turn) -> _Turn:
        intent = turn.understood
        k = self.settings.retrieve_k
        if intent.kind in ("out_of_scope", "unknown_trial"):
            return turn
        if intent.kind == "definition":
            hits = self.index.search(intent.term or turn.question, k=max(k * 3, 24))
            turn.passages = _numbered([h.chunk for h in hits], {h.chunk.id: h.score for h in hits})
            return turn
        if intent.kind == "find_trials" or (intent.kind == "eligibility" and not intent.trial_ids):
            return self._retrieve_trials(turn)
        trial_ids = intent.trial_ids
        hits = self.index.search(turn.question, k=k, trial_ids=trial_ids, sections=intent.sections())
        if intent.resolved_by == "description" and len(trial_ids) > MAX_DESCRIBED:
            trial_ids = self._best_described(turn, hits)
            hits = [h for h in hits if h.chunk.trial_id in trial_ids]
        scores = {h.chunk.id: h.score for h in hits}
        ordered: list[Chunk] = [h.chunk for h in hits]
        sections = set(intent.sections() or [])
        for tid in trial_ids:
            trial = self.index.trial(tid)
            if trial is None:
                continue
            turn.trials[tid] = trial
            chunks = self.index.chunks(tid)
            ordered += [c for c in chunks if c.section in sections] + chunks
        turn.passages = _numbered(ordered, scores)
        if intent.kind == "eligibility":
            turn.verdicts = [
                v
                for tid in trial_ids
                if tid in turn.trials
                for v in check_trial(
                    turn.trials[tid], turn.facts or self._no_facts(), rules=self.index.store.compiled_rules
                )
            ]
        return turn

    def _best_described(self, turn: _Turn, hits: list[Hit]) -> list[str]:
        """The `MAX_DESCRIBED` trials, of the many a description matched, whose passages best match the
        question (then in the matcher's order), with a warning that names how many matched."""
        matched = turn.understood.trial_ids
        ranked = list(dict.fromkeys(h.chunk.trial_id for h in hits))
        best = [*ranked, *(t for t in matched if t not in ranked)][:MAX_DESCRIBED]
        turn.intent = turn.understood.model_copy(update={"trial_ids": best})
        turn.warnings.append(
            f"{len(matched)} trials match that description; this answer covers the {len(best)} whose passages "
            "best match the question. Name a trial by its number to ask about it alone."
        )
        return best

    def _retrieve_trials(self, turn: _Turn) -> _Turn:
        """Trials for a find question: hybrid trial ranking, filtered by the countries and statuses asked."""
        intent = turn.understood
        facts = turn.facts if turn.facts is not None and turn.facts.states_anything() else None
        query = " ".join([turn.question, *(name for c in intent.conditions for name in _group_of(c))])
        ranked = rank_trials(
            self.index,
            query=query,
            facts=facts,
            limit=MAX_LISTED * 4,
            statuses=intent.statuses or None,
            asked=intent.conditions,
        )
        picked: list[str] = []
        for item in ranked:
            trial = item.trial
            if turn.within and trial.trial_id not in turn.within:
                continue
            if intent.countries and not _in_countries(trial, intent.countries):
                continue
            if intent.phases and not any(p in (trial.phase or "").upper().split("/") for p in intent.phases):
                continue
            if intent.conditions and not _about_conditions(trial, intent.conditions):
                continue
            turn.trials[trial.trial_id] = trial
            picked.append(trial.trial_id)
            if facts is not None:
                turn.verdicts += item.verdicts
            if len(picked) >= MAX_LISTED:
                break
        if not picked:
            return turn
        # Relevance within each status group (a stable sort); a trial no one can join now comes last.
        picked.sort(key=lambda t: _enrolling_rank(turn.trials[t]))
        if turn.place is not None:
            sites = {t: nearest_site(turn.trials[t], turn.place, vocab.REGISTRY_COUNTRY.get(t[:3])) for t in picked}
            picked.sort(key=lambda t: (_enrolling_rank(turn.trials[t]), site_km(sites[t])))
            turn.lead = _distance_line(turn.place, sites, picked)
        # The verdicts (and the lead sentence naming the first trial that may fit) follow the list's order.
        turn.verdicts.sort(key=lambda v: picked.index(v.trial_id) if v.trial_id in picked else len(picked))
        # The trials were ranked by the hybrid retriever (one query embedding); the passage shown for each
        # is its best lexical match, which needs no second embedding of the same question.
        # A criterion shown under a trial in a list reads as a claim about the person ("who have received a
        # biologic agent"), so the passage comes from what the trial is about unless criteria were asked for.
        sections = None if "criteria" in intent.aspects else list(LIST_SECTIONS)
        hits = (
            self.index.search_lexical(turn.question, k=len(picked) * 4, trial_ids=picked, sections=sections)
            if _topical(turn)
            else []
        )
        ordered = [h.chunk for h in hits]
        by_trial: dict[str, list[Chunk]] = {tid: [] for tid in picked}
        for chunk in ordered:
            by_trial[chunk.trial_id].append(chunk)
        for tid in picked:
            chunks = self.index.chunks(tid)
            if not by_trial[tid]:
                # What the trial is about, in the order a reader would look; a page without a summary has
                # its study groups.
                about = ("summary", "description", "arms", "interventions", "conditions")
                by_trial[tid] = sorted((c for c in chunks if c.section in about), key=lambda c: about.index(c.section))[
                    :1
                ]
            by_trial[tid] += [c for c in chunks if c.section in ("status", "locations")]
        turn.passages = _numbered([c for tid in picked for c in by_trial[tid]])
        return turn

    def _draft(self, turn: _Turn) -> _Turn:
        intent = turn.understood
        if intent.kind == "out_of_scope":
            text = {"medical advice": ADVICE_REFUSAL, "greeting": GREETING, "injection": RULES_REFUSAL}.get(
                intent.reason or "", UNRELATED_REFUSAL
            )
            turn.draft = Draft(statements=[Statement(text=text, kind="notice")], backend="rules")
        elif intent.kind == "unknown_trial":
            ids = ", ".join(intent.unknown_ids)
            turn.draft = Draft(
                statements=[
                    Statement(
                        text=f"I don't have {ids} in the trial documents, so I can't answer about it. {NOT_FOUND}",
                        kind="notice",
                    )
                ],
                backend="rules",
            )
        else:
            turn.draft = self.generator.draft(turn.question, intent, turn.passages, turn.trials)
            turn.draft = self._honest(turn)
            if intent.unknown_ids:
                turn.draft = turn.drafted.model_copy(
                    update={
                        "statements": [
                            Statement(
                                text=f"I don't have {', '.join(intent.unknown_ids)} in the trial documents.",
                                kind="notice",
                            ),
                            *turn.drafted.statements,
                        ]
                    }
                )
        return turn

    def _honest(self, turn: _Turn) -> Draft:
        """For a question asking a property the documents often leave out (payment, results, follow-up...),
        each trial either cites the passage stating it or says its documents don't; only then the nearest
        related passage is offered, labelled as such (app/refusal.py)."""
        draft = turn.drafted
        prop = asked_property(turn.question) if turn.understood.kind != "definition" else None
        if prop is None:
            return draft
        by_trial: dict[str, list[Statement]] = {}
        order: list[str] = []
        for s in draft.statements:
            tid = s.trial_id or (order[-1] if order else None)
            if tid is None:
                continue
            if tid not in by_trial:
                order.append(tid)
            by_trial.setdefault(tid, []).append(s)
        out: list[Statement] = []
        for tid in order:
            heading = [s for s in by_trial[tid] if s.kind == "heading"]
            rest = [s for s in by_trial[tid] if s.kind == "fact"]
            stating = stating_chunks(prop, self.index.chunks(tid))
            if stating and any(c in {x.id for x in stating} for st in rest for c in st.citations):
                out += by_trial[tid]  # the drafted passages already state it
                continue
            if stating:
                chunk = stating[0]
                turn.passages = [*turn.passages, Passage(n=len(turn.passages) + 1, chunk=chunk, score=0.0)]
                out += [
                    *heading,
                    Statement(
                        text=_stating_sentence(prop, chunk.text), citations=[chunk.id], style="bullet", trial_id=tid
                    ),
                ]
                continue
            out += [*heading, Statement(text=not_stated(tid, prop), kind="notice", style="bullet", trial_id=tid)]
            nearest = [s for s in rest if not any(self._is_reference(c) for c in s.citations)][:1]
            closer = [c for section in prop.nearest for c in self.index.chunks(tid) if c.section == section][:1]
            if closer:  # the property's own nearest section (follow-up: the outcomes' time frames, the schedule)
                turn.passages = [*turn.passages, Passage(n=len(turn.passages) + 1, chunk=closer[0], score=0.0)]
                text = " — ".join(line.strip() for line in closer[0].text.splitlines() if line.strip())
                nearest = [Statement(text=text, citations=[closer[0].id], style="bullet", trial_id=tid)]
            if nearest and len(order) == 1:
                out += [Statement(text=NEAREST_LABEL, kind="notice", trial_id=tid), *nearest]
        return draft.model_copy(update={"statements": out}) if out else draft

    def _not_enrolling(self, trial_ids: set[str], trials: dict[str, Trial]) -> dict[str, str]:
        """Trials among `trial_ids` whose status takes no one now, with that status in plain words."""
        out: dict[str, str] = {}
        for tid in trial_ids:
            trial = trials.get(tid) or self.index.trial(tid)
            if trial is not None and trial.status and trial.status.upper() in NOT_ENROLLING:
                out[tid] = trial.status.replace("_", " ").lower()
        return out

    def _is_reference(self, chunk_id: str) -> bool:
        chunk = self.index.chunk(chunk_id)
        return chunk is not None and chunk.section in NOT_ABOUT_THIS_TRIAL

    def _verify(self, turn: _Turn) -> _Turn:
        intent = turn.understood
        chunks = {p.chunk.id: p.chunk for p in turn.passages}
        claimed = _claimed_trials(turn.drafted, chunks, intent)
        for tid in claimed:
            if tid not in {v.trial_id for v in turn.verdicts}:
                trial = turn.trials.get(tid) or self.index.trial(tid)
                if trial is not None:
                    turn.trials[tid] = trial
                    turn.verdicts += check_trial(
                        trial, turn.facts or self._no_facts(), rules=self.index.store.compiled_rules
                    )
        checked = gate(
            turn.drafted,
            chunks=chunks,
            verdicts=turn.verdicts,
            default_trials=intent.trial_ids,
            # A list of trials is answered by its cited headings (title, status) even when no passage is shown.
            allow_empty=intent.kind in ("eligibility", "find_trials"),
        )
        warnings = [*turn.warnings, *checked.warnings]
        body = render.statements_markdown(checked.statements, chunks)
        shown = turn.verdicts if intent.kind == "eligibility" or turn.verdicts and intent.kind == "find_trials" else []
        if checked.removed_claims and not shown:
            shown = turn.verdicts
        next_question = None
        cited_ids = [c for s in checked.statements for c in s.citations]
        citations = [chunks[c].citation() for c in dict.fromkeys(cited_ids)]
        if shown:
            titles = {}
            for v in shown:
                for f in v.failed:
                    chunk = chunks.get(f.citation.id) or self.index.chunk(f.citation.id)
                    titles[f.citation.id] = chunk.title if chunk else f.citation.section
                    if f.citation.id not in {c.id for c in citations}:
                        citations.append(f.citation)
            facts_line = render.facts_line(turn.facts) if turn.facts is not None else None
            closed = self._not_enrolling({v.trial_id for v in shown}, turn.trials)
            # Enrolling trials first; a trial that takes no one now is marked and never asked about.
            shown = sorted(shown, key=lambda v: v.trial_id in closed)
            body = (body + "\n\n" if body else "") + render.verdicts_markdown(shown, facts_line, titles, closed)
            best = {t: v.verdict for t, v in best_verdicts(shown).items()}
            said = [t for t in (turn.patient, turn.question) if t]
            who = turn.conversation.subject if turn.conversation is not None else subject_of(said)
            places = {t: _place(turn.trials[t]) for t in best if t in turn.trials}
            lead = render.lead_sentence(best, closed, places, who)
            if lead and turn.facts is not None and turn.facts.states_anything():
                body = f"{lead}\n\n{body}"
            asked = turn.conversation.asked if turn.conversation is not None else []
            # A trial that takes no one now is never asked about: an answer could not help anyone join it.
            open_to_ask = [v for v in shown if v.trial_id not in closed]
            next_question = _next_question(open_to_ask, asked, who)
            if next_question:
                body += f"\n\n{next_question.question}"
            elif not open_to_ask:
                pass  # every trial shown is closed: the lead sentence said so, and no fact would change it
            elif turn.facts is None or not turn.facts.states_anything():
                body += "\n\nTell me about the patient (age, diagnosis, medicines, lab values) to check the criteria."
        trials_cited = {c.trial_id for c in citations} | {v.trial_id for v in shown}
        warnings += quality_warnings(turn.trials[t] for t in sorted(trials_cited) if t in turn.trials)
        minor = {w.message for t in turn.trials.values() for w in t.warnings if w.code not in QUALITY_CODES}
        for v in shown:
            warnings += [
                with_trial(v.trial_id, w)
                for w in v.warnings
                if w not in minor and not any(w in seen for seen in warnings)
            ]
        if turn.lead:
            body = f"{turn.lead}\n\n{body}"
        turn.answer = Answer(
            answer=body.strip() or NOT_FOUND,
            facts=turn.facts.to_json() if turn.facts is not None else {},
            citations=citations,
            eligibility=shown,
            warnings=list(dict.fromkeys(warnings)),
            intent=intent.kind,
            backend=turn.drafted.backend,
            next_question=next_question,
        )
        return turn


# "near Chicago", "close to Lyon, France", "around Texas": the place a find question measures from.
_NEAR = re.compile(
    r"(?i)\b(?:near|close\s+to|closest\s+to|nearest\s+to|nearby|around|not\s+far\s+from)\s+(?:me\s+in\s+)?"
    r"([A-Za-z][\w .'\-]*?(?:,\s*[A-Za-z][\w .'\-]*?)?)\s*(?:[?.!;]|$|\bfor\b|\bwith\b|\bthat\b)"
)
NEAR_KM = 300  # beyond this, "nothing is close" is said outright
# "near me", "close to home": the place is the one the person said they live in, this turn or earlier.
_SELF_PLACE = re.compile(r"(?i)(?:me|us|here|home|my\s+(?:home|area|place|city|town)|where\s+(?:i|we)\s+live)")
_HOME = re.compile(
    r"(?i)\b(?:i|we)\s*(?:'m|'re|\s+am|\s+are)?\s*(?:live|living|based|located|staying)\s+(?:in|near)\s+"
    r"([A-Za-z][\w .'\-]*?(?:,\s*[A-Za-z][\w .'\-]*?)?)\s*(?:[?.!;]|$|\band\b|\bwith\b|\bbut\b)|"
    r"\b(?:i|we)\s*(?:'m|'re|\s+am|\s+are)\s+from\s+"
    r"([A-Za-z][\w .'\-]*?(?:,\s*[A-Za-z][\w .'\-]*?)?)\s*(?:[?.!;]|$|\band\b|\bwith\b|\bbut\b)"
)


def _home_place(turn: _Turn) -> Place | None:
    """The place the person said they live in: this message first, then their earlier turns."""
    earlier = [t.question for t in reversed(turn.conversation.turns)] if turn.conversation is not None else []
    for text in [turn.question, *(turn.patient or "",), *earlier]:
        for m in _HOME.finditer(text):
            place = resolve_place(m.group(1) or m.group(2))
            if place is not None:
                return place
    return None


def _distance_line(place: Place, sites: dict, picked: list[str]) -> str:
    """One plain line on distance: the closest listed trial site to the user's place."""
    placed = [t for t in picked if sites.get(t) is not None]
    if not placed:
        return f"I couldn't place any of these trials' sites to measure the distance from {place.name}."
    closest = min(placed, key=lambda t: sites[t].distance_km)  # the list itself puts enrolling trials first
    site = sites[closest]
    where = ", ".join(x for x in (site.city, site.country) if x)
    km = (
        "right there"
        if site.distance_km < 10
        else f"about {round(site.distance_km, -1) if site.distance_km >= 100 else round(site.distance_km):,.0f} km away"
    )
    if site.distance_km > NEAR_KM:
        return f"Nothing here is close to {place.name}. The closest is {closest} in {where}, {km}."
    return f"The closest to {place.name} is {closest} in {where}, {km}."


def _place(trial: Trial) -> str:
    """A site's city (or country) for the lead sentence; the registry's country when no site is listed."""
    for loc in trial.locations:
        if loc.city or loc.country:
            return loc.city or loc.country or ""
    return vocab.REGISTRY_COUNTRY.get(trial.trial_id[:3], "").title()


def _adds_to_check(question: str, conv: Conversation) -> bool:
    """A statement (no question, no trial named) right after an eligibility check adds to the profile the
    check is about: "I also have HIV", "she's on dialysis" are new facts, not a search for HIV trials."""
    last = conv.last_turn
    about_patient = last is not None and (last.intent == "eligibility" or bool(_PATIENT_SUBJECT.match(question)))
    return (
        about_patient
        and conv.last_checking_turn() is not None
        and "?" not in question
        and not TRIAL_ID_MENTION.search(question)
        and not FOCUS_REFERENCE.search(question)
    )


# A statement whose subject is the patient ("she also has...", "I'm on...", "my patient had...").
_PATIENT_SUBJECT = re.compile(
    r"(?i)^\W*(?:and\s+|also\s+|oh\s+and\s+)?(?:i|i'm|i've|she|she's|he|he's|they|"
    r"my\s+(?:patient|mum|mom|mother|father|dad|wife|husband|son|daughter|partner)|"
    r"the\s+patient)\b"
)


def _stating_sentence(prop, text: str) -> str:
    """The sentence of a passage that states the property (the whole passage when none stands alone)."""
    for sentence in re.split(r"(?<=[.;])\s+|\n+", text):
        if prop.stated_in(sentence):
            return sentence.strip()
    return text.strip()


def _numbered(chunks: list[Chunk], scores: dict[str, float] | None = None) -> list[Passage]:
    """Unique chunks numbered from 1 in order; retriever hits keep their score, other chunks score 0."""
    seen: set[str] = set()
    out: list[Passage] = []
    for chunk in chunks:
        if chunk.id not in seen:
            seen.add(chunk.id)
            out.append(Passage(n=len(out) + 1, chunk=chunk, score=(scores or {}).get(chunk.id, 0.0)))
    return out


_LISTING_WORDS = frozenset(
    [
        "find",
        "search",
        "show",
        "list",
        "have",
        "available",
        "options",
        "any",
        "which",
        "all",
        "trial",
        "trials",
        "study",
        "studies",
        "collection",
        "index",
        "database",
        "there",
    ]
)


def _topical(turn: _Turn) -> bool:
    """Whether a find question names a topic; "what trials do you have?" does not, so each trial is shown
    by its summary rather than by a passage that happens to share a word with the question."""
    intent = turn.understood
    if intent.conditions or intent.countries or intent.statuses:
        return True
    return any(
        w not in vocab.STOPWORDS and w not in vocab.FRAME_WORDS and w not in _LISTING_WORDS
        for w in vocab.words(turn.question)
    )


def _group_of(condition: str) -> tuple[str, ...]:
    for group in vocab.SYNONYM_GROUPS:
        if group[0] == condition:
            return group
    return (condition,)


def _enrolling_rank(trial: Trial) -> int:
    status = (trial.status or "").upper()
    if status in ENROLLING_ORDER:
        return ENROLLING_ORDER.index(status)
    return len(ENROLLING_ORDER) + (status in NOT_ENROLLING)


def _in_countries(trial: Trial, countries: list[str]) -> bool:
    places = " ".join(
        " ".join(x for x in (loc.country, loc.city, loc.state, loc.facility) if x) for loc in trial.locations
    )
    registry = vocab.REGISTRY_COUNTRY.get(trial.trial_id[:3], "")
    norm = vocab.normalized(places + " " + registry)
    return any(vocab.contains_phrase(norm, c) for c in countries)


def _about_conditions(trial: Trial, conditions: list[str]) -> bool:
    text = " ".join(
        [
            trial.title,
            trial.official_title or "",
            *trial.conditions,
            *trial.keywords,
            trial.summary or "",
            trial.eligibility.text or "",
        ]
    )
    norm = vocab.normalized(text)
    return all(
        any(vocab.contains_phrase(norm, name) for name in _widened(c) if name not in vocab.CASE_SENSITIVE)
        for c in conditions
    )


def _widened(condition: str) -> tuple[str, ...]:
    """The condition's names and those of the diseases it is a kind of (a lupus trial takes lupus nephritis)."""
    return tuple(name for group in (_group_of(condition), *vocab.BROADER.get(condition, ())) for name in group)


def _claimed_trials(draft: Draft, chunks: dict[str, Chunk], intent: Intent) -> list[str]:
    out: list[str] = []
    for s in draft.statements:
        if s.kind != "heading" and find_claim(s.text):
            out += claim_trials(s, chunks, intent.trial_ids)
    return list(dict.fromkeys(out))


def _next_question(verdicts: list[TrialVerdict], asked: list[str], who: str = "you") -> NextQuestion | None:
    """The single most useful question: the missing fact deciding most not-ruled-out verdicts, never one
    already asked in this conversation (an answer the checker could not use is not asked for again),
    asked about `who` ("your mother": "Has she ever ...")."""
    open_verdicts = [v for v in best_verdicts(verdicts).values() if v.verdict == "possibly_eligible"]
    if not open_verdicts:
        return None
    ranked = [fact for fact, *_ in rank_missing_facts(open_verdicts) if fact not in asked]
    return NextQuestion(fact=ranked[0], question=address(question_for(ranked[0]), who)) if ranked else None
