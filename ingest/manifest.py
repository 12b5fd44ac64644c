"""sources.yaml -> source and document rows, each document verified against its recorded sha256."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ingest.models import Located
from ingest.seedfiles import MANIFEST
from schemas.curation import Manifest
from schemas.tables import Document, Source


def document_id(path: str) -> str:
    """'papers/shao2022.pdf.txt' -> 'shao2022.pdf': stable, readable, unique per file."""
    name = Path(path).name
    return name[: -len(".txt")] if name.endswith(".txt") else name


def load_manifest(seeds: Path) -> tuple[list[Source], list[Document], Located, Manifest]:
    located = Located(seeds / MANIFEST, MANIFEST)
    manifest = located.parse(Manifest)
    sources: list[Source] = []
    documents: list[Document] = []
    seen_sources: set[str] = set()
    seen_docs: set[str] = set()
    for si, src in enumerate(manifest.sources):
        if src.id in seen_sources:
            raise located.error(("sources", si, "id"), f"duplicate source id {src.id!r}")
        seen_sources.add(src.id)
        sources.append(Source(
            id=src.id, title=src.title, authors=json.dumps(src.authors, ensure_ascii=False), journal=src.journal,
            year=src.year, doi=src.doi, pmid=src.pmid, kind=src.kind, license=src.license, note=src.note,
        ))
        for di, doc in enumerate(src.documents):
            loc = ("sources", si, "documents", di)
            file = seeds / doc.path
            if not file.is_file():
                raise located.error(loc + ("path",), f"no such file {doc.path!r} under seeds/")
            data = file.read_bytes()
            actual = hashlib.sha256(data).hexdigest()
            if actual != doc.sha256:
                raise located.error(loc + ("sha256",), f"{doc.path} has sha256 {actual}, the manifest records {doc.sha256}")
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise located.error(loc + ("path",), f"{doc.path} is not UTF-8 text (byte {exc.start})") from None
            doc_id = document_id(doc.path)
            if doc_id in seen_docs:
                raise located.error(loc + ("path",), f"two documents would share the id {doc_id!r}")
            seen_docs.add(doc_id)
            documents.append(Document(
                id=doc_id, source_id=src.id, path=doc.path, original_name=doc.original_name, sha256=actual,
                format=doc.format, n_chars=len(text), text=text,
            ))
    return sources, documents, located, manifest
