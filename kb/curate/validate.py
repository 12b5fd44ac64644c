"""Checking curation YAML given as text (a request body, a form): a whole curation file, or one evidence
item or a list of items of a named source, validated against the seeds exactly as `kb curate validate`
checks a file (every problem reported), without writing anything anywhere.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

from kb.core.errors import CurationProblems, Problem

WRAPPED_LINES = 4  # the header lines put above pasted items (source, curator, curated_at, evidence)


@dataclass(frozen=True)
class _MemoryFile:
    """What the seed loader reads of a curation file's path, for text that exists only in memory."""

    name: str
    text: str
    parent: Path = Path("/nonexistent-in-memory")

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.text

    def __str__(self) -> str:
        return self.name


def _shape(text: str, label: str) -> str:
    """'file' (a mapping with `evidence`), 'item' (one mapping) or 'items' (a list of mappings)."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return "file"  # the seed loader reports the syntax error with its line
    if isinstance(data, dict) and "evidence" not in data and "source" not in data:
        return "item"
    if isinstance(data, list):
        return "items"
    if data is None:
        raise CurationProblems([Problem(label, 1, "file", "expected a curation file or an evidence item, got an empty text")])
    return "file"


def validate_text(text: str, label: str = "body", source: str | None = None, seeds: Path | None = None,
                  existing_ids: dict[str, str] | None = None) -> dict:
    """{"ok", "file", "kind", "evidence", "links", "message"} when `text` passes; else CurationProblems with
    every problem as `label:line: field: problem` (lines of `text` itself), as `kb curate validate` reports
    them. Items need `source`; an item whose id is in `existing_ids` (id -> where) is refused as a duplicate."""
    from ingest.validate import validate_file
    from kb.core.paths import bundled_seeds

    kind = _shape(text, label)
    offset = 0
    problems: list[Problem] = []
    if kind != "file":
        if not source:
            raise CurationProblems([Problem(label, 1, "source", "evidence items need the source they quote (source=ID)")])
        lines = text.strip("\n").splitlines()
        body = ("\n".join(("  - " if i == 0 else "    ") + line for i, line in enumerate(lines)) if kind == "item"
                else "\n".join("  " + line for line in lines))
        text = (f"source: {source}\ncurator: validation\ncurated_at: {dt.date.today().isoformat()}\nevidence:\n"
                f"{body}\n")
        offset = WRAPPED_LINES
        if existing_ids:
            import yaml

            items = yaml.safe_load(text)["evidence"] or []
            for i, item in enumerate(items):
                if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"] in existing_ids:
                    problems.append(Problem(label, _first_line(lines, i), f"evidence[{i}].id",
                                            f"evidence id {item['id']!r} already exists ({existing_ids[item['id']]}); "
                                            "expected a new id"))
    try:
        result = validate_file(_MemoryFile(label, text), seeds or bundled_seeds())
    except CurationProblems as exc:
        problems += [replace(p, line=max(1, p.line - offset)) if p.file == label and offset else p for p in exc.problems]
    if problems:
        raise CurationProblems(problems)
    plural = lambda n, word: f"{n} {word}{'' if n == 1 else 's'}"  # noqa: E731
    return {"ok": True, "file": label, "kind": kind, "evidence": result.evidence, "links": result.links,
            "message": f"ok: {label}: {plural(result.evidence, 'evidence item')}, {plural(result.links, 'link')}"}


def _first_line(lines: list[str], index: int) -> int:
    """The 1-based line where the index-th top-level list item of `lines` starts."""
    starts = [n for n, line in enumerate(lines, 1) if line.startswith("- ")]
    return starts[index] if index < len(starts) else 1
