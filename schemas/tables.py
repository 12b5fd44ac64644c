"""The knowledge base's tables as SQLModel classes (docs/design.md, "Data model"); the write path builds the DDL from these.

DuckDB pitfalls handled here: no SERIAL (string slugs or composite keys), a Python float would become a
32-bit FLOAT (every real column is DOUBLE), no ON DELETE CASCADE (ingest writes a fresh database).
Lists and nested records are JSON text: the query path decodes them, SQL never needs to look inside.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import Column, Double
from sqlmodel import Field, SQLModel


def _double(**kw) -> Optional[float]:
    return Field(default=None, sa_column=Column(Double, **kw))


class Source(SQLModel, table=True):
    __tablename__ = "source"
    id: str = Field(primary_key=True)
    title: Optional[str] = None
    authors: str = "[]"  # JSON list, in the order the paper gives
    journal: Optional[str] = None
    year: Optional[int] = None
    doi: Optional[str] = None
    pmid: Optional[str] = None
    kind: str
    license: Optional[str] = None
    # the sentence of the text that states the licence, as an exact span (NULL when the text states none)
    license_document_id: Optional[str] = None
    license_start: Optional[int] = None
    license_end: Optional[int] = None
    license_quote: Optional[str] = None
    note: Optional[str] = None


class Document(SQLModel, table=True):
    __tablename__ = "document"
    id: str = Field(primary_key=True)
    source_id: str = Field(foreign_key="source.id")
    path: str
    original_name: Optional[str] = None
    sha256: str
    format: str
    n_chars: int
    text: str


class Marker(SQLModel, table=True):
    __tablename__ = "marker"
    id: str = Field(primary_key=True)
    name: str
    full_name: Optional[str] = None
    kind: str
    unit: Optional[str] = None
    loinc: Optional[str] = None
    hgnc_symbol: Optional[str] = None
    hgnc_id: Optional[str] = None
    description: Optional[str] = None


class MarkerCode(SQLModel, table=True):
    """Every code that identifies a marker: its LOINC codes (primary and alternatives) and its gene's HGNC id."""

    __tablename__ = "marker_code"
    system: str = Field(primary_key=True)  # LOINC | HGNC
    code: str = Field(primary_key=True)
    marker_id: str = Field(primary_key=True, foreign_key="marker.id", index=True)
    primary_code: bool = True  # the marker's primary LOINC code (FHIR output writes it)


class MarkerAlias(SQLModel, table=True):
    __tablename__ = "marker_alias"
    marker_id: str = Field(primary_key=True, foreign_key="marker.id")
    alias: str = Field(primary_key=True)
    norm: str = Field(index=True)  # kb.core.normalize.norm(alias): the key of the second resolution step
    exact_only: bool = False  # never a fuzzy target: short (<= 3 characters) or a common word


class Term(SQLModel, table=True):
    """A controlled-vocabulary term: a disease, a therapy or a timepoint."""

    __tablename__ = "term"
    vocabulary: str = Field(primary_key=True)  # disease | therapy | timepoint
    name: str = Field(primary_key=True)
    full_name: Optional[str] = None
    parent: Optional[str] = None  # disease hierarchy: the first parent
    parents: str = "[]"  # JSON list of every parent (the hierarchy is a small DAG)
    doid: Optional[str] = None
    ncit: Optional[str] = None
    icd10: str = "[]"  # JSON list of ICD-10 codes (diseases); each covers its subcodes
    snomed: Optional[str] = None  # SNOMED CT concept id (diseases)
    rxnorm: Optional[str] = None  # JSON list of RxNorm codes (therapies)
    therapy_class: Optional[str] = None
    phase: Optional[str] = None  # timepoints: pre | post | any


class TermAlias(SQLModel, table=True):
    __tablename__ = "term_alias"
    vocabulary: str = Field(primary_key=True)
    norm: str = Field(primary_key=True)
    name: str
    alias: Optional[str] = None  # the spelling as written (found inside free text by its words)


class Evidence(SQLModel, table=True):
    __tablename__ = "evidence"
    id: str = Field(primary_key=True)
    source_id: str = Field(foreign_key="source.id")
    marker_id: str = Field(foreign_key="marker.id", index=True)  # the query path's main filter
    evidence_type: str
    direction: Optional[str] = None  # NULL: the text gives no direction
    context: str  # clinical | preclinical | background
    disease: Optional[str] = None  # NULL: the text names no disease for this claim
    therapy: Optional[str] = None
    therapy_class: Optional[str] = None
    timepoint: str
    specimen: Optional[str] = None
    outcome: str
    rule_operator: Optional[str] = None
    rule_value: Optional[float] = _double()
    rule_value_high: Optional[float] = _double()
    rule_unit: Optional[str] = None
    rule_reference: Optional[str] = None
    rule_category: Optional[str] = None
    effect_measure: Optional[str] = None
    effect_value: Optional[float] = _double()
    effect_ci_low: Optional[float] = _double()
    effect_ci_high: Optional[float] = _double()
    effect_p: Optional[float] = _double()
    effect_p_text: Optional[str] = None
    effect_text: Optional[str] = None
    effect_groups: str = "[]"  # JSON list of {label, n, value, unit, what}
    n_patients: Optional[int] = None
    level: str
    cited_reference: Optional[str] = None
    statement: str
    note: Optional[str] = None
    status: str
    curator: str
    curated_at: dt.date
    curation_file: str
    curation_line: int


