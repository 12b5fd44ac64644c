"""Pydantic models of the hand-written seed files: curation files, marker dictionary, vocabularies, manifest.

Every model forbids unknown fields, so a misspelt key is an error that names the field, not a silent drop.
Cross-file checks (marker ids exist, vocabulary terms exist, quotes are in the text) live in `ingest/`.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal, Optional, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from schemas.codes import check_format
from schemas.numbers import FiniteNumber, finite_float
from schemas.enums import (
    CONTEXTS, DIRECTIONS, DOCUMENT_FORMATS, EFFECT_MEASURES, EVIDENCE_TYPES, LEVELS, MARKER_KINDS,
    REFERENCE_STYLES, RULE_OPERATORS, RULE_REFERENCES, SOURCE_KINDS, STATUSES, TIMEPOINT_PHASES,
)

SLUG = re.compile(r"\A[a-z0-9][a-z0-9._-]*\Z")  # \Z, not $: "$" also matches before a final newline
Number = FiniteNumber  # finite and bounded (schemas.numbers): .nan, .inf and 1e400 are refused
MAX_PATIENTS = 10_000_000  # no study enrols more; also keeps n within the INTEGER column
Count = Annotated[StrictInt, Field(ge=0, le=MAX_PATIENTS)]  # a count of patients: 12.5 or "12" is a typo


def _literal(values: tuple[str, ...]):
    return Literal[values]  # type: ignore[valid-type]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _slug(value: str) -> str:
    if not SLUG.match(value):
        raise ValueError(f"expected a lower-case slug (letters, digits, '.', '_', '-'), got {value!r}")
    return value


# ---- rules and effects -------------------------------------------------------------------------

class Rule(Strict):
    """A machine-readable threshold or category: which patients the evidence's direction applies to."""

    operator: _literal(RULE_OPERATORS)
    value: Optional[Number] = None
    value_high: Optional[Number] = None
    unit: Optional[str] = None
    reference: _literal(RULE_REFERENCES) = "absolute"
    category: Optional[str] = None

    @model_validator(mode="after")
    def _consistent(self) -> "Rule":
        if self.operator == "category" or self.reference == "category":
            if not (self.operator == "category" and self.reference == "category" and self.category):
                raise ValueError("a category rule needs operator: category, reference: category and a category value")
            if self.value is not None or self.value_high is not None:
                raise ValueError("a category rule takes no numeric value")
            return self
        if self.category is not None:
            raise ValueError("category is only for operator: category")
        if self.value is None:
            raise ValueError(f"operator {self.operator!r} needs a numeric value")
        if self.operator == "between":
            if self.value_high is None or self.value_high <= self.value:
                raise ValueError("operator 'between' needs value_high greater than value")
        elif self.value_high is not None:
            raise ValueError("value_high is only for operator 'between'")
        if self.reference == "ULN" and self.unit not in (None, "ULN"):
            raise ValueError("a rule relative to the upper limit of normal has unit 'ULN'")
        if self.reference == "ULN":
            self.unit = "ULN"
        return self


class Group(Strict):
    """One arm of a comparison: its label, size and the value the text reports for it."""

    label: str
    n: Optional[Count] = None
    value: Optional[Number] = None
    unit: Optional[str] = None
    what: Optional[str] = None


class Effect(Strict):
    measure: _literal(EFFECT_MEASURES)
    value: Optional[Number] = None
    ci: Optional[tuple[Number, Number]] = None
    p: Optional[finite_float(ge=0, le=1)] = None
    p_text: Optional[str] = None
    text: Optional[str] = None
    groups: list[Group] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ci_ordered(self) -> "Effect":
        if self.ci is not None and self.ci[0] > self.ci[1]:
            raise ValueError(f"ci must be [low, high], got {list(self.ci)}")
        return self


# ---- evidence ------------------------------------------------------------------------------------

MIN_QUOTE = 12  # characters: anything shorter matches too many places to identify a claim


def _quote_text(text: str) -> str:
    if len(text.strip()) < MIN_QUOTE:
        raise ValueError(f"a quote must be at least {MIN_QUOTE} characters of the source text, got {text!r}")
    return text


