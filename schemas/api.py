"""Pydantic models of the HTTP API's response bodies: they document `/openapi.json` (a schema for every
response) and the schemathesis run checks each real response against them. The bodies themselves are
the library's dicts, serialized as they are (the models never reshape them); `extra="allow"` lets a
later field (a new code column, say) through without breaking older clients' schemas.
"""
from __future__ import annotations

from typing import Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class KBVersion(_Open):
    schema_: int = Field(alias="schema", description="Schema version of the database.")
    content: Optional[str] = Field(description="Content hash of the seeds the database was built from.")


class ClosestPassage(_Open):
    """The passage of the paper most like a quote that is not in it."""
    document_id: str
    document: str = Field(description="The document's path in seeds/.")
    start: int
    end: int
    text: str = Field(description="Exactly the document's text[start:end].")
    similarity: float = Field(description="Percent alike (folded characters, rapidfuzz partial ratio).")
    marked: str = Field(description="The passage, whitespace runs as one space, with the differences marked wdiff style.")
    differences: int
    marking: str = Field(description="How differences are marked: `[-paper-]{+quote+}`.")


class ProblemItem(_Open):
    """One of several problems: of a curation file (file, line, field, problem) or of a batch of records (record)."""
    message: str = Field(description="What the CLI prints after `kb: error: ` for it (a closest passage on the lines under it).")
    file: Optional[str] = None
    line: Optional[int] = None
    field: Optional[str] = Field(default=None, description="Dotted path with list indices, e.g. evidence[3].rule.value.")
    problem: Optional[str] = None
    closest: Optional[ClosestPassage] = Field(default=None, description="A quote not in the text: its closest passage.")
    record: Optional[str] = Field(default=None, description="A batch of records: the bad record (file, file:line or file[i]).")


class Problem(_Open):
    """RFC 9457 problem details."""
    type: str
    title: str
    status: int
    detail: str = Field(description="The one-line message the CLI prints after `kb: error: ` (when `problems` lists several: the first, and how many more).")
    nearest: Optional[list[str]] = Field(default=None, description="Unknown marker: the closest markers.")
    candidates: Optional[list[dict[str, Any]]] = Field(default=None, description="Ambiguous marker: the near-tied markers.")
    problems: Optional[list[ProblemItem]] = Field(default=None, description="A curation file or a batch of records: every problem, in order.")
    summary: Optional[str] = Field(default=None, description="A batch of records: how many were bad (the CLI's last line).")


class Page(_Open):
    offset: int
    limit: Optional[int]
    total: int


# ---- evidence ----------------------------------------------------------------------------------------

class Rule(_Open):
    operator: str
    value: Optional[Union[float, int]] = None
    value_high: Optional[Union[float, int]] = None
    unit: Optional[str] = None
    reference: Optional[str] = None
    category: Optional[str] = None


class Effect(_Open):
    measure: str
    value: Optional[Union[float, int]] = None
    ci: Optional[list[Optional[Union[float, int]]]] = None
    p: Optional[float] = None
    p_text: Optional[str] = None
    text: Optional[str] = None
    groups: list[dict[str, Any]] = []


class SourceRef(_Open):
    id: str
    title: Optional[str]
    doi: Optional[str]
    year: Optional[int]
    license: Optional[str] = Field(default=None, description="The licence the source's text states (null: it states none).")


class CitedWork(_Open):
    """A study an item reports: an entry of the source's reference list, its fields as printed."""
    number: int
    id: Optional[str] = Field(description="null: the number is not in the text's (partial) reference list.")
    in_text: bool
    authors: Optional[str]
    title: Optional[str]
    journal: Optional[str]
    year: Optional[int]
    volume: Optional[str]
    issue: Optional[str]
    pages: Optional[str]
    doi: Optional[str]
    pmid: Optional[str]
    partial: Optional[bool] = Field(description="The beginning of the entry is not in the text.")
    citation: str = Field(description="'Nastoupil et al., 2020, J Clin Oncol (ref. 53 in xu2023)'.")


class Link(_Open):
    document: str
    document_id: str
    sha256: str
    start: int
    end: int
    quote: str


class ShownLink(Link):
    before: str
    after: str


class EvidenceItem(_Open):
    id: str
    marker: str
    marker_id: str
    evidence_type: str
    direction: Optional[str] = Field(description="null: the text gives no direction.")
    context: str = Field(description="clinical | preclinical | background; only clinical items give a patient verdict.")
    disease: Optional[str]
    therapy: Optional[str]
    therapy_class: Optional[str]
    timepoint: Optional[str]
    specimen: Optional[str]
    outcome: Optional[str]
    rule: Optional[Rule]
    effect: Optional[Effect]
    n_patients: Optional[int]
    level: Optional[str]
    cited_reference: Optional[str]
    cited_works: list[CitedWork] = []
    statement: Optional[str]
    note: Optional[str] = None
    status: str
    curator: Optional[str]
    curated_at: Optional[str]
    source: SourceRef
    links: list[Link]


class Resolved(_Open):
    id: str
    name: str
    score: float
    how: str
    alias: str


