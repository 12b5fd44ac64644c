"""Closed vocabularies of the data model (docs/design.md, "Data model"). Plain tuples: the query path may import them."""

SCHEMA_VERSION = 4

SOURCE_KINDS = ("primary study", "review", "case series")
DOCUMENT_FORMATS = ("pdf-text", "markdown", "text")
MARKER_KINDS = (
    "lab", "imaging", "genomic", "transcriptomic", "signature", "cellular_kinetics", "cytokine",
    "clinical_score", "immunophenotype", "microbiome", "other",
)
EVIDENCE_TYPES = (
    "predictive", "prognostic", "diagnostic", "monitoring", "safety", "response", "susceptibility",
    "mechanistic",
)
DIRECTIONS = ("unfavorable", "favorable", "mixed", "none")
# clinical: patients of the stated population; preclinical: animal models, cell lines, in vitro work;
# background: general knowledge the paper states or cites, not tied to a studied population.
CONTEXTS = ("clinical", "preclinical", "background")
LEVELS = ("A", "B", "C", "D", "E")
STATUSES = ("accepted", "submitted", "rejected")
RULE_OPERATORS = (">", ">=", "<", "<=", "=", "between", "category")
RULE_REFERENCES = ("absolute", "ULN", "category")
EFFECT_MEASURES = ("HR", "OR", "RR", "rate_pair", "median_pair", "AUC", "accuracy", "descriptive")
TIMEPOINT_PHASES = ("pre", "post", "any")
REFERENCE_STYLES = ("nature", "vancouver")
