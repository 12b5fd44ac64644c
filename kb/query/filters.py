"""Resolving a query's filters (disease names and subtypes, therapy or therapy class, enums) to `Filters`."""
from __future__ import annotations

from kb.core.errors import InputError
from kb.core.items import Filters
from kb.query.vocab import Vocabulary
from schemas.enums import CONTEXTS, DIRECTIONS

STATUS_FILTERS = ("accepted", "submitted", "rejected", "all")


def disease_scope(con, disease: str, broader: bool = False) -> dict[str, str]:
    """Every disease a --disease query covers -> how: 'same', 'narrower' (a subtype) or, with `broader`,
    'broader' (an ancestor: evidence recorded for lymphoma when the query is DLBCL)."""
    names = Vocabulary(con, "disease")
    name = names.resolve(disease, "--disease")["name"]
    scope = {d: ("same" if d == name else "narrower") for d in names.descendants(name)}
    if broader:
        for d in names.ancestors(name)[1:]:
            scope.setdefault(d, "broader")
    return scope


def resolve_filters(con, marker_id=None, disease=None, therapy=None, direction=None, evidence_type=None,
                    status="accepted", source=None, broader=False, context=None) -> Filters:
    diseases = therapy_name = therapy_class = None
    if disease:
        diseases = tuple(disease_scope(con, disease, broader))
    if therapy:
        therapies = Vocabulary(con, "therapy")
        if therapy in {t["therapy_class"] for t in therapies.terms.values()}:
            therapy_class = therapy
        else:
            therapy_name = therapies.resolve(therapy, "--therapy")["name"]
    if direction and direction not in DIRECTIONS:
        raise InputError(f"--direction: expected one of {', '.join(DIRECTIONS)}, got {direction!r}")
    if status not in STATUS_FILTERS:
        raise InputError(f"--status: expected one of {', '.join(STATUS_FILTERS)}, got {status!r}")
    if context and context not in CONTEXTS:
        raise InputError(f"--context: expected one of {', '.join(CONTEXTS)}, got {context!r}")
    return Filters(marker_id, diseases, therapy_name, therapy_class, direction or None, evidence_type or None,
                   status, source or None, context or None)


def evidence_filters(con, marker_id=None, disease=None, therapy=None, direction=None, evidence_type=None,
                     status="accepted", source=None, context=None) -> tuple[str, list]:
    """A WHERE clause and its parameters for the given filters (see Filters)."""
    return resolve_filters(con, marker_id, disease, therapy, direction, evidence_type, status, source,
                           context=context).sql()
