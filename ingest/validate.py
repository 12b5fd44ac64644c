"""`kb curate validate FILE`: check one curation file (schema, vocabularies, quotes) without building, and
report every problem it has, not only the first."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.build import load_seeds
from kb.core.errors import CurationProblems, Problem


@dataclass
class Validation:
    file: str
    evidence: int
    links: int


def validate_file(path: Path, seeds: Path) -> Validation:
    """Count what the file holds; raise CurationProblems (each `file:line: field: problem`, in line order)
    when it has any problem. A problem of the seeds themselves (the manifest, a vocabulary) raises
    CurationError as the build does."""
    problems: list[Problem] = []
    bundle = load_seeds(seeds, only=path, problems=problems)
    if problems:
        raise CurationProblems(problems)
    return Validation(str(path), len(bundle.groups["evidence"]), len(bundle.groups["evidence_link"]))
