"""curation/<source>.yaml -> evidence rows, their links and dismissals, every quote resolved to an exact span.

A quote must be stated exactly once in a rendition, or the item says which occurrence it means
(`{text: ..., occurrence: N}`): a quote found twice would otherwise link whichever came first.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ingest import closest, spans
from ingest.cited_works import ReferenceLists, parse_numbers
from ingest.dictionary import Dictionary
from ingest.models import Located
from ingest.seedfiles import CURATION_DIR
from kb.core.errors import CurationError, Problem
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
                  seen_ids: dict[str, str], cited: ReferenceLists | None = None,
                  problems: list[Problem] | None = None) -> Curated:
    """Validate one curation file completely (schema, vocabularies, quotes, citations) and return its rows.

    `problems` None (the build): the first problem raises CurationError. A list (`kb curate validate`):
    every problem is appended to it and the checks go on; then a check that depends on a field with a
    problem is skipped (docs/curation.md says which), and the rows returned are only good for counting."""
    try:
        located = Located(path, display, problems)
    except CurationError as exc:  # unreadable, or not YAML: nothing more can be checked
        if problems is None or exc.where is None:
            raise
        problems.append(exc.where)
        return Curated()
    if located.collecting:
        header = _parse_collecting(located)
        if header is None:
            return Curated()
        source, curator, curated_at, items, dismissals = header
    else:
        parsed = located.parse(CurationFile)
        source, curator, curated_at = parsed.source, parsed.curator, parsed.curated_at
        items = [(i, item, frozenset(), list(enumerate(item.quotes))) for i, item in enumerate(parsed.evidence)]
        dismissals = list(enumerate(parsed.dismissed))
    if source is not None and source not in source_ids:
        located.report(("source",), f"unknown source {source!r}; sources.yaml lists {sorted(source_ids)}")
        source = None  # collecting: quotes and cited references cannot be checked without their text
    cited = cited if cited is not None else ReferenceLists()
    marker_by_norm = {a.norm: a.marker_id for a in dictionary.aliases}
    documents = texts.of_source(source) if source is not None else []
    out = Curated()
    searched = 0  # closest passages looked for
    for i, item, skip, quotes in items:
        loc = ("evidence", i)
        before = len(located.problems) if located.collecting else 0
        if "id" not in skip:
            where = f"{display}:{located.line(*loc, 'id')}"
            if item.id in seen_ids:
                located.report(loc + ("id",), f"duplicate evidence id {item.id!r} (first at {seen_ids[item.id]})")
            else:
                seen_ids[item.id] = where
        marker_id = None
        if "marker" not in skip:
            marker_id = marker_by_norm.get(norm(item.marker))
            if marker_id is None:
                located.report(loc + ("marker",), f"unknown marker {item.marker!r}; add it to markers/*.yaml or use an existing id")
        terms = {}
        for vocab, value in (("disease", item.disease), ("therapy", item.therapy), ("timepoint", item.timepoint)):
            if value is None or vocab in skip:
                terms[vocab] = None
                continue
            term = dictionary.term(vocab, value)
            if term is None:
                located.report(loc + (vocab,), f"unknown {vocab} {value!r}; expected one of {dictionary.term_names(vocab)} or an alias in vocabulary.yaml")
            terms[vocab] = term
        if marker_id is not None and "rule" not in skip:  # a rule's unit is checked against its marker's
            _check_rule_unit(located, loc, item, dictionary.marker_units.get(marker_id))
        if source is not None and "cited_reference" not in skip:
            out.citations.extend(_citations(located, loc, item, source, cited, texts, documents))
        for qi, quote in (quotes if source is not None else []):
            text, occurrence = quote_parts(quote)
            found, problem = texts.locate(text, occurrence, documents)
            detail, passage = (), None
            if problem is None and not found:
                problem = closest.not_found(text, source)
                if located.collecting and searched < closest.MAX_PER_FILE:  # the build stops at the first problem
                    searched += 1
                    problem, detail, passage = closest.explain(text, source, documents, texts)
            if problem is not None:
                located.report(loc + ("quotes", qi), problem, detail, passage)
                continue
            out.links.extend(EvidenceLink(evidence_id=item.id, document_id=doc.id, start=span.start, end=span.end,
                                          quote=doc.text[span.start:span.end], marker_id=marker_id)
                             for doc, span in found)
        if not skip and marker_id is not None and (not located.collecting or len(located.problems) == before):
            out.evidence.append(_evidence_row(item, source, curator, curated_at, marker_id, terms, display,
                                              located.line(*loc, "id")))
    for di, dismissal in (dismissals if source is not None else []):
        loc = ("dismissed", di)
        found, problem = texts.locate(dismissal.quote, dismissal.occurrence, documents)
        detail, passage = (), None
        if problem is None and not found:
            problem = closest.not_found(dismissal.quote, source)
            if located.collecting and searched < closest.MAX_PER_FILE:
                searched += 1
                problem, detail, passage = closest.explain(dismissal.quote, source, documents, texts)
        if problem is not None:
            located.report(loc + ("quote",), problem, detail, passage)
            continue
        out.dismissals.extend(Dismissal(source_id=source, document_id=doc.id, start=span.start, end=span.end,
                                        quote=doc.text[span.start:span.end], reason=dismissal.reason,
                                        curation_file=display, curation_line=located.line(*loc, "quote"))
                              for doc, span in found)
    return out


# Stand-ins for required fields that have a schema problem, so that an item's other fields can still be
# checked; a check of a field in `skip` never reads its stand-in.
_STAND_IN = {"id": "stand-in", "marker": "stand-in", "evidence_type": "predictive", "context": "clinical",
             "outcome": "stand-in", "level": "A", "statement": "stand-in", "quotes": ["stand-in quote text"]}


def _parse_collecting(located: Located):
    """The file's header and items for a validation that reports every problem: schema problems are
    recorded; each item comes with the fields that had one (`skip`) and its quotes that passed."""
    from pydantic import TypeAdapter, ValidationError

    from schemas.curation import Dismissal as DismissalIn, QuoteIn

    data = located.data
    if not isinstance(data, dict):
        located.report((), "expected a YAML mapping at the top level")
        return None
    try:
        parsed = CurationFile.model_validate(data)
    except ValidationError as exc:
        errors = [tuple(e["loc"]) for e in exc.errors()]
        located.problems.extend(located.validation_problems(exc))
    else:
        return (parsed.source, parsed.curator, parsed.curated_at,
                [(i, item, frozenset(), list(enumerate(item.quotes))) for i, item in enumerate(parsed.evidence)],
                list(enumerate(parsed.dismissed)))
    top = {loc[0] for loc in errors if loc}
    source = data.get("source") if "source" not in top and isinstance(data.get("source"), str) else None
    source = source.strip() if source else None
    items = []
    raw_items = data.get("evidence") if isinstance(data.get("evidence"), list) else []
    for i, raw in enumerate(raw_items):
        mine = [loc[2:] for loc in errors if loc[:2] == ("evidence", i)]
        if not isinstance(raw, dict) or () in mine:
            continue
        skip = frozenset(loc[0] for loc in mine)
        try:
            item = EvidenceIn.model_validate({**{k: v for k, v in raw.items() if k not in skip},
                                              **{k: _STAND_IN[k] for k in skip if k in _STAND_IN}})
        except ValidationError:
            continue  # cannot happen for the fields we know; if it does, the item's schema problems stand alone
        quotes = list(enumerate(item.quotes))
        if "quotes" in skip:
            bad = {loc[1] for loc in mine if loc[0] == "quotes" and len(loc) > 1}
            whole = ("quotes",) in mine
            adapter = TypeAdapter(QuoteIn)
            quotes = [(qi, adapter.validate_python(q)) for qi, q in enumerate(raw.get("quotes") or [])
                      if not whole and qi not in bad] if isinstance(raw.get("quotes"), list) else []
        items.append((i, item, skip, quotes))
    dismissals = []
    raw_dismissed = data.get("dismissed") if isinstance(data.get("dismissed"), list) else []
    for di, raw in enumerate(raw_dismissed):
        if not any(loc[:2] == ("dismissed", di) for loc in errors):
            dismissals.append((di, DismissalIn.model_validate(raw)))
    return source, data.get("curator"), None, items, dismissals


def _check_rule_unit(located: Located, loc: tuple, item: EvidenceIn, marker_unit: str | None) -> None:
    """A rule's unit must measure what the marker measures (mL for a volume, not mg/L), as a patient's must."""
    from kb.core import units

    rule = item.rule
    if rule is None or rule.unit is None or rule.reference == "ULN":
        return
    unit, problem = None, None
    try:
        unit = units.parse(rule.unit)
    except units.UnitError as exc:
        problem = str(exc)  # reported outside the except block: the build's error carries no context
    if unit is None:
        return located.report(loc + ("rule", "unit"), problem)
    if marker_unit is None:
        return located.report(loc + ("rule", "unit"), f"marker {item.marker!r} has no unit in markers/*.yaml, "
                                                      f"so a rule in {unit.code} cannot be compared; give the marker its unit")
    expected = units.parse(marker_unit)
    if unit.dimension != expected.dimension:
        located.report(loc + ("rule", "unit"), f"{rule.unit!r} ({unit.dimension}) does not fit marker "
                                               f"{item.marker!r} ({expected.dimension}); expected one of "
                                               f"{', '.join(units.known_units(expected.dimension))}")


def _citations(located: Located, loc: tuple, item: EvidenceIn, source_id: str, cited: ReferenceLists,
               texts: Texts, documents: list[Document]) -> list[EvidenceCitation]:
    if item.cited_reference is None:
        return []
    if source_id not in cited.numbered:  # cited by name: each part must be stated in the text
        for part in (p.strip() for p in item.cited_reference.split(";")):
            if len(part) < 6 or not any(spans.find(part, texts.folded(d), d.text) for d in documents):
                located.report(loc + ("cited_reference",), f"{part!r} is not stated in the text of {source_id} "
                                                           f"(it has no numbered reference list)")
                return []
        return []
    numbers = parse_numbers(item.cited_reference)
    if numbers is None:
        located.report(loc + ("cited_reference",), f"expected reference numbers such as '53', '53,77' or '7-9' "
                                                   f"(source {source_id} cites by number), got {item.cited_reference!r}")
        return []
    rows = []
    for position, number in enumerate(numbers):
        work_id = cited.by_number.get((source_id, number))
        if work_id is None and cited.numbered[source_id]:
            known = sorted(n for s, n in cited.by_number if s == source_id)
            located.report(loc + ("cited_reference",), f"reference {number} is not in the reference list of "
                                                       f"{source_id} (entries {known[0]}-{known[-1]})")
            return []
        rows.append(EvidenceCitation(evidence_id=item.id, number=number, position=position, cited_work_id=work_id))
    return rows


def _evidence_row(item: EvidenceIn, source: str, curator, curated_at, marker_id: str, terms: dict, display: str,
                  line: int) -> Evidence:
    rule, effect = item.rule, item.effect
    therapy = terms["therapy"]
    return Evidence(
        id=item.id, source_id=source, marker_id=marker_id, evidence_type=item.evidence_type,
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
        statement=item.statement, note=item.note, status=item.status, curator=item.curator or curator,
        curated_at=item.curated_at or curated_at, curation_file=display, curation_line=line,
    )


def _f(value) -> float | None:
    return None if value is None else float(value)
