"""Split an eligibility-criteria text into cohorts of atomic, line-addressed criteria.

The input is whatever a registry page or record holds: "Inclusion Criteria:"/"Exclusion Criteria:"
headings, cohort headers ("A- RA", "Inclusion criteria for SLE", even in the middle of a bullet),
bullets, numbering, sub-items and wrapped lines. Each top-level list item becomes one `Criterion`;
sub-items (``o`` bullets, ``i)``/``a)`` items, a nested list after a colon, "OR" connectors) stay inside
their parent so the and/or logic of a criterion is never cut apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest import quality
from ingest.models import Cohort, Criterion, DataWarning, Kind
from ingest.text import clean, split_lines

# Canonical cohort names for the disease groups that multi-cohort autoimmune trials use. Abbreviations
# are matched case-sensitively ("AS" is a cohort, "as" is a word); full names case-insensitively and
# with a loose ending because source pages misspell them ("spondlitis").
_COHORT_ALIASES: tuple[tuple[str, str], ...] = (
    ("RA", r"RA|(?i:rheumatoid\s+arthritis)"),
    ("SLE", r"SLE|(?i:systemic\s+lupus(?:\s+erythematosus)?|lupus)"),
    ("SSc", r"SSc|(?i:systemic\s+sclerosis|scleroderma)"),
    ("AS", r"AS|(?i:ankylosing\s+spond\w*)"),
    ("DM/PM", r"DM/PM|DM|PM|JDM|(?i:(?:juvenile\s+)?dermatomyositis|polymyositis|myositis)"),
    ("JIA", r"JIA|(?i:juvenile\s+idiopathic\s+arthritis)"),
)
_ALIAS_RE = "|".join(f"(?:{pattern})" for _, pattern in _COHORT_ALIASES)

_KIND_WORD = r"(?P<kw>[Ii]nclusion|[Ee]xclusion|INCLUSION|EXCLUSION)"
_CRITERIA_WORD = r"(?:\s+(?i:criteri(?:a|on|ons)))"

# A whole line that is a heading: "Inclusion Criteria:", "Key Exclusion Criteria", "Exclusion for X".
_HEADING_LINE = re.compile(
    r"^(?i:(?:key|main|major|general|specific)\s+)?" + _KIND_WORD + _CRITERIA_WORD + r"?"
    r"(?:\s*(?i:for\s|\()\s*(?P<cohort>[^:()]{1,60}?)\)?)?\s*[:.]?\s*$"
)
# "Inclusion Criteria: first item on the same line".
_HEADING_WITH_ITEM = re.compile(
    r"^(?i:(?:key|main|major|general|specific)\s+)?" + _KIND_WORD + _CRITERIA_WORD + r"\s*:\s*(?P<rest>\S.*)$"
)
# A heading inside a line, after the end of the previous criterion. With a cohort ("… Exclusion
# criteria for SLE Severe flare …") the cohort alias marks where the heading ends; without one only a
# capitalised "Exclusion criteria" at the end of the line or before a capitalised word counts, so
# prose such as "meets the exclusion criteria of …" is left alone.
_MIDLINE_COHORT_HEADING = re.compile(
    r"^(?P<pre>.*?\S)\s+(?P<kw>Inclusion|Exclusion)" + _CRITERIA_WORD + r"?\s+for\s+"
    r"(?P<cohort>" + _ALIAS_RE + r")\b\s*:?\s*(?P<rest>.*)$"
)
_MIDLINE_BARE_HEADING = re.compile(
    r"^(?P<pre>.*?\S)\s+(?P<kw>Inclusion|Exclusion)\s+[Cc]riteria\s*:?\s*(?P<rest>(?:[A-Z(].*)?)$"
)
# "A- RA", "B) SLE": a lettered cohort header naming a known disease group.
_LETTER_COHORT = re.compile(r"^[A-H]\s*[-–.)]\s*(?P<cohort>" + _ALIAS_RE + r")\s*:?\s*$")
# "Cohort 1:", "Part A", "Group B:" on a line of their own.
_NAMED_COHORT = re.compile(r"^(?P<cohort>(?i:cohort|part|group)\s+[A-Za-z0-9]{1,3})\s*:?\s*$")

_BULLET = re.compile(r"^(?:[•·▪●■◦►➢✓*]\s*|[-–]\s+)")
_NUMBER = re.compile(r"^(?:\((?P<p>\d{1,2})\)|(?P<d>\d{1,2})\.(?!\d)|(?P<r>\d{1,2})\))\s*(?=\S)")
_LETTER = re.compile(r"^\(?(?P<l>[a-hA-H]|[ivx]{1,4}|[IVX]{1,4})[).]\s+(?=\S)")
_O_SPACED = re.compile(r"^o\s+(?=\S)")
_O_GLUED_UPPER = re.compile(r"^o(?=[A-Z])")
_O_GLUED_LOWER = re.compile(r"^o(?=[a-z])")
_O_BULLET_LINE = re.compile(r"^(?:o\s+\S|o[A-Z])")
_CONNECTOR = re.compile(r"^(?i:or|and|and/or|and / or)$")
# A "for ..." tail longer than this is a sentence, not a cohort name.
_MAX_COHORT_WORDS = 6
# An unmarked line ending in ':' with at most this many words is a group label, not a criterion.
_MAX_LABEL_WORDS = 6
_SUB_STYLES = frozenset({"o", "letter"})


def _canonical_cohort(name: str) -> str:
    """Map a cohort name as written to its short canonical form; unknown names stay as written."""
    name = name.strip().rstrip(":.").strip()
    for canonical, pattern in _COHORT_ALIASES:
        if re.fullmatch(pattern, name):
            return canonical
    return name


def cohort_slug(name: str) -> str:
    """The id-safe form of a cohort name: 'DM/PM' -> 'dm-pm', 'SSc' -> 'ssc'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "cohort"


