"""curation/<source>.yaml -> evidence rows, their links and dismissals, every quote resolved to an exact span.

A quote must be stated exactly once in a rendition, or the item says which occurrence it means
(`{text: ..., occurrence: N}`): a quote found twice would otherwise link whichever came first.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ingest import spans
from ingest.cited_works import ReferenceLists, parse_numbers
from ingest.dictionary import Dictionary
from ingest.models import Located
from ingest.seedfiles import CURATION_DIR
from kb.core.normalize import norm
from schemas.curation import CurationFile, EvidenceIn, quote_parts
from schemas.tables import Dismissal, Document, Evidence, EvidenceCitation, EvidenceLink


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

    def locate(self, quote: str, occurrence: int | None, documents: list[Document]) -> tuple[list[tuple[Document, spans.Span]], str | None]:
        """The span of `quote` in every rendition that states it, and a problem (or None).

        A rendition that states the quote once gives that span; one that states it several times needs
        `occurrence`; an `occurrence` that no rendition needs is refused, so it cannot go stale silently."""
        found: list[tuple[Document, spans.Span]] = []
        repeated = False
        for doc in documents:
            matches = spans.find_all(quote, self.folded(doc), doc.text, limit=None if occurrence else 2)
            if not matches:
                continue
            if len(matches) == 1:
                found.append((doc, matches[0]))
                continue
            repeated = True
            if occurrence is None:
                return [], (f"quote occurs more than once in {doc.path}; say which with "
                            f"{{text: ..., occurrence: N}}")
            if occurrence > len(matches):
                return [], f"occurrence {occurrence} asked, but {doc.path} states the quote {len(matches)} times"
            found.append((doc, matches[occurrence - 1]))
        if occurrence is not None and found and not repeated:
            return [], "occurrence given, but every rendition states the quote once; remove it"
        return found, None


@dataclass
class Curated:
    evidence: list[Evidence] = field(default_factory=list)
    links: list[EvidenceLink] = field(default_factory=list)
    citations: list[EvidenceCitation] = field(default_factory=list)
    dismissals: list[Dismissal] = field(default_factory=list)


def curation_paths(seeds: Path) -> list[Path]:
    return sorted((seeds / CURATION_DIR).glob("*.yaml"))


def load_curation(path: Path, display: str, dictionary: Dictionary, texts: Texts, source_ids: set[str],
                  seen_ids: dict[str, str], cited: ReferenceLists | None = None) -> Curated:
    """Validate one curation file completely (schema, vocabularies, quotes, citations) and return its rows."""
    located = Located(path, display)
    parsed = located.parse(CurationFile)
    if parsed.source not in source_ids:
        raise located.error(("source",), f"unknown source {parsed.source!r}; sources.yaml lists {sorted(source_ids)}")
    cited = cited if cited is not None else ReferenceLists()
    marker_by_norm = {a.norm: a.marker_id for a in dictionary.aliases}
    documents = texts.of_source(parsed.source)
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
            if value is None:
                terms[vocab] = None
                continue
            term = dictionary.term(vocab, value)
            if term is None:
                raise located.error(loc + (vocab,), f"unknown {vocab} {value!r}; expected one of {dictionary.term_names(vocab)} or an alias in vocabulary.yaml")
            terms[vocab] = term
        _check_rule_unit(located, loc, item, dictionary.marker_units.get(marker_id))
        out.evidence.append(_evidence_row(item, parsed, marker_id, terms, display, located.line(*loc, "id")))
        out.citations.extend(_citations(located, loc, item, parsed.source, cited, texts, documents))
        for qi, quote in enumerate(item.quotes):
            text, occurrence = quote_parts(quote)
            found, problem = texts.locate(text, occurrence, documents)
            if problem is None and not found:
                short = text if len(text) <= 80 else text[:77] + "..."
                problem = f"quote not found in any rendition of {parsed.source}: {short!r}"
            if problem is not None:
                raise located.error(loc + ("quotes", qi), problem)
            out.links.extend(EvidenceLink(evidence_id=item.id, document_id=doc.id, start=span.start, end=span.end,
                                          quote=doc.text[span.start:span.end], marker_id=marker_id)
                             for doc, span in found)
    for di, dismissal in enumerate(parsed.dismissed):
        loc = ("dismissed", di)
        found, problem = texts.locate(dismissal.quote, dismissal.occurrence, documents)
        if problem is None and not found:
            short = dismissal.quote if len(dismissal.quote) <= 80 else dismissal.quote[:77] + "..."
            problem = f"quote not found in any rendition of {parsed.source}: {short!r}"
        if problem is not None:
            raise located.error(loc + ("quote",), problem)
        out.dismissals.extend(Dismissal(source_id=parsed.source, document_id=doc.id, start=span.start, end=span.end,
                                        quote=doc.text[span.start:span.end], reason=dismissal.reason,
                                        curation_file=display, curation_line=located.line(*loc, "quote"))
                              for doc, span in found)
    return out


def _check_rule_unit(located: Located, loc: tuple, item: EvidenceIn, marker_unit: str | None) -> None:
    """A rule's unit must measure what the marker measures (mL for a volume, not mg/L), as a patient's must."""
    from kb.core import units

    rule = item.rule
    if rule is None or rule.unit is None or rule.reference == "ULN":
        return
    try:
        unit = units.parse(rule.unit)
    except units.UnitError as exc:
        raise located.error(loc + ("rule", "unit"), str(exc)) from None
    if marker_unit is None:
        raise located.error(loc + ("rule", "unit"), f"marker {item.marker!r} has no unit in markers/*.yaml, "
                                                    f"so a rule in {unit.code} cannot be compared; give the marker its unit")
    expected = units.parse(marker_unit)
    if unit.dimension != expected.dimension:
        raise located.error(loc + ("rule", "unit"), f"{rule.unit!r} ({unit.dimension}) does not fit marker "
                                                    f"{item.marker!r} ({expected.dimension}); expected one of "
                                                    f"{', '.join(units.known_units(expected.dimension))}")


def _citations(located: Located, loc: tuple, item: EvidenceIn, source_id: str, cited: ReferenceLists,
               texts: Texts, documents: list[Document]) -> list[EvidenceCitation]:
    if item.cited_reference is None:
        return []
    if source_id not in cited.numbered:  # cited by name: each part must be stated in the text
        for part in (p.strip() for p in item.cited_reference.split(";")):
            if len(part) < 6 or not any(spans.find(part, texts.folded(d), d.text) for d in documents):
                raise located.error(loc + ("cited_reference",), f"{part!r} is not stated in the text of {source_id} "
                                                                f"(it has no numbered reference list)")
        return []
    numbers = parse_numbers(item.cited_reference)
    if numbers is None:
        raise located.error(loc + ("cited_reference",), f"expected reference numbers such as '53', '53,77' or '7-9' "
                                                        f"(source {source_id} cites by number), got {item.cited_reference!r}")
    rows = []
    for position, number in enumerate(numbers):
        work_id = cited.by_number.get((source_id, number))
        if work_id is None and cited.numbered[source_id]:
            known = sorted(n for s, n in cited.by_number if s == source_id)
            raise located.error(loc + ("cited_reference",), f"reference {number} is not in the reference list of "
                                                            f"{source_id} (entries {known[0]}-{known[-1]})")
        rows.append(EvidenceCitation(evidence_id=item.id, number=number, position=position, cited_work_id=work_id))
    return rows


def _evidence_row(item: EvidenceIn, parsed: CurationFile, marker_id: str, terms: dict, display: str, line: int) -> Evidence:
    rule, effect = item.rule, item.effect
    therapy = terms["therapy"]
    return Evidence(
        id=item.id, source_id=parsed.source, marker_id=marker_id, evidence_type=item.evidence_type,
        direction=item.direction, context=item.context,
        disease=terms["disease"].name if terms["disease"] else None, therapy=therapy.name if therapy else None,
        therapy_class=therapy.therapy_class if therapy else None, timepoint=terms["timepoint"].name,
        specimen=item.specimen, outcome=item.outcome,
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
        statement=item.statement, note=item.note, status=item.status, curator=item.curator or parsed.curator,
        curated_at=item.curated_at or parsed.curated_at, curation_file=display, curation_line=line,
    )


def _f(value) -> float | None:
    return None if value is None else float(value)
