"""What a standard-form record (FHIR, Phenopacket) holds before the knowledge base maps its codes, and the
mapping itself: codes -> markers, diseases and therapies; several observations of one marker -> the latest
at or before the evaluation time; the timepoint phase from the dates. Whatever is not used is reported with
why (an unmapped code, a display that contradicts its code, a value that is absent), never dropped silently.

The result is our own record (the dict `schemas.patient.Patient` validates) plus the `input` block of the
summary: format, evaluation time, and the unused, conflicting and superseded items.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Optional, Union

from kb.core.errors import InputError, NotFound
from kb.core.normalize import norm_words

CODE_SYSTEMS = {  # FHIR / Phenopacket system -> our code system name
    "http://loinc.org": "LOINC", "loinc": "LOINC",
    "http://hl7.org/fhir/sid/icd-10": "ICD10", "http://hl7.org/fhir/sid/icd-10-cm": "ICD10", "icd10": "ICD10",
    "icd10cm": "ICD10", "http://purl.obolibrary.org/obo/doid.owl": "DOID", "doid": "DOID",
    "http://ncicb.nci.nih.gov/xml/owl/evs/thesaurus.owl": "NCIT", "ncit": "NCIT",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RXNORM", "rxnorm": "RXNORM", "http://snomed.info/sct": "SNOMED",
    "snomed": "SNOMED", "snomedct": "SNOMED", "mondo": "MONDO", "http://www.genenames.org/geneid": "HGNC", "hgnc": "HGNC",
}
# words that describe how a quantity is measured, not what: a display shares its analyte, not these
_MEASURE_WORDS = {"mass", "volume", "serum", "plasma", "blood", "enzymatic", "activity", "moles", "units", "automated",
                  "count", "level", "and", "the", "per", "ser", "pla", "bld", "presence", "method", "high", "sensitivity",
                  "reaction", "lactate", "pyruvate", "body", "fluid", "whole", "arterial", "venous", "cells", "total"}


@dataclass
class Coding:
    system: Optional[str]  # our name (LOINC, ICD10, ...) or the raw system
    code: Optional[str]
    display: Optional[str] = None

    def label(self) -> str:
        return f"{self.system or 'code'} {self.code}" + (f" ({self.display})" if self.display else "")


@dataclass
class Concept:
    where: str  # FHIRPath-style location in the input, or the Phenopacket field
    codings: list[Coding]
    text: Optional[str] = None
    when: Optional[dt.datetime] = None  # therapies: the start (infusion, first dose)

    def label(self) -> str:
        return "; ".join(c.label() for c in self.codings) or repr(self.text)


@dataclass
class Candidate:
    """One observed value (an Observation or one of its components, a Phenopacket measurement)."""

    concept: Concept
    value: Union[float, str, None]
    unit: Optional[str] = None
    comparator: Optional[str] = None
    uln: Optional[float] = None
    absent: Optional[str] = None  # dataAbsentReason
    ref: Optional[str] = None  # FHIR: the reference to the input's Observation (`Observation/id` or its fullUrl)


@dataclass
class Pending:
    format: str  # fhir | phenopacket
    patient_id: str
    diseases: list[Concept] = field(default_factory=list)
    therapies: list[Concept] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    unused: list[dict] = field(default_factory=list)  # known at read time: ignored resources and why
    expression: Optional[dict] = None
    patient: Optional[dict] = None  # FHIR: the input's Patient ({reference, where, resource})


def system_name(system: Optional[str]) -> Optional[str]:
    if system is None:
        return None
    return CODE_SYSTEMS.get(system.strip().rstrip("/").lower(), system)


def parse_when(text: Optional[str], end_of_day: bool = False) -> Optional[dt.datetime]:
    """A FHIR date or dateTime ('2024', '2024-05', '2024-05-02', '2024-05-02T08:00:00Z') as naive UTC.
    A date without a time is its first instant, or its last with `end_of_day` (an evaluation date includes
    that day's results)."""
    if not text:
        return None
    text = str(text).strip()
    m = re.fullmatch(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", text)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
        start = dt.datetime(y, mo, d)
        if not end_of_day:
            return start
        if m.group(3):
            nxt = start + dt.timedelta(days=1)
        elif m.group(2):
            nxt = dt.datetime(y + (mo == 12), mo % 12 + 1, 1)
        else:
            nxt = dt.datetime(y + 1, 1, 1)
        return nxt - dt.timedelta(microseconds=1)
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{text!r}: expected a date (YYYY-MM-DD) or a dateTime") from None
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def _iso(when: Optional[dt.datetime]) -> Optional[str]:
    if when is None:
        return None
    return when.date().isoformat() if when.time() in (dt.time(0), dt.time(23, 59, 59, 999999)) else when.isoformat()


class Binder:
    """Maps pending records against one knowledge base (the evaluator's marker index and vocabularies)."""

    def __init__(self, index, populations, aliases: list[tuple]):
        self.index = index
        self.diseases = populations.diseases
        self.therapies = populations.therapies
        self.words: dict[str, set[str]] = {}
        for mid, alias, *_ in aliases:
            self.words.setdefault(mid, set()).update(_analyte_words(alias))

    def bind(self, p: Pending, label: str, at: Optional[dt.datetime]) -> tuple[dict, dict]:
        unused, conflicts, superseded = list(p.unused), [], []
        disease = self._disease(p, unused, label)
        therapy, start = self._therapy(p, unused, label)
        when = at or start
        by_marker: dict[str, list[tuple[Candidate, str]]] = {}
        for c in p.candidates:
            mid = self._marker(c, unused, conflicts)
            if mid is None:
                continue
            if c.absent is not None:
                unused.append({"where": c.concept.where, "what": c.concept.label(),
                               "why": f"no value: dataAbsentReason {c.absent}"})
                continue
            if c.value is None:
                unused.append({"where": c.concept.where, "what": c.concept.label(), "why": "no value"})
                continue
            if when is not None and c.concept.when is not None and c.concept.when > when:
                unused.append({"where": c.concept.where, "what": c.concept.label(),
                               "why": f"measured {_iso(c.concept.when)}, after the evaluation time {_iso(when)}"})
                continue
            by_marker.setdefault(mid, []).append((c, mid))
        observations, chosen_dates, used = [], [], []
        for mid, found in by_marker.items():
            found.sort(key=lambda f: f[0].concept.when or dt.datetime.min, reverse=True)
            best = found[0][0]
            if len(found) > 1 and best.concept.when is None:
                raise InputError(f"{label}: {best.concept.where}: {len(found)} observations of {self.index.names[mid]} and "
                                 "not all have a date; expected an effective date on each to choose the latest")
            for other, _ in found[1:]:
                superseded.append({"where": other.concept.where, "marker": self.index.names[mid],
                                   "date": _iso(other.concept.when), "value": other.value,
                                   "why": f"an observation of {_iso(best.concept.when)} is later"})
            o = {"marker": self.index.names[mid], "value": best.value}
            for key, value in (("unit", best.unit), ("upper_limit_normal", best.uln), ("comparator", best.comparator)):
                if value is not None:
                    o[key] = value
            observations.append(o)
            used.append({"marker": o["marker"], "where": best.concept.where, "reference": best.ref})
            chosen_dates.append(best.concept.when)
        timepoint = self._timepoint(start, at, chosen_dates)
        record = {"id": p.patient_id, "disease": disease, "therapy": therapy, "timepoint": timepoint,
                  "observations": observations}
        if p.expression:
            record["expression"] = p.expression
        facts = {"format": p.format, "evaluated_at": _iso(when), "therapy_start": _iso(start),
                 "used": used, "unused": unused, "conflicts": conflicts, "superseded": superseded}
        if p.patient is not None:
            facts["patient"] = p.patient
        return record, facts

    # ---- parts -------------------------------------------------------------------------------------

    def _marker(self, c: Candidate, unused: list, conflicts: list) -> Optional[str]:
        from kb.query.resolve import AmbiguousMarker

        loinc = [k for k in c.concept.codings if k.system in ("LOINC", "HGNC") and k.code]
        for k in loinc:
            try:
                mid = self.index.by_code(k.system, k.code).id
            except (NotFound, AmbiguousMarker):
                continue
            if k.system == "LOINC" and k.display and not self._display_fits(mid, k.display):
                conflicts.append({"where": c.concept.where, "code": f"LOINC {k.code}", "display": k.display,
                                  "why": f"LOINC {k.code} is {self.index.names[mid]} in the knowledge base; the display "
                                         f"{k.display!r} names something else, so the observation is not used"})
                return None
            return mid
        if loinc:
            listed = ", ".join(f"{k.system} {k.code}" + (f" ({k.display})" if k.display else "") for k in loinc)
            unused.append({"where": c.concept.where, "what": listed, "why": "no marker in the knowledge base"})
            return None
        other = [k for k in c.concept.codings if k.code]
        unused.append({"where": c.concept.where, "what": c.concept.label(),
                       "why": "no LOINC code" + (" (other code systems are not mapped to markers)" if other else "")})
        return None

    def _display_fits(self, mid: str, display: str) -> bool:
        words = _analyte_words(display)
        return not words or bool(words & self.words.get(mid, set()))

    def _disease(self, p: Pending, unused: list, label: str) -> str:
        found = []
        for c in p.diseases:
            term = self._term(self.diseases, c)
            if term is None:
                unused.append({"where": c.where, "what": c.label(), "why": "no disease in the knowledge base matches"})
            else:
                found.append((term["name"], c))
        if not found:
            raise InputError(f"{label}: disease: expected a condition (disease) the knowledge base knows, got "
                             + ("none" if not p.diseases else "; ".join(c.label() for c in p.diseases)))
        # the most specific: a disease below another one found wins (DLBCL over lymphoma)
        names = [n for n, _ in found]
        best = next(n for n in names if not any(o != n and n in self.diseases.ancestors(o) for o in names))
        for n, c in found:
            if n != best and n not in self.diseases.ancestors(best):
                unused.append({"where": c.where, "what": c.label(), "why": f"another disease ({n}); {best} is used"})
        return best

    def _therapy(self, p: Pending, unused: list, label: str) -> tuple[str, Optional[dt.datetime]]:
        found = []
        for c in p.therapies:
            term = self._term(self.therapies, c)
            if term is None:
                unused.append({"where": c.where, "what": c.label(),
                               "why": "not a therapy in the knowledge base (e.g. lymphodepletion, supportive care)"})
            else:
                found.append((term, c))
        if not found:
            raise InputError(f"{label}: therapy: expected a medication or procedure naming a therapy the knowledge base "
                             f"knows (axi-cel, tisa-cel, blinatumomab, ...), got "
                             + ("none" if not p.therapies else "; ".join(c.label() for c in p.therapies)))
        found.sort(key=lambda f: f[1].when or dt.datetime.max)
        term, first = found[0]
        for other, c in found[1:]:
            if other["name"] != term["name"]:
                unused.append({"where": c.where, "what": c.label(), "why": f"another therapy ({other['name']}); "
                                                                            f"{term['name']} (the first) is used"})
        return term["name"], first.when

    @staticmethod
    def _term(vocab, c: Concept) -> Optional[dict]:
        for k in c.codings:
            if k.system in ("ICD10", "DOID", "NCIT", "RXNORM", "SNOMED") and k.code:
                code = k.code if k.system in ("ICD10", "RXNORM", "SNOMED") or ":" in k.code else f"{k.system}:{k.code}"
                term = vocab.by_code(k.system, code.upper() if k.system != "DOID" else code)
                if term:
                    return term
        texts = [t for t in [c.text] + [k.display for k in c.codings] if t]
        for text in texts:  # the whole text, then its parts: 'Yescarta (axicabtagene ciloleucel)'
            for part in [text, *re.split(r"[()\[\],;/]+", text)]:
                term = vocab.lookup(part.strip()) if part.strip() else None
                if term:
                    return term
        for text in texts:  # a spelling inside the text ('axicabtagene ciloleucel 2e6 cells/kg IV'): the longest wins
            words = f" {' '.join(re.findall(r'[0-9a-z]+', norm_words(text)))} "
            hits = [(len(key), name) for key, name in vocab.spellings.items() if len(key) >= 6 and f" {key} " in words]
            if hits:
                return vocab.terms[max(hits)[1]]
        return None

    @staticmethod
    def _timepoint(start: Optional[dt.datetime], at: Optional[dt.datetime], dates: list) -> str:
        """pre (baseline) when the evaluation is at or before the therapy starts, post after; unspecified when
        the record has no therapy date to compare with."""
        if start is None:
            return "unspecified"
        when = at or start
        return "baseline" if when <= start else "post-infusion"


def _analyte_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{3,}", norm_words(text)) if w not in _MEASURE_WORDS}
