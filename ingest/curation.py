"""curation/<source>.yaml -> evidence rows and their links, every quote resolved to an exact span."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ingest import spans
from ingest.dictionary import Dictionary
from ingest.models import Located
from ingest.seedfiles import CURATION_DIR
from kb.core.normalize import norm
from schemas.curation import CurationFile, EvidenceIn
from schemas.tables import Document, Evidence, EvidenceLink


@dataclass
class Texts:
    """The documents of every source, folded once for quote matching."""

    documents: list[Document]
    _folded: dict[str, spans.Folded] = field(default_factory=dict)

    def of_source(self, source_id: str) -> list[Document]:
        return [d for d in self.documents if d.source_id == source_id]

    def folded(self, doc: Document) -> spans.Folded:
        if doc.id not in self._folded:
            self._folded[doc.id] = spans.fold(doc.text)
        return self._folded[doc.id]


@dataclass
class Curated:
    evidence: list[Evidence] = field(default_factory=list)
    links: list[EvidenceLink] = field(default_factory=list)


def curation_paths(seeds: Path) -> list[Path]:
    return sorted((seeds / CURATION_DIR).glob("*.yaml"))


def load_curation(path: Path, display: str, dictionary: Dictionary, texts: Texts, source_ids: set[str],
                  seen_ids: dict[str, str]) -> Curated:
    """Validate one curation file completely (schema, vocabularies, quotes) and return its rows."""
    located = Located(path, display)
    parsed = located.parse(CurationFile)
    if parsed.source not in source_ids:
        raise located.error(("source",), f"unknown source {parsed.source!r}; sources.yaml lists {sorted(source_ids)}")
    marker_by_norm = {a.norm: a.marker_id for a in dictionary.aliases}
    out = Curated()
    for i, item in enumerate(parsed.evidence):
        loc = ("evidence", i)
        where = f"{display}:{located.line(*loc, 'id')}"
        if item.id in seen_ids:
            raise located.error(loc + ("id",), f"duplicate evidence id {item.id!r} (first at {seen_ids[item.id]})")
        seen_ids[item.id] = where
        marker_id = marker_by_norm.get(norm(item.marker))
        if marker_id is None:
            raise located.error(loc + ("marker",), f"unknown marker {item.marker!r}; add it to markers/*.yaml or use an existing id")
        terms = {}
        for vocab, value in (("disease", item.disease), ("therapy", item.therapy), ("timepoint", item.timepoint)):
            term = dictionary.term(vocab, value)
            if term is None:
                raise located.error(loc + (vocab,), f"unknown {vocab} {value!r}; expected one of {dictionary.term_names(vocab)} or an alias in vocabulary.yaml")
            terms[vocab] = term
        out.evidence.append(_evidence_row(item, parsed, marker_id, terms, display, located.line(*loc, "id")))
        for qi, quote in enumerate(item.quotes):
            links = _resolve(quote, item.id, marker_id, texts.of_source(parsed.source), texts)
            if not links:
                short = quote if len(quote) <= 80 else quote[:77] + "..."
                raise located.error(loc + ("quotes", qi), f"quote not found in any rendition of {parsed.source}: {short!r}")
            out.links.extend(links)
    return out


def _resolve(quote: str, evidence_id: str, marker_id: str, documents: list[Document], texts: Texts) -> list[EvidenceLink]:
    links = []
    for doc in documents:
        span = spans.find(quote, texts.folded(doc), doc.text)
        if span is not None:
            links.append(EvidenceLink(evidence_id=evidence_id, document_id=doc.id, start=span.start, end=span.end,
                                      quote=doc.text[span.start:span.end], marker_id=marker_id))
    return links


def _evidence_row(item: EvidenceIn, parsed: CurationFile, marker_id: str, terms: dict, display: str, line: int) -> Evidence:
    rule, effect = item.rule, item.effect
    return Evidence(
        id=item.id, source_id=parsed.source, marker_id=marker_id, evidence_type=item.evidence_type,
        direction=item.direction, disease=terms["disease"].name, therapy=terms["therapy"].name,
        therapy_class=terms["therapy"].therapy_class, timepoint=terms["timepoint"].name, specimen=item.specimen,
        outcome=item.outcome,
        rule_operator=rule.operator if rule else None, rule_value=_f(rule.value) if rule else None,
        rule_value_high=_f(rule.value_high) if rule else None, rule_unit=rule.unit if rule else None,
        rule_reference=rule.reference if rule else None, rule_category=rule.category if rule else None,
        effect_measure=effect.measure if effect else None, effect_value=_f(effect.value) if effect else None,
        effect_ci_low=_f(effect.ci[0]) if effect and effect.ci else None,
        effect_ci_high=_f(effect.ci[1]) if effect and effect.ci else None,
        effect_p=effect.p if effect else None, effect_p_text=effect.p_text if effect else None,
        effect_text=effect.text if effect else None,
        effect_groups=json.dumps([g.model_dump() for g in effect.groups] if effect else [], ensure_ascii=False),
        n_patients=item.n_patients, level=item.level, cited_reference=item.cited_reference,
        statement=item.statement, status=item.status, curator=item.curator or parsed.curator,
        curated_at=item.curated_at or parsed.curated_at, curation_file=display, curation_line=line,
    )


def _f(value) -> float | None:
    return None if value is None else float(value)