@dataclass
class _Item:
    cohort: str | None
    heading_kind: Kind
    text: str
    line: int
    number: str | None
    style: str | None
    indent: int
    child_style: str | None = None
    pending_connector: bool = False


@dataclass
class _State:
    cohort: str | None = None
    kind: Kind = "inclusion"
    list_style: tuple[str, int] | None = None
    items: list[_Item] = field(default_factory=list)
    current: _Item | None = None
    blank_before: bool = False
    label: str | None = None
    label_used: bool = False
    label_line: int = 0
    heading_lines: dict[tuple[str | None, Kind], int] = field(default_factory=dict)

    def flush_label(self) -> None:
        """A label that no item used is kept as a criterion of its own, so no source text is lost."""
        if self.label and not self.label_used:
            self.items.append(_Item(self.cohort, self.kind, self.label, self.label_line, None, None, 0))
        self.label = None
        self.label_used = False

    def heading(self, kind: str, cohort: str | None, line: int) -> None:
        self.flush_label()
        self.kind = "inclusion" if kind.lower() == "inclusion" else "exclusion"
        if cohort is not None:
            self.cohort = _canonical_cohort(cohort)
        self.heading_lines.setdefault((self.cohort, self.kind), line)
        self.list_style = None
        self.current = None

    def cohort_header(self, cohort: str, line: int) -> None:
        self.flush_label()
        self.cohort = _canonical_cohort(cohort)
        self.heading_lines.setdefault((self.cohort, self.kind), line)
        self.list_style = None
        self.current = None

    def new_item(self, text: str, line: int, number: str | None, style: str | None, indent: int) -> None:
        # Under a group label ("Hepatic:") the label is part of what the item says ("Hepatic: Bilirubin < 2").
        if self.label:
            text = f"{self.label} {text}"
            self.label_used = True
        item = _Item(self.cohort, self.kind, text, line, number, style, indent)
        self.items.append(item)
        self.current = item