class Quote(Strict):
    """A quote that the text states more than once, with the occurrence (1 = first) the item means."""

    text: Annotated[str, AfterValidator(_quote_text)]
    occurrence: Annotated[StrictInt, Field(ge=1)]


QuoteIn = Union[Annotated[str, AfterValidator(_quote_text)], Quote]


def quote_parts(quote: QuoteIn) -> tuple[str, int | None]:
    """(text, occurrence or None) of a quote written either way."""
    return (quote.text, quote.occurrence) if isinstance(quote, Quote) else (quote, None)


class EvidenceIn(Strict):
    id: str
    marker: str
    evidence_type: _literal(EVIDENCE_TYPES)
    direction: Optional[_literal(DIRECTIONS)] = None  # only when the text gives one
    context: _literal(CONTEXTS)
    disease: Optional[str] = None  # only when the text names one for this claim
    therapy: Optional[str] = None
    timepoint: str = "unspecified"
    specimen: Optional[str] = None
    outcome: str
    rule: Optional[Rule] = None
    effect: Optional[Effect] = None
    n_patients: Optional[Annotated[StrictInt, Field(ge=1, le=MAX_PATIENTS)]] = None
    level: _literal(LEVELS)
    cited_reference: Optional[str] = None
    statement: str
    note: Optional[str] = None  # where statements of the paper disagree, or a reading needs explaining
    status: _literal(STATUSES) = "accepted"
    curator: Optional[str] = None
    curated_at: Optional[dt.date] = None
    quotes: list[QuoteIn] = Field(min_length=1)

    _id = field_validator("id")(_slug)

    @field_validator("cited_reference", mode="before")
    @classmethod
    def _ref_text(cls, value):
        return None if value is None else str(value)


class Dismissal(Strict):
    """A candidate sentence a curator has read and decided holds no evidence item, and why."""

    quote: Annotated[str, AfterValidator(_quote_text)]
    occurrence: Optional[Annotated[StrictInt, Field(ge=1)]] = None
    reason: str = Field(min_length=8)


class CurationFile(Strict):
    source: str
    curator: str
    curated_at: dt.date
    evidence: list[EvidenceIn] = Field(default_factory=list)
    dismissed: list[Dismissal] = Field(default_factory=list)


# ---- markers and vocabularies --------------------------------------------------------------------

def _code(system: str):
    """A validator of one optional code, or a list of codes, in `system` (format; LOINC check digit)."""
    def check(value):
        for code in value if isinstance(value, list) else [value]:
            problem = None if code is None else check_format(system, code)
            if problem:
                raise ValueError(problem)
        return value
    return check


class MarkerIn(Strict):
    id: str
    name: str
    full_name: Optional[str] = None
    kind: _literal(MARKER_KINDS)
    unit: Optional[str] = None
    loinc: Optional[str] = None  # the primary LOINC code (the one FHIR output writes)
    loinc_alt: list[str] = Field(default_factory=list)  # other LOINC codes in common use for the same quantity
    hgnc_symbol: Optional[str] = None
    hgnc_id: Optional[str] = None
    description: Optional[str] = None
    aliases: list[str] = Field(default_factory=list)
    # Spellings that resolve only when typed exactly (case and punctuation folded), never as a fuzzy
    # target: common words ("lymphocytes") that would otherwise attract every near spelling. Aliases of
    # three characters or fewer are exact-only without being listed.
    exact_aliases: list[str] = Field(default_factory=list)

    _id = field_validator("id")(_slug)
    _loinc = field_validator("loinc", "loinc_alt")(_code("LOINC"))
    _hgnc = field_validator("hgnc_id")(_code("HGNC"))

    @model_validator(mode="after")
    def _codes_consistent(self) -> "MarkerIn":
        if self.loinc_alt and self.loinc is None:
            raise ValueError("loinc_alt needs a primary loinc code")
        if self.loinc in self.loinc_alt:
            raise ValueError(f"loinc_alt repeats the primary code {self.loinc}")
        if self.hgnc_id and not self.hgnc_symbol:
            raise ValueError("hgnc_id needs the hgnc_symbol it identifies")
        return self


