"""LLM backends through LangChain chat models: any OpenAI-compatible endpoint, or Ollama.

The model sees the question and numbered passages (prompt `prompts/answer.v1.md`) and must cite passage
numbers in square brackets. This adapter maps the numbers back to chunk ids, drops numbers that name no
passage (with a warning) and hands the sentences to the gate, which decides what is shown.
"""

from __future__ import annotations

import re

from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser

from app.generators import NOT_FOUND, Draft, Passage, Statement
from app.intent import Intent
from app.prompts import load_prompt
from ingest.models import Trial
from trialfinder.settings import Settings

PROMPT = "answer.v1"
MAX_PASSAGE_CHARS = 900
# The chain orders passages best first (retriever hits, then the asked sections); a small model answers
# better from a short list, and 16 passages of <= 900 characters fit a 4k-token context with the rules.
MAX_PASSAGES = 16

_MARKER = re.compile(r"\[(\s*\d+\s*(?:[,;]\s*\d+\s*)*)\]")
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9*\"(])|\n+")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_NOT_FOUND = re.compile(
    r"don'?t have (that|this|it|the \w+)? ?in the trial documents|not in the (trial )?documents|"
    r"(passages|documents) do not (say|contain|mention|state)",
    re.IGNORECASE,
)


def chat_model(settings: Settings) -> BaseChatModel:
    """The LangChain chat model for `settings.backend` ("openai" or "ollama")."""
    if settings.backend == "openai":
        from langchain_openai import ChatOpenAI

        if not settings.llm_base_url:
            raise ValueError("backend 'openai' needs TRIALFINDER_LLM_BASE_URL (e.g. http://127.0.0.1:8080/v1)")
        return ChatOpenAI(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key,
            model=settings.llm_model,
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,
            timeout=60,
            max_retries=1,
        )
    if settings.backend == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(
            base_url=settings.llm_base_url or "http://127.0.0.1:11434",
            model=settings.llm_model,
            temperature=settings.llm_temperature,
            num_predict=settings.llm_max_tokens,
        )
    raise ValueError(f"no chat model for backend {settings.backend!r}; use 'openai' or 'ollama'")


def render_passages(passages: list[Passage]) -> str:
    """Passages as the model sees them: `[n] (TRIAL · Section title) text`."""
    lines = []
    for p in passages:
        text = " ".join(p.chunk.text.split())
        if len(text) > MAX_PASSAGE_CHARS:
            text = text[:MAX_PASSAGE_CHARS] + " …"
        lines.append(f"[{p.n}] ({p.chunk.trial_id} · {p.chunk.title}) {text}")
    return "\n".join(lines) if lines else "(no passages)"


def describe_intent(intent: Intent) -> str:
    """A one-line description of the understood turn, for the prompt."""
    parts = [intent.kind.replace("_", " ")]
    if intent.aspects:
        parts.append("asking about " + ", ".join(intent.aspects))
    if intent.trial_ids:
        parts.append("trials " + ", ".join(intent.trial_ids))
    if intent.term:
        parts.append(f"term {intent.term}")
    return "; ".join(parts)


def parse_answer(text: str, passages: list[Passage]) -> tuple[list[Statement], list[str]]:
    """Split a model answer into sentences and map their `[n]` markers to chunk ids.

    A number that names no passage is dropped and reported; the sentence keeps its other citations.
    """
    by_number = {p.n: p.chunk for p in passages}
    by_id = {p.chunk.id: p.chunk for p in passages}
    statements: list[Statement] = []
    warnings: list[str] = []
    for piece in _SPLIT.split(text.strip()):
        bullet = bool(_BULLET.match(piece))
        piece = _BULLET.sub("", piece).strip()
        if not piece:
            continue
        cited: list[str] = []
        for marker in _MARKER.findall(piece):
            for number in re.split(r"[,;]", marker):
                n = int(number)
                chunk = by_number.get(n)
                if chunk is None:
                    warnings.append(
                        f"The model cited passage [{n}], which it was not given; that citation was dropped."
                    )
                elif chunk.id not in cited:
                    cited.append(chunk.id)
        sentence = " ".join(_MARKER.sub("", piece).split())
        sentence = re.sub(r"\s+([.,;:!?])", r"\1", sentence)
        if not sentence or sentence in {".", ","}:
            continue
        kind = "notice" if _NOT_FOUND.search(sentence) and not cited else "fact"
        if kind == "notice":
            sentence = NOT_FOUND
        trial_id = by_id[cited[0]].trial_id if cited else None
        statements.append(
            Statement(
                text=sentence, citations=cited, kind=kind, style="bullet" if bullet else "paragraph", trial_id=trial_id
            )
        )
    return statements, warnings


class LLMGenerator:
    """Drafts with a LangChain chat model from the versioned prompt; see the module docstring."""

    def __init__(self, model: BaseChatModel, *, name: str = "llm", prompt: str = PROMPT):
        self.name = name
        self.prompt_name = prompt
        self._chain = load_prompt(prompt) | model | StrOutputParser()

    def messages(self, question: str, intent: Intent, passages: list[Passage]):
        """The chat messages sent to the model (exposed for tests and debugging)."""
        return load_prompt(self.prompt_name).format_messages(
            **self._variables(question, intent, passages[:MAX_PASSAGES])
        )

    def _variables(self, question: str, intent: Intent, passages: list[Passage]) -> dict[str, str]:
        return {"question": question, "intent": describe_intent(intent), "passages": render_passages(passages)}

    def draft(self, question: str, intent: Intent, passages: list[Passage], trials: dict[str, Trial]) -> Draft:
        """Ask the model, then parse its sentences and passage numbers into statements."""
        passages = passages[:MAX_PASSAGES]
        raw = self._chain.invoke(self._variables(question, intent, passages))
        statements, warnings = parse_answer(raw, passages)
        return Draft(statements=statements, warnings=warnings, backend=self.name, raw=raw)
