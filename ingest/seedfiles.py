"""The files a seeds directory is made of, and the content hash that versions a build."""
from __future__ import annotations

import hashlib
from pathlib import Path

from schemas.enums import SCHEMA_VERSION

MANIFEST = "sources.yaml"
VOCABULARY = "vocabulary.yaml"
MARKERS_DIR = "markers"
CURATION_DIR = "curation"
PAPERS_DIR = "papers"


def seed_files(seeds: Path) -> list[Path]:
    """Every file whose bytes go into the knowledge base, in a stable order."""
    files = [seeds / MANIFEST, seeds / VOCABULARY]
    for sub, pattern in ((MARKERS_DIR, "*.yaml"), (CURATION_DIR, "*.yaml"), (PAPERS_DIR, "*")):
        files.extend(sorted(p for p in (seeds / sub).glob(pattern) if p.is_file() and not p.name.startswith(".")))
    return [p for p in files if p.exists()]


def content_hash(seeds: Path) -> str:
    """sha256 over (schema version, relative path, bytes) of every seed file: the data version."""
    digest = hashlib.sha256(f"schema:{SCHEMA_VERSION}\n".encode())
    for path in seed_files(seeds):
        data = path.read_bytes()
        digest.update(f"{path.relative_to(seeds).as_posix()}\n{len(data)}\n".encode())
        digest.update(data)
    return digest.hexdigest()[:16]