class MarkerFile(Strict):
    markers: list[MarkerIn]


class DiseaseIn(Strict):
    name: str
    full_name: Optional[str] = None
    parent: Union[str, list[str], None] = None  # one term or several (B-ALL is an ALL and a B-cell malignancy)
    doid: Optional[str] = None
    ncit: Optional[str] = None
    icd10: list[str] = Field(default_factory=list)  # a code covers its subcodes (C83.3 covers C83.30-C83.39)
    snomed: Optional[str] = None  # SNOMED CT concept id (format and Verhoeff check digit checked)
    aliases: list[str] = Field(default_factory=list)

    _doid = field_validator("doid")(_code("DOID"))
    _snomed = field_validator("snomed")(_code("SNOMED"))

    @property
    def parents(self) -> list[str]:
        return [] if self.parent is None else [self.parent] if isinstance(self.parent, str) else list(self.parent)
    _ncit = field_validator("ncit")(_code("NCIT"))
    _icd10 = field_validator("icd10")(_code("ICD10"))


class TherapyIn(Strict):
    name: str
    full_name: Optional[str] = None
    class_: str = Field(alias="class")
    # RxNorm codes of the product (a clinical or branded drug, or the ingredient): a therapy may have several
    rxnorm: list[str] = Field(default_factory=list)
    ncit: Optional[str] = None
    aliases: list[str] = Field(default_factory=list)

    @field_validator("rxnorm", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        return [value] if isinstance(value, str) else value

    _rxnorm = field_validator("rxnorm")(_code("RXNORM"))
    _ncit = field_validator("ncit")(_code("NCIT"))


class TimepointIn(Strict):
    name: str
    phase: _literal(TIMEPOINT_PHASES)
    aliases: list[str] = Field(default_factory=list)


class VocabularyFile(Strict):
    diseases: list[DiseaseIn]
    therapies: list[TherapyIn]
    timepoints: list[TimepointIn]


# ---- manifest ------------------------------------------------------------------------------------

class ReferenceListIn(Strict):
    """Where a rendition prints its numbered reference list, so it can be parsed into cited works."""

    start: str  # a quote of the text where the list begins (a heading, or the first entry)
    end: Optional[str] = None  # a quote where it ends (default: the end of the text)
    style: _literal(REFERENCE_STYLES)
    complete: bool = True  # false when the text holds only part of the list (a truncated extraction)


class DocumentIn(Strict):
    path: str
    original_name: Optional[str] = None
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    format: _literal(DOCUMENT_FORMATS)
    references: Optional[ReferenceListIn] = None


class PamModelIn(Strict):
    """A nearest-shrunken-centroid model a source publishes as a table; every number is parsed from the text."""

    id: str
    name: str
    marker: Optional[str] = None
    table_caption: str
    scale: Literal["log2"]
    scale_quote: str
    class_sizes_quote: str
    performance_quote: Optional[str] = None
    validation_quote: Optional[str] = None

    _id = field_validator("id")(_slug)


class SourceIn(Strict):
    id: str
    title: Optional[str] = None
    authors: list[str] = Field(default_factory=list)
    journal: Optional[str] = None
    year: Optional[int] = Field(default=None, ge=1900, le=2100)
    doi: Optional[str] = None
    pmid: Optional[str] = None
    kind: _literal(SOURCE_KINDS)
    license: Optional[str] = None
    license_quote: Optional[str] = None  # the sentence of the text that states the licence (verified)
    note: Optional[str] = None
    documents: list[DocumentIn] = Field(min_length=1)
    pam_models: list[PamModelIn] = Field(default_factory=list)

    _id = field_validator("id")(_slug)

    @model_validator(mode="after")
    def _license_stated(self) -> "SourceIn":
        if self.license and not self.license_quote:
            raise ValueError("a licence needs license_quote: the sentence of the text that states it")
        return self

    @field_validator("pmid", mode="before")
    @classmethod
    def _pmid_text(cls, value):
        return None if value is None else str(value)


class Manifest(Strict):
    sources: list[SourceIn]
