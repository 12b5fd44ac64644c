"""Docs that cannot drift: every generated block matches what its command prints now, every command and
every HTTP endpoint has a doc entry, and every file a doc example names is in the repo."""
from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
import subprocess
import sys
from pathlib import Path


from cli.main import app

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _text(*names: str) -> str:
    return "\n".join((ROOT / n).read_text(encoding="utf-8") for n in names)


def test_generated_outputs_match_the_commands():
    """`cog --check` over README.md and docs/*.md (docs/cogrun.py runs the real commands)."""
    result = subprocess.run([sys.executable, str(ROOT / "docs" / "cogrun.py"), "--check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]


def _commands(group):
    """Every command's full name, from the walk test_cli.py already makes over the typer app."""
    from test_cli import _commands as walk  # tests/ is on sys.path (rootdir conftest, no package)

    return (name for name, _ in walk(group))


def test_every_command_has_a_section_in_the_cli_docs():
    headings = set(re.findall(r"^#{2,4} (kb [a-z -]+?)\s*$", _text("docs/cli.md"), flags=re.M))
    commands = set(_commands(app))
    assert {"kb query", "kb evaluate", "kb curate validate", "kb pam show"} <= commands
    assert not commands - headings, f"commands without a '## kb ...' section in docs/cli.md: {sorted(commands - headings)}"
    assert not headings - commands, f"docs/cli.md documents commands that do not exist: {sorted(headings - commands)}"


def _web_endpoints(monkeypatch, built_db) -> set[tuple[str, str]]:
    """(method, path) of every endpoint in the OpenAPI schema of every app the `web` package builds
    (`create_app()` or a module-level FastAPI app); none before `web` exists."""
    try:
        web = importlib.import_module("web")
    except ModuleNotFoundError:
        return set()
    from fastapi import FastAPI

    monkeypatch.setenv("KB_DB", str(built_db))
    apps = []
    for info in pkgutil.walk_packages(web.__path__, "web."):
        module = importlib.import_module(info.name)
        apps += [v for v in vars(module).values() if isinstance(v, FastAPI)]
        if callable(getattr(module, "create_app", None)) and module.create_app.__module__ == info.name:
            apps.append(module.create_app())
    return {(method.upper(), path) for a in apps for path, ops in a.openapi()["paths"].items()
            for method in ops if method.upper() in ("GET", "POST", "PUT", "PATCH", "DELETE")}


def test_every_http_endpoint_has_a_doc_entry(monkeypatch, built_db):
    """Each endpoint's path, as the OpenAPI schema spells it, appears in docs/ after its method (GET /v1/markers)."""
    docs = _text(*[str(p.relative_to(ROOT)) for p in DOCS])
    endpoints = _web_endpoints(monkeypatch, built_db)
    if importlib.util.find_spec("web") is not None:
        assert ("GET", "/v1/evidence") in endpoints  # the discovery itself works
    missing = sorted(f"{m} {p}" for m, p in endpoints if not re.search(rf"{m} {re.escape(p)}(?![\w/{{])", docs))
    assert not missing, f"HTTP endpoints without a doc entry (`METHOD /path` in docs/*.md): {missing}"


def test_every_file_an_example_names_is_in_the_repo():
    for doc in DOCS:
        for path in re.findall(r"\b((?:examples|tests/fixtures)/[\w./-]+\.\w+)", doc.read_text(encoding="utf-8")):
            assert (ROOT / path.rstrip(".")).exists(), f"{doc.name} uses {path}, which is not in the repo"


def test_examples_directory_holds_good_records_only(built_db):
    """`kb evaluate examples/` succeeds; the deliberately bad records live in examples/bad/ and each fails."""
    from kb.core.errors import KBError
    from kb.evaluate.evaluator import evaluate_path
    from kb.evaluate.records import RECORD_SUFFIXES

    summaries, _ = evaluate_path(ROOT / "examples", db=built_db)
    assert len(summaries) >= 2
    for bad in sorted((ROOT / "examples" / "bad").iterdir()):
        if bad.suffix in RECORD_SUFFIXES:  # bad curation files are under examples/bad/curation/
            try:
                evaluate_path(bad, db=built_db)
            except KBError:
                continue
            raise AssertionError(f"{bad} is in examples/bad/ but evaluates without an error")


def test_readme_stays_short_and_links_the_docs():
    readme = _text("README.md")
    assert len(readme.splitlines()) <= 255
    for target in ("docs/cli.md", "docs/evaluate.md", "docs/pam.md", "docs/curation.md", "docs/benchmarks.md",
                   "docs/design.md", "CHANGELOG.md", "LICENSE"):
        assert f"]({target}" in readme, target
        assert (ROOT / target).exists(), target
    assert "research use only" in readme.lower()
    assert "pip install . && kb query --marker LDH" in readme and 'pip install ".[test]" && pytest' in readme
