"""Versioned prompt templates from `prompts/NAME.md`, loaded by name ("answer.v1").

A template file has a `# system` and a `# user` part; `{placeholders}` are filled by LangChain's
`ChatPromptTemplate`. Changing wording means adding `answer.v2.md`, so eval reports can name the version.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from langchain_core.prompts import ChatPromptTemplate

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
_PART = re.compile(r"^# (system|user)\s*$", re.MULTILINE)


class PromptError(Exception):
    """A prompt file is missing or malformed."""


@lru_cache(maxsize=16)
def load_prompt(name: str, directory: Path = PROMPTS_DIR) -> ChatPromptTemplate:
    """The chat prompt `directory/{name}.md` as a system + human `ChatPromptTemplate`."""
    path = directory / f"{name}.md"
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in directory.glob("*.md"))) or "none"
        raise PromptError(f"prompt {name!r} not found at {path}; available: {available}")
    text = path.read_text(encoding="utf-8")
    parts = _PART.split(text)
    # split gives ['', 'system', body, 'user', body]
    found = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    missing = [p for p in ("system", "user") if not found.get(p)]
    if missing:
        raise PromptError(f"{path}: missing a '# {missing[0]}' part (a line '# {missing[0]}' followed by its text)")
    return ChatPromptTemplate.from_messages([("system", found["system"]), ("human", found["user"])])