class EvidenceLink(SQLModel, table=True):
    __tablename__ = "evidence_link"
    evidence_id: str = Field(primary_key=True, foreign_key="evidence.id")
    document_id: str = Field(primary_key=True, foreign_key="document.id")
    start: int = Field(primary_key=True)
    end: int
    quote: str
    # Copied from the evidence item so a marker's links are found by the same filter and storage order as
    # its evidence (a join to evidence costs a scan of every link; see benchmarks/run.py, section query).
    marker_id: str = Field(foreign_key="marker.id", index=True)


class CitedWork(SQLModel, table=True):
    """One entry of a source's numbered reference list, parsed from the text: every field is a piece of
    the entry as printed (NULL when the entry does not give it); `text` is the whole entry."""

    __tablename__ = "cited_work"
    id: str = Field(primary_key=True)  # <source id>-ref<number>
    source_id: str = Field(foreign_key="source.id")
    number: int
    authors: Optional[str] = None  # as written, e.g. "Nastoupil LJ, Jain MD, Feng L, et al."
    short_authors: Optional[str] = None  # "Nastoupil et al.", "Haas Bueno and Recamonde-Mendoza"
    title: Optional[str] = None
    journal: Optional[str] = None
    year: Optional[int] = None
    volume: Optional[str] = None
    issue: Optional[str] = None
    pages: Optional[str] = None
    doi: Optional[str] = None
    pmid: Optional[str] = None
    partial: bool = False  # the beginning of the entry is not in the text
    text: str


class CitedWorkLink(SQLModel, table=True):
    """The span(s) of a cited work's entry; an entry interrupted by page furniture has several."""

    __tablename__ = "cited_work_link"
    cited_work_id: str = Field(primary_key=True, foreign_key="cited_work.id")
    document_id: str = Field(primary_key=True, foreign_key="document.id")
    start: int = Field(primary_key=True)
    end: int
    quote: str


class EvidenceCitation(SQLModel, table=True):
    """The studies an evidence item reports, by their number in the source's reference list."""

    __tablename__ = "evidence_citation"
    evidence_id: str = Field(primary_key=True, foreign_key="evidence.id")
    number: int = Field(primary_key=True)
    position: int  # order in cited_reference
    cited_work_id: Optional[str] = Field(default=None, foreign_key="cited_work.id")  # NULL: not in the text's list


class Dismissal(SQLModel, table=True):
    """A candidate sentence a curator read and dismissed (no evidence item), with the reason."""

    __tablename__ = "dismissal"
    source_id: str = Field(primary_key=True, foreign_key="source.id")
    document_id: str = Field(primary_key=True, foreign_key="document.id")
    start: int = Field(primary_key=True)
    end: int
    quote: str
    reason: str
    curation_file: str
    curation_line: int


class MarkerEvidence(SQLModel, table=True):
    """Read model: each marker's evidence items rendered as `kb query` returns them (every status,
    strongest first, with links). Derived at build from the tables above, re-derived and compared by
    `kb check`; it turns the common query, one marker, into one indexed row (see benchmarks, section query)."""

    __tablename__ = "marker_evidence"
    marker_id: str = Field(primary_key=True, foreign_key="marker.id")
    n_items: int
    items: str  # JSON list


class PamModel(SQLModel, table=True):
    __tablename__ = "pam_model"
    id: str = Field(primary_key=True)
    source_id: str = Field(foreign_key="source.id")
    marker_id: Optional[str] = Field(default=None, foreign_key="marker.id")
    name: str
    classes: str  # JSON list, in table order
    n_per_class: str  # JSON {class: n}
    priors: str  # JSON {class: prior}, n_k / n
    scale: str
    validation: Optional[str] = None
    performance: str = "[]"  # JSON list of {metric, percent, numerator, denominator, links}
    provenance: str = "[]"  # JSON list of {what, document, start, end, quote}


class PamGene(SQLModel, table=True):
    __tablename__ = "pam_gene"
    model_id: str = Field(primary_key=True, foreign_key="pam_model.id")
    symbol: str = Field(primary_key=True)
    position: int
    centroids: str  # JSON {class: shrunken centroid}
    sd: float = Field(sa_column=Column(Double, nullable=False))  # s_i + s0


class KbMeta(SQLModel, table=True):
    __tablename__ = "kb_meta"
    key: str = Field(primary_key=True)
    value: str
