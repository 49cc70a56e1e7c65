"""A comparison of trials side by side, for the clinician view: one column per trial, one row per aspect.

The table is laid out from the comparison answer itself, after verification: each trial's block opens with
its bold heading and lists cited lines ("- Minimum age: 18 Years [marker]"). Each line goes to the row of
the passage it cites (the record's age and sex fields, the first inclusion and exclusion criteria, study
groups, status, sites), keeping its citation, so every cell still quotes the passage it links to, and a
line the verifier dropped is absent here too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ingest.models import Citation

ROWS = ("Conditions", "Age", "Sex", "Key inclusions", "Key exclusions", "Intervention", "Status", "Sites")
_HEADING = re.compile(r"^\*\*(?P<trial>\S+) — (?P<title>.+?)\*\*")
_LINE = re.compile(r"^- (?P<text>.+?)\s*\[(?P<name>[^\[\]]+)\]\s*$")
# An inclusion line about age ("18 Years and older", "adults aged at least 18"), not any line with "years".
_AGE = re.compile(r"(?i)\b(?:aged?|years? (?:of age|old)|years? and (?:older|over|above)|adults?|children|pediatric)\b")


def row_of(section: str, text: str) -> str | None:
    """The table row of a line citing a passage of `section`; None for a line the table leaves out."""
    label = text.partition(":")[0].strip().lower()
    if section == "conditions":
        return "Conditions"
    if section == "eligibility.facts":
        return "Sex" if label == "sex" else "Age" if "age" in label else None
    if section.startswith("eligibility.") and section.endswith("inclusion"):
        return "Age" if _AGE.search(text) and len(text) < 120 else "Key inclusions"
    if section.startswith("eligibility.") and section.endswith("exclusion"):
        return "Key exclusions"
    if section in ("arms", "interventions"):
        return "Intervention"
    if section == "status":
        return "Status"
    if section in ("locations", "sponsor"):
        return "Sites"
    return None


def comparison_table(answer_text: str, sections: Mapping[str, Citation]) -> str | None:
    """The compared trials side by side as a Markdown table, or None when fewer than two trials are compared.

    `sections`: each citation marker name in the answer (the text inside its brackets) with its citation.
    """
    columns: dict[str, dict[str, list[tuple[str, str]]]] = {}
    current: dict[str, list[tuple[str, str]]] | None = None
    for line in answer_text.splitlines():
        if heading := _HEADING.match(line):
            current = columns.setdefault(heading["trial"], {})
            continue
        found = _LINE.match(line)
        citation = sections.get(found["name"]) if found else None
        if current is None or found is None or citation is None:
            continue
        row = row_of(citation.section, found["text"])
        if row is not None:
            current.setdefault(row, []).append((_cell(found["text"]), found["name"]))
    if len(columns) < 2:
        return None
    trials = list(columns)
    out = ["| | " + " | ".join(trials) + " |", "|---" * (len(trials) + 1) + "|"]
    for row in ROWS:
        cells = [_cited(columns[t].get(row, [])) or "not stated" for t in trials]
        out.append(f"| **{row}** | " + " | ".join(cells) + " |")
    return "\n".join(out)


def _cited(lines: list[tuple[str, str]]) -> str:
    """A cell's lines, each run of lines citing the same passage followed once by that passage's link."""
    out: list[str] = []
    for n, (text, name) in enumerate(lines):
        last_of_run = n + 1 == len(lines) or lines[n + 1][1] != name
        out.append(f"{text} {name}" if last_of_run else text)
    return "; ".join(out)


def _cell(text: str) -> str:
    """A line as a table cell: no pipe or line break ends the cell early."""
    return " ".join(text.replace("|", "\\|").split())