def _strip_marker(text: str, previous: _Item | None, glued_o: bool) -> tuple[str, str | None, str | None, str | None]:
    """Split a line into (content, style, number label, child marker as written).

    `glued_o` says the document writes "o" sub-bullets elsewhere; only then can "oat least 4 …" after a
    colon be a glued sub-bullet rather than a word such as "orally".
    """
    bullet = None
    while m := _BULLET.match(text):
        bullet = m.group().strip()
        text = text[m.end() :]
    if m := _NUMBER.match(text):
        label = f"({m['p']})" if m["p"] else (m["d"] if m["d"] else f"{m['r']})")
        style = "paren" if m["p"] else ("dot" if m["d"] else "rparen")
        return text[m.end() :], style, label, text[: m.end()].strip()
    if m := _LETTER.match(text):
        return text[m.end() :], "letter", None, text[: m.end()].strip()
    if m := _O_SPACED.match(text) or _O_GLUED_UPPER.match(text):
        return text[m.end() :], "o", None, "o"
    if (
        glued_o
        and (m := _O_GLUED_LOWER.match(text))
        and previous is not None
        and (previous.text.rstrip().endswith((":", ";", ",", " or", " and")) or previous.child_style == "o")
    ):
        return text[m.end() :], "o", None, "o"
    if bullet is not None:
        return text, f"bullet{bullet}", None, bullet
    return text, None, None, None


def _split_midline_heading(text: str) -> tuple[str, str, str | None, str] | None:
    """Find a heading inside a line: (text before, kind word, cohort or None, text after)."""
    if m := _MIDLINE_COHORT_HEADING.match(text):
        return m["pre"], m["kw"], m["cohort"], m["rest"]
    if m := _MIDLINE_BARE_HEADING.match(text):
        return m["pre"], m["kw"], None, m["rest"]
    return None


def _whole_line_heading(state: _State, text: str, line: int) -> str | None:
    """Apply a heading that fills the line; returns the rest of the line to parse, '' if none."""
    if (m := _HEADING_LINE.match(text)) and len((m["cohort"] or "").split()) <= _MAX_COHORT_WORDS:
        state.heading(m["kw"], m["cohort"], line)
        return ""
    if m := _HEADING_WITH_ITEM.match(text):
        state.heading(m["kw"], None, line)
        return m["rest"]
    if (m := _LETTER_COHORT.match(text)) or (m := _NAMED_COHORT.match(text)):
        state.cohort_header(m["cohort"], line)
        return ""
    return None


def _is_group_label(state: _State, text: str) -> bool:
    """An unmarked short line ending in ':' on its own ("Age:", "DISEASE CHARACTERISTICS:") labels the
    items below it, unless it merely continues a wrapped item."""
    starts_fresh = state.current is None or state.blank_before
    return starts_fresh and text.endswith(":") and len(text.split()) <= _MAX_LABEL_WORDS


def _add_content(
    state: _State, text: str, line: int, style: str | None, number: str | None, marker: str | None, indent: int
) -> None:
    """Attach one piece of criterion text: a new criterion, a sub-item or a wrapped continuation."""
    current = state.current
    if not text:
        return
    if current is not None and _CONNECTOR.match(text):
        current.text += "\n" + text
        current.pending_connector = True
        return
    if style is None and _is_group_label(state, text):
        # Nested labels ("PATIENT CHARACTERISTICS:" then "Age:") add up until an item uses them.
        if state.label and not state.label_used:
            state.label = f"{state.label} {text}"
        else:
            state.label, state.label_line = text, line
        state.label_used = False
        state.current = None
        return
    if style is None:
        wraps = current is not None and (
            not state.blank_before
            and (current.style is not None or not current.text.rstrip().endswith((".", ";", ":")) or text[0].islower())
            or state.blank_before
            and text[0].islower()
        )
        if current is not None and (wraps or current.pending_connector):
            joiner = "\n" if current.text.rstrip().endswith(":") or current.pending_connector else " "
            current.text += joiner + text
            current.pending_connector = False
        else:
            state.new_item(text, line, None, None, indent)
        return
    shown = f"{marker} {text}" if marker else text
    if current is not None and state.list_style is not None:
        top_style, top_indent = state.list_style
        same_as_top = style == top_style and indent <= top_indent
        is_child = not same_as_top and (
            style in _SUB_STYLES
            or indent > top_indent
            or current.text.rstrip().endswith(":")
            or current.pending_connector
            or style == current.child_style
        )
        if same_as_top and current.pending_connector:
            is_child = True
        if is_child:
            current.text += "\n" + shown
            current.child_style = style
            current.pending_connector = False
            return
    if current is not None and state.list_style is None and style in _SUB_STYLES:
        current.text += "\n" + shown
        current.child_style = style
        return
    if state.list_style is None:
        state.list_style = (style, indent)
    state.new_item(text, line, number, style, indent)


