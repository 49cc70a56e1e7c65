"""The import graph of the project's packages: layers point one way and no two packages import each other.

Every import counts, including the ones inside functions (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast

from trialfinder.settings import PROJECT_ROOT

PACKAGES = ("trialfinder", "ingest", "vectorstore", "eligibility", "app", "evals", "benchmarks")

# Package -> project packages it may import. Lower layers first; nothing imports upward.
ALLOWED: dict[str, set[str]] = {
    "trialfinder": set(),
    "ingest": {"trialfinder"},
    "vectorstore": {"trialfinder", "ingest"},
    "eligibility": {"trialfinder", "ingest"},
    "app": {"trialfinder", "ingest", "vectorstore", "eligibility"},
    "evals": {"trialfinder", "ingest", "vectorstore", "eligibility", "app"},
    "benchmarks": {"trialfinder", "ingest", "vectorstore", "eligibility", "app", "evals"},
}
# The command line is the composition root: `trialfinder eval` hands over to the eval runner, which sits
# above app/. It is the one module allowed to import upward.
ENTRY_POINTS = {"app/cli.py"}
# Modules a package must not import although their package is allowed: the index and the checker read
# typed records, never the readers of sources or the parsers (that orchestration lives in app/indexer.py);
# the checker does not depend on the chunker either (the passages both cite are in ingest/passages.py).
FORBIDDEN_MODULES: dict[str, tuple[str, ...]] = {
    "vectorstore": ("ingest.sources", "ingest.formats", "ingest.criteria", "ingest.chunking"),
    "eligibility": ("ingest.sources", "ingest.formats", "ingest.chunking"),
}


def imports_of(package: str) -> dict[str, set[str]]:
    """Module path -> every project module it imports (absolute names)."""
    out: dict[str, set[str]] = {}
    for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        out[str(path.relative_to(PROJECT_ROOT))] = {n for n in names if n.split(".")[0] in PACKAGES}
    return out


def package_graph() -> dict[str, set[str]]:
    return {
        package: {
            name.split(".")[0]
            for module, names in imports_of(package).items()
            if module not in ENTRY_POINTS
            for name in names
        }
        - {package}
        for package in PACKAGES
    }


def test_no_cycle_between_packages():
    graph = package_graph()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in graph[start])

    cycles = [p for p in PACKAGES if reaches(p, p, {p})]
    assert not cycles, f"packages in an import cycle: {cycles} ({graph})"


def test_each_package_imports_only_lower_layers():
    wrong = {
        package: sorted(deps - ALLOWED[package]) for package, deps in package_graph().items() if deps - ALLOWED[package]
    }
    assert not wrong, f"imports against the layers: {wrong}"


def test_index_and_checker_do_not_import_readers_parsers_or_chunker():
    wrong = [
        f"{module} imports {name}"
        for package, banned in FORBIDDEN_MODULES.items()
        for module, names in imports_of(package).items()
        for name in names
        if name.startswith(banned)
    ]
    assert not wrong, wrong


def test_the_checker_spells_no_chunk_ids():
    """Its citations come from the Trial (criterion ids) and ingest.passages, never from ids it builds."""
    for path in (PROJECT_ROOT / "eligibility").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for fragment in (":eligibility.facts:", ":eligibility:", ".inclusion:", ".exclusion:"):
            assert fragment not in text, f"{path.name} spells a chunk id ({fragment!r})"


def test_the_graph_sees_imports_inside_functions():
    assert "app.indexer" in imports_of("app")["app/cli.py"]  # imported lazily, inside the commands
    assert {"trialfinder.ids", "ingest.text"} <= imports_of("vectorstore")["vectorstore/index.py"]
