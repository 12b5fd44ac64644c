"""Seeds -> knowledge base: read, validate and resolve everything in memory, then write it in one go."""
from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from ingest import cited_works, spans
from ingest.curation import Curated, Texts, curation_paths, load_curation
from ingest.dictionary import Dictionary, load_markers, load_vocabulary
from ingest.manifest import load_manifest
from ingest.pam_table import build_model
from ingest.seedfiles import CURATION_DIR, content_hash
from ingest.write import build_lock, check_writable, write_atomic
from kb.core.errors import CurationError
from kb.core.normalize import norm
from schemas.enums import SCHEMA_VERSION
from schemas.tables import KbMeta


@dataclass
class Bundle:
    """Every row of a knowledge base, in insertion order (parents before children)."""

    content: str
    groups: dict[str, list] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.groups.items()}


def load_seeds(seeds: Path, only: Path | None = None, problems: list | None = None) -> Bundle:
    """Read and validate a seeds directory; `only` restricts curation to one file (for `kb curate validate`).

    `problems`: a list to collect every problem of the curation files into instead of raising the first
    (the rest of the seeds is still checked strictly)."""
    if not seeds.is_dir():
        raise CurationError(f"{seeds}: seeds directory does not exist")
    sources, documents, manifest_file, manifest = load_manifest(seeds)
    dictionary = Dictionary()
    load_vocabulary(seeds, dictionary)
    load_markers(seeds, dictionary)
    texts = Texts(documents)
    _licence_spans(manifest_file, manifest, sources, texts)
    cited = cited_works.load(manifest_file, manifest, documents, texts)
    source_ids = {s.id for s in sources}
    curated = Curated()
    seen: dict[str, str] = {}
    paths = [only] if only is not None else curation_paths(seeds)
    for path in paths:
        display = f"{CURATION_DIR}/{path.name}" if path.parent.resolve() == (seeds / CURATION_DIR).resolve() else str(path)
        part = load_curation(path, display, dictionary, texts, source_ids, seen, cited, problems)
        curated.evidence.extend(part.evidence)
        curated.links.extend(part.links)
        curated.citations.extend(part.citations)
        curated.dismissals.extend(part.dismissals)

    # Stored in marker order, links in evidence order: one marker's rows share storage blocks.
    curated.evidence.sort(key=lambda e: (e.marker_id, e.id))
    curated.links.sort(key=lambda link: (link.marker_id, link.evidence_id, link.document_id, link.start))
    marker_by_norm = {a.norm: a.marker_id for a in dictionary.aliases}
    models, genes = [], []
    for si, src in enumerate(manifest.sources):
        for mi, spec in enumerate(src.pam_models):
            loc = ("sources", si, "pam_models", mi)
            marker_id = None
            if spec.marker is not None:
                marker_id = marker_by_norm.get(norm(spec.marker))
                if marker_id is None:
                    raise manifest_file.error(loc + ("marker",), f"unknown marker {spec.marker!r}")
            model, model_genes = build_model(manifest_file, loc, spec, src.id, marker_id, texts)
            models.append(model)
            genes.extend(model_genes)

    bundle = Bundle(content=content_hash(seeds))
    bundle.groups = {
        "source": sources, "document": documents, "marker": dictionary.markers,
        "marker_alias": dictionary.aliases, "marker_code": dictionary.codes, "term": dictionary.terms,
        "term_alias": dictionary.term_aliases, "cited_work": cited.works, "cited_work_link": cited.links,
        "evidence": curated.evidence, "evidence_link": curated.links, "evidence_citation": curated.citations,
        "dismissal": curated.dismissals, "pam_model": models, "pam_gene": genes,
    }
    return bundle


def _licence_spans(located, manifest, sources, texts: Texts) -> None:
    """A licence is recorded only with the sentence of the text that states it, stored as its exact span."""
    by_id = {s.id: s for s in sources}
    for si, spec in enumerate(manifest.sources):
        if not spec.license_quote:
            continue
        for doc in texts.of_source(spec.id):
            span = spans.find(spec.license_quote, texts.folded(doc), doc.text)
            if span is not None:
                row = by_id[spec.id]
                row.license_document_id, row.license_start, row.license_end = doc.id, span.start, span.end
                row.license_quote = doc.text[span.start:span.end]
                break
        else:
            raise located.error(("sources", si, "license_quote"), f"the licence quote is not in any rendition of {spec.id}")


def derive_read_model(con) -> None:
    """Render every item with the query layer's own renderer (kb.core.items) (so the read model cannot disagree with it), one pass,
    grouped by marker; the global strongest-first order is each marker's order too."""
    from kb.core import store
    from kb.core.items import Filters, fetch_evidence

    by_marker: dict[str, list] = {}
    for item in fetch_evidence(con, *Filters(status="all").sql()):
        by_marker.setdefault(item["marker_id"], []).append(item)
    store.write_marker_evidence(con, [(mid, len(items), json.dumps(items, ensure_ascii=False, separators=(",", ":")))
                                      for mid, items in sorted(by_marker.items())])


@dataclass
class BuildReport:
    db: Path
    content: str
    counts: dict[str, int]
    seconds: float


def seeds_origin(seeds: Path) -> str:
    """What kb_meta records as the seeds a database was built from: "bundled", or the directory's path."""
    from kb.core.paths import bundled_seeds

    resolved = Path(seeds).resolve()
    return "bundled" if resolved == bundled_seeds().resolve() else str(resolved)


def _derive_and_seal(con) -> None:
    from kb.core import store

    derive_read_model(con)
    store.write_meta(con, "rows_hash", store.rows_digest(con))  # over the final rows, read model included


def build(seeds: Path, db: Path, *, managed: bool = False, wait: bool = False) -> BuildReport:
    """Build the knowledge base at `db` from `seeds`; on any error the existing `db` is left as it was.

    kb_meta records the seeds it was built from (`seeds`: "bundled" or a path, with their content hash)
    and a digest of its rows. One build per target at a time: a concurrent one is refused with one line
    (`wait`: it waits instead, as the build on first use does)."""
    started = time.perf_counter()
    check_writable(db, managed)
    with build_lock(db, wait=wait):
        check_writable(db, managed)  # again: the target may have changed while we waited for the lock
        bundle = load_seeds(seeds)
        counts = bundle.counts()
        meta = [
            KbMeta(key="schema_version", value=str(SCHEMA_VERSION)),
            KbMeta(key="content_hash", value=bundle.content),
            KbMeta(key="seeds", value=seeds_origin(seeds)),
            KbMeta(key="built_at", value=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")),
            KbMeta(key="counts", value=json.dumps(counts, sort_keys=True)),
        ]
        write_atomic(db, [*bundle.groups.values(), meta], derive=_derive_and_seal)
    return BuildReport(db=db, content=bundle.content, counts=counts, seconds=time.perf_counter() - started)