def _parse_segment(
    state: _State, text: str, line: int, style: str | None, number: str | None, marker: str | None, indent: int
) -> None:
    """Parse one line's content, splitting off headings found at its start or in its middle."""
    rest = _whole_line_heading(state, text, line)
    if rest is not None:
        if rest:
            _parse_segment(state, rest, line, None, None, None, indent)
        return
    split = _split_midline_heading(text)
    if split is None:
        _add_content(state, text, line, style, number, marker, indent)
        return
    pre, kind_word, cohort, after = split
    _add_content(state, pre, line, style, number, marker, indent)
    state.heading(kind_word, cohort, line)
    if after:
        _parse_segment(state, after, line, None, None, None, indent)


def _scan(text: str, first_line: int) -> _State:
    state = _State()
    lines = split_lines(text)
    glued_o = any(_O_BULLET_LINE.match(clean(raw)) for raw in lines)
    for offset, raw in enumerate(lines):
        line = first_line + offset
        content = clean(raw)
        if not content:
            state.blank_before = True
            continue
        indent = len(raw) - len(raw.lstrip(" \t\u00a0"))
        body, style, number, marker = _strip_marker(content, state.current, glued_o)
        body = body.strip()
        if body:
            _parse_segment(state, body, line, style, number, marker, indent)
        state.blank_before = False
    state.flush_label()
    return state


# Legacy (PDQ) records flow a whole section into one paragraph: "PATIENT CHARACTERISTICS: Age: 18 to 65
# Performance status: ECOG 0-1 Hepatic: Bilirubin normal Renal: Creatinine normal No prior chemotherapy".
_LEGACY_HEADING = re.compile(r"^[A-Z][A-Z ,/&-]{3,}:\s")
# A field label inside the flowed text ("Performance status:", "Biologic therapy:", "Hepatic/Renal:").
_LINE_MARK = "\u2063"  # invisible separator: where a joined legacy line began (never in source text)
_LABEL = r"[A-Z][a-z]+(?:[ -][a-z]+)?(?:/[A-Z][a-z]+)?"
_INLINE_LABEL = re.compile(rf"(?<=\S)\s+(?={_LABEL}:\s)")
# "… without metastases No prior treatment …": a new negative item begins mid-line.
_INLINE_NO = re.compile(r"(?<=[a-z0-9%)\]])\s+(?=No\s+[a-z])")


def _join_legacy_paragraphs(text: str) -> str:
    """A flowed legacy section on one line (so it is one item to `_split_legacy`), padded with the newlines
    it lost so that every later line keeps its number; `_LINE_MARK` keeps where its own lines began."""
    blocks = re.split(r"(\n[ \t]*\n)", text)
    out = []
    for block in blocks:
        lines = block.split("\n")
        if (
            len(lines) > 1
            and _LEGACY_HEADING.match(lines[0].strip() + " ")
            and not any(_BULLET.match(ln.strip()) or _NUMBER.match(ln.strip()) for ln in lines[1:])
        ):
            block = f" {_LINE_MARK} ".join(ln.strip() for ln in lines) + "\n" * (len(lines) - 1)
        out.append(block)
    return "".join(out)


