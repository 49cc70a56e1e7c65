"""Document text made inert: markdown that shows exactly the document's words and does nothing else.

Trial documents are data written by others. Whatever markdown or HTML they carry must not load
anything, link anywhere or restructure the answer around it (a heading or note that reads as ours).
`inert` parses a piece of text with markdown-it (the same CommonMark the pages are rendered with) and
rebuilds it token by token:

- images become their alt text, so nothing is ever fetched;
- links become their text, without the address (the only links an answer shows are the trial registry
  pages the renderer itself adds, built from the trial id, never from a document);
- raw HTML is shown as its literal characters, escaped; autolinks as code (below);
- bare addresses and e-mail addresses are shown as code: GitHub-flavoured markdown (the chat's renderer)
  turns them into links in plain text, never inside code;
- every line starts as plain text: a leading `#`, `>`, `-`, `=`, `|` ... is escaped, so no document line
  becomes a heading, a quote that reads as one of our notes, a list or a table.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

_PARSER = MarkdownIt("commonmark")
# What GitHub-flavoured markdown links in plain text (its "autolink literal" extension: web addresses
# starting with a scheme or "www.", and e-mail addresses).
_LINKABLE = re.compile(r"(?:https?://|ftp://|www\.)[^\s<]*[^\s<?!.,:*_~)]|[-.\w+]+@[-\w]+(?:\.[-\w]+)+", re.IGNORECASE)
# Characters that open a link, an image or a code span, or start HTML or an autolink.
_ACTIVE = re.compile(r"[\\\[\]`]|<(?=[A-Za-z/!?])")
# A line opening with one of these would start a block: heading, quote, list, rule, setext underline, table.
_BLOCK_START = re.compile(r"^(?:[#>+=|~-]|[*_](?=\s|[*_\s]*$)|\d{1,9}(?=[.)](?:\s|$)))")


def inert(text: str) -> str:
    """`text` (from a document, or typed by someone) as markdown that renders as that text only."""
    return "\n".join(_line(line) for line in text.splitlines() or [""])


def _line(line: str) -> str:
    tokens = _PARSER.parseInline(line.strip())
    out = _rebuild(tokens[0].children or []) if tokens else ""
    m = _BLOCK_START.match(out)
    if m is None:
        return out
    if m.group()[:1].isdigit():  # "1." -> "1\." (an ordered list needs the bare dot)
        return f"{m.group()}\\{out[m.end() :]}"
    return "\\" + out


def _rebuild(tokens: list[Token]) -> str:
    out: list[str] = []
    for token in tokens:
        match token.type:
            case "text":
                out.append(_plain(token.content))
            case "code_inline":
                out.append(_code(token.content))
            case "image":
                out.append(_rebuild(token.children or []))
            case "link_open" | "link_close":
                pass  # the link's text stays (its tokens follow), its address goes
            case "html_inline":
                out.append(_plain(token.content))
            case "em_open" | "em_close" | "strong_open" | "strong_close":
                out.append(token.markup)
            case "softbreak" | "hardbreak":
                out.append(" ")
            case _:
                out.append(_plain(token.content))
    return "".join(out)


def _plain(text: str) -> str:
    """Plain text: addresses as code, everything that could open a construct escaped."""
    out: list[str] = []
    start = 0
    for m in _LINKABLE.finditer(text):
        out += [_escape(text[start : m.start()]), _code(m.group())]
        start = m.end()
    out.append(_escape(text[start:]))
    return "".join(out)


def _escape(text: str) -> str:
    return _ACTIVE.sub(lambda m: "\\" + m.group(), text)


def _code(text: str) -> str:
    """A code span holding `text` verbatim (a fence longer than any backtick run inside it)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
