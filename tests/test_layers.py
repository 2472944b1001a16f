"""The shape of the code: engine <- runs <- dashboard and pages, no cycles.

Every module's imports are read from its source (function-local ones too, since
an import inside a function is still a dependency), so the rule holds for code
paths no other test happens to run.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import PROJECT_ROOT

ENGINE, RUNS = "core.engine", "core.runs"
ENTRY_POINTS = {"core.train", "core.predict", "core.sweep", "core.evaluate"}
RAY_MODULE = "core.runs.sweeps.ray_tune"  # the one module that may import Ray


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, package: str) -> set[str]:
    """Every module `source` imports, anywhere in it; `from pkg import name` counts as
    pkg.name when that is a module of ours (checked later against the known modules)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def project_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (core, dashboard, pages)."""
    graph = {}
    for folder in ("core", "dashboard", "pages"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            name = module_name(path)
            package = name if path.name == "__init__.py" else name.rpartition(".")[0]
            graph[name] = imports_of(path.read_text(), package)
    return graph


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle in the graph as a list of modules, or None."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
            if nxt not in state:
                cycle = visit(nxt, path + [nxt])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for start in sorted(edges):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return None


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Every (module, rule) the imports break, once each."""
    found = set()
    for module, imported in graph.items():
        for target in imported:
            top = target.split(".")[0]
            if module.startswith(ENGINE) and (target.startswith(RUNS) or target in ENTRY_POINTS
                                              or top in ("dashboard", "streamlit", "ray")):
                found.add(f"{module}: the engine imports {'.'.join(target.split('.')[:2])}")
            if module.startswith(RUNS) and (target in ENTRY_POINTS or top in ("dashboard", "streamlit")):
                found.add(f"{module}: the runs layer imports {target}")
            if module.startswith("core") and top == "streamlit":
                found.add(f"{module}: core imports streamlit")
            if top == "ray" and module != RAY_MODULE:
                found.add(f"{module}: imports ray (only {RAY_MODULE} may)")
    return sorted(found)


def test_imports_point_one_way_and_ray_has_one_home():
    graph = project_graph()
    assert {"core.engine.trainer", "core.runs.store", "dashboard.cached", RAY_MODULE} <= set(graph)
    assert violations(graph) == []


def test_no_import_cycle_anywhere():
    graph = project_graph()
    ours = {m: {t for t in targets if t in graph and t != m} for m, targets in graph.items()}
    assert find_cycle(ours) is None, find_cycle(ours)


def test_the_checks_catch_what_they_look_for():
    """The rule and the cycle finder fail on a planted breach (so the two tests above can fail)."""
    planted = {
        "core.engine.models": imports_of("def f():\n    from core.runs.store import read_json\n", "core.engine"),
        "core.runs.store": imports_of("import ray\n", "core.runs"),
        "core.engine.data": imports_of("import streamlit as st\n", "core.engine"),
    }
    assert len(violations(planted)) == 4  # engine->runs, ray outside its module, engine->streamlit (x2 rules)
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_app_never_imports_the_sweep_process():
    """Pages learn whether Ray is installed from core.runs.sweeps.ray_extra; the sweep's
    own process (its driver and Ray side) is reached only through `python -m core.sweep`."""
    graph = project_graph()
    process = {"core.runs.sweeps.driver", RAY_MODULE}

    def reaches(module: str, seen: set[str]) -> set[str]:
        for target in graph.get(module, ()):
            if target in graph and target not in seen:
                seen.add(target)
                reaches(target, seen)
        return seen

    for module in graph:
        if module.split(".")[0] in ("dashboard", "pages"):
            assert not reaches(module, set()) & process, module