def _split_legacy(item: _Item) -> list[_Item]:
    """One item per field and per "No …" item of a flowed legacy section, each under its field label.

    The section heading stays on the first piece and every piece keeps the label it was written under
    ("Cardiovascular: No history of pericarditis"), so no words are lost; the line is where the piece
    mostly stands in the source.
    """
    if _LINE_MARK not in item.text:
        return [item]  # not a paragraph `_join_legacy_paragraphs` joined: its lines are not known
    segments = re.split(rf"\s*{_LINE_MARK}\s*", item.text)
    text = " ".join(segments)
    line_starts = [sum(len(seg) + 1 for seg in segments[:i]) for i in range(1, len(segments))]
    item.text = text
    if not _LEGACY_HEADING.match(text):
        return [item]
    heading_end = text.index(":") + 1
    cuts = sorted(
        {m.end() for m in _INLINE_LABEL.finditer(text, heading_end)}
        | {m.end() for m in _INLINE_NO.finditer(text, heading_end)}
    )
    # A label right after the heading belongs to the first piece ("PATIENT CHARACTERISTICS: Age: …").
    cuts = [c for c in cuts if text[heading_end:c].strip()]
    if not cuts:
        return [item]
    pieces, label = [], None
    for start, end in zip([0, *cuts], [*cuts, len(text)], strict=True):
        piece = text[start:end].strip()
        m = re.match(rf"(?P<label>{_LABEL}):\s", piece) if start else None
        if m:
            label = m.group("label")
        elif start and label:
            piece = f"{label}: {piece}"
        # The source line holding most of the piece (a piece may begin with a word or two at a line's end).
        bounds = [0, *line_starts, len(text)]
        share = [min(end, b) - max(start, a) for a, b in zip(bounds, bounds[1:], strict=False)]
        line = item.line + share.index(max(share))
        pieces.append(
            _Item(
                item.cohort, item.heading_kind, piece, line, item.number if not start else None, item.style, item.indent
            )
        )
    return pieces


def parse_criteria_text(trial_id: str, text: str, first_line: int = 1) -> tuple[list[Cohort], list[DataWarning]]:
    """Split eligibility text into cohorts of atomic criteria and check its data quality.

    `first_line` is the 1-based line of `text` in the source document, so each `Criterion.line` points
    into the source. Swapped Inclusion/Exclusion headings are corrected in `Criterion.kind`
    (`heading_kind` keeps what the source said) and reported, as are lost comparison characters and
    gaps in numbered lists.
    """
    state = _scan(_join_legacy_paragraphs(text), first_line)
    state.items = [piece for item in state.items for piece in _split_legacy(item)]
    order: list[str | None] = []
    lists: dict[tuple[str | None, Kind], list[_Item]] = {}
    for item in state.items:
        if item.cohort not in order:
            order.append(item.cohort)
        lists.setdefault((item.cohort, item.heading_kind), []).append(item)

    warnings: list[DataWarning] = []
    named = any(name is not None for name in order)
    cohorts: list[Cohort] = []
    for name in order:
        as_inclusion = lists.get((name, "inclusion"), [])
        as_exclusion = lists.get((name, "exclusion"), [])
        swapped = quality.headings_swapped([i.text for i in as_inclusion], [i.text for i in as_exclusion])
        if swapped:
            where = f"cohort {name}" if name else "the criteria"
            line = state.heading_lines.get((name, "inclusion"), as_inclusion[0].line)
            warnings.append(
                DataWarning(
                    code="swapped_headings",
                    message=(
                        f"{trial_id}: the Inclusion and Exclusion headings of {where} appear swapped: the list "
                        f"under 'Inclusion' reads as exclusions and the list under 'Exclusion' as the disease "
                        f"definition; kinds were corrected, headings kept as written."
                    ),
                    line=line,
                )
            )
        prefix = f"{trial_id}:eligibility." + (f"{cohort_slug(name or 'general')}." if named else "")

        def build(items: list[_Item], kind: Kind, prefix: str = prefix, name: str | None = name) -> list[Criterion]:
            return [
                Criterion(
                    id=f"{prefix}{kind}:{n}",
                    trial_id=trial_id,
                    cohort=name,
                    kind=kind,
                    heading_kind=item.heading_kind,
                    text=item.text,
                    line=item.line,
                    number=item.number,
                )
                for n, item in enumerate(items, start=1)
            ]

        if swapped:
            cohort = Cohort(
                name=name, inclusion=build(as_exclusion, "inclusion"), exclusion=build(as_inclusion, "exclusion")
            )
        else:
            cohort = Cohort(
                name=name, inclusion=build(as_inclusion, "inclusion"), exclusion=build(as_exclusion, "exclusion")
            )
        cohorts.append(cohort)
        for heading_kind, items in (("inclusion", as_inclusion), ("exclusion", as_exclusion)):
            label = f"{heading_kind} list" + (f" of cohort {name}" if name else "")
            warnings.extend(quality.numbering_gap_warnings(trial_id, label, [(i.number, i.line) for i in items]))
        warnings.extend(quality.lost_character_warnings([*cohort.inclusion, *cohort.exclusion]))
    return cohorts, warnings
