"""The layering of docs/design.md as a checked contract: every import (module level or inside a function)
goes down the layers, and no modules import each other in a circle.

    cli, web  ->  kb.curate | kb.evaluate  ->  kb.pam  ->  kb.query  ->  ingest  ->  kb.core  ->  schemas

`kb.evaluate` and `kb.curate` are siblings and do not import each other. The build on first use is the
one place where the query side reaches `ingest` (a call down the layers): only `kb.query.database` may.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["schemas", "kb", "ingest", "cli", "web", "benchmarks"]
# (prefix, rank): the longest matching prefix gives a module's layer
LAYERS = [("schemas", 0), ("kb.core", 1), ("ingest", 2), ("kb.query", 3), ("kb.pam", 4), ("kb.evaluate", 5),
          ("kb.curate", 5), ("kb", 5), ("cli", 6), ("web", 6), ("benchmarks", 7)]
BUILD_ON_FIRST_USE = "kb.query.database"


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _layer(module: str) -> tuple[str, int]:
    for prefix, rank in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return prefix, rank
    raise AssertionError(f"module {module} belongs to no layer")


def _imports(module: str, path: Path) -> set[str]:
    """Every project module `module` imports, anywhere in its body (`from a import b` counts a.b when b
    is a module of ours, else a)."""
    out = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    if module.startswith("benchmarks"):  # the scripts import their siblings by bare name (sys.path)
        out = {f"benchmarks.{name}" if f"benchmarks.{name}" in MODULES else name for name in out}
    return {name for name in out if name in MODULES and name != module}


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def test_the_layout_is_found():
    assert {"kb.core.store", "kb.query.api", "kb.pam.engine", "kb.evaluate.evaluator", "kb.curate.check",
            "ingest.build", "cli.main"} <= set(MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module):
    prefix, rank = _layer(module)
    for target in sorted(GRAPH[module]):
        target_prefix, target_rank = _layer(target)
        if target_prefix == prefix:
            continue
        if prefix.startswith("kb.query") and target_prefix == "ingest":
            assert module == BUILD_ON_FIRST_USE, f"{module} imports {target}: only {BUILD_ON_FIRST_USE} may build"
            continue
        assert target_rank < rank, f"{module} (layer {prefix}) imports {target} (layer {target_prefix})"


def test_kb_core_imports_only_schemas_and_itself():
    for module, targets in GRAPH.items():
        if module.startswith("kb.core"):
            assert all(t.startswith(("kb.core", "schemas")) for t in targets), (module, targets)


def test_no_import_circles():
    """Tarjan's strongly connected components over the module graph: every component is one module."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert circles == []


def test_a_circle_would_be_found(monkeypatch):
    """The check itself can fail: a made-up back edge from kb.core.store to kb.query.api is a circle."""
    monkeypatch.setitem(GRAPH, "kb.core.store", GRAPH["kb.core.store"] | {"kb.query.api"})
    with pytest.raises(AssertionError):
        test_no_import_circles()
    with pytest.raises(AssertionError):
        test_imports_go_down_the_layers("kb.core.store")