class EvidenceQuery(_Open):
    marker: Optional[str]
    resolved: Optional[Resolved]
    disease: Optional[str]
    therapy: Optional[str]
    direction: Optional[str]
    type: Optional[str]
    status: str
    context: Optional[str] = None


class EvidenceResult(_Open):
    """`kb query --format json`."""
    kb_version: KBVersion
    query: EvidenceQuery
    evidence: list[EvidenceItem]
    page: Optional[Page] = None


class ShownItem(EvidenceItem):
    links: list[ShownLink]


class ShowResult(_Open):
    """`kb show ID --format json`."""
    kb_version: KBVersion
    evidence: ShownItem


# ---- markers, sources, documents -----------------------------------------------------------------

class Match(_Open):
    alias: str
    score: float
    how: str


class MarkerRow(_Open):
    id: str
    name: str
    full_name: Optional[str]
    kind: str
    unit: Optional[str]
    loinc: Optional[str]
    hgnc_symbol: Optional[str]
    aliases: list[str]
    n_evidence: int
    match: Optional[Match] = Field(default=None, description="With ?search=: the spelling that matched, and how well.")


class MarkersResult(_Open):
    """`kb markers --format json` (with `--search TEXT`: `query` and each marker's `match`)."""
    kb_version: KBVersion
    query: Optional[dict[str, Any]] = None
    markers: list[MarkerRow]
    page: Optional[Page] = None


class MarkerDetail(MarkerRow):
    description: Optional[str]
    n_evidence_by_status: dict[str, int]


class MarkerResult(_Open):
    kb_version: KBVersion
    marker: MarkerDetail


class DocumentRow(_Open):
    id: str
    path: str
    original_name: Optional[str]
    sha256: str
    format: str
    n_chars: int


class SourceRow(_Open):
    id: str
    title: Optional[str]
    authors: list[Any]
    journal: Optional[str]
    year: Optional[int]
    doi: Optional[str]
    pmid: Optional[str]
    kind: str
    license: Optional[str]
    license_link: Optional[dict[str, Any]] = Field(default=None, description="The sentence of the text that states the licence.")
    n_evidence: int
    n_cited_works: int = 0
    documents: list[DocumentRow]


class SourcesResult(_Open):
    """`kb sources --format json`."""
    kb_version: KBVersion
    sources: list[SourceRow]
    page: Optional[Page] = None


class DocumentText(DocumentRow):
    source_id: str
    text: str = Field(description="The text, or text[start:end] when a slice was asked for.")
    start: int
    end: int


class DocumentResult(_Open):
    kb_version: KBVersion
    document: DocumentText


# ---- PAM -------------------------------------------------------------------------------------------

class ModelRow(_Open):
    id: str
    name: str
    kind: str
    source: Optional[str]
    marker_id: Optional[str]
    classes: list[str]
    n_genes: int
    genes: list[str]


class ModelsResult(_Open):
    kb_version: KBVersion
    models: list[ModelRow]
    page: Optional[Page] = None


class ModelShow(_Open):
    """`kb pam show ID --format json`."""
    kb_version: Optional[KBVersion]
    model: dict[str, Any]
    genes: list[dict[str, Any]]
    priors: dict[str, dict[str, float]]
    performance: list[dict[str, Any]]
    validation: Optional[dict[str, Any]]
    training: Optional[dict[str, Any]]
    facts: dict[str, Any]


# ---- evaluate, score -------------------------------------------------------------------------------

class Applicability(_Open):
    level: str
    reason: str


class Finding(_Open):
    marker: str
    marker_id: str
    evidence_id: str
    evidence_type: str
    direction: Optional[str]
    context: str = Field(description="clinical | preclinical | background; preclinical and background findings are always indeterminate.")
    outcome: Optional[str]
    population: dict[str, Optional[str]]
    applicability: Applicability
    observed: dict[str, Any]
    rule: Optional[Rule]
    rule_met: Optional[bool]
    verdict: str
    verdict_reason: Optional[str]
    explanation: Optional[str]
    effect: Optional[Effect]
    level: Optional[str]
    n_patients: Optional[int]
    cited_works: list[str] = []
    note: Optional[str] = None
    source: SourceRef
    links: list[dict[str, Any]]


class Summary(_Open):
    """One patient's risk summary: `kb evaluate --format json`."""
    kb_version: KBVersion
    patient: dict[str, Any]
    findings: list[Finding]
    pam: Optional[dict[str, Any]]
    summary: dict[str, Any]
    disclaimer: str


class ScoreRow(_Open):
    sample_id: str
    delta: dict[str, Optional[float]]
    posterior: dict[str, Optional[float]]
    call: Optional[str]
    n_genes: int


class ScoreResult(_Open):
    """The summary `kb score --format json` prints, and one row per sample."""
    kb_version: Optional[KBVersion]
    cohort: str
    out: None
    format: str
    model: dict[str, Any]
    priors: str
    priors_used: dict[str, float]
    n_samples: int
    columns: dict[str, str]
    incomplete: int
    min_genes: int
    calls: dict[str, int]
    seconds: float
    rows: list[ScoreRow]


# ---- service ---------------------------------------------------------------------------------------

class Version(_Open):
    package: str
    kb_version: KBVersion


class Health(_Open):
    status: str
    kb_version: KBVersion
