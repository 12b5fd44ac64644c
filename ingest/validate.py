"""`kb curate validate FILE`: check one curation file (schema, vocabularies, quotes) without building."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.build import load_seeds


@dataclass
class Validation:
    file: str
    evidence: int
    links: int


def validate_file(path: Path, seeds: Path) -> Validation:
    """Raise CurationError (`file:line: field: problem`) on the first problem; otherwise count what it holds."""
    bundle = load_seeds(seeds, only=path)
    return Validation(str(path), len(bundle.groups["evidence"]), len(bundle.groups["evidence_link"]))

