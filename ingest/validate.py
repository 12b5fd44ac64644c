"""`kb curate validate FILE`: check one curation file (schema, vocabularies, quotes) without building."""
from __future__ import annotations

import sys
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


if __name__ == "__main__":  # development aid: python -m ingest.validate FILE [SEEDS]
    from kb.errors import KBError

    try:
        result = validate_file(Path(sys.argv[1]), Path(sys.argv[2] if len(sys.argv) > 2 else "seeds"))
    except KBError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    print(f"ok: {result.file}: {result.evidence} evidence items, {result.links} links")
