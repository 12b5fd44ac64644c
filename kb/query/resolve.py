"""Marker resolution: exact alias, then normalised alias, then a guarded fuzzy match.

The fuzzy step only compares spellings that carry the same numbers ('interleukin-6' can never become
IL-2 or IL-10), never targets exact-only spellings (three characters or fewer, where edit distance means
nothing, and common words a marker file lists as `exact_aliases`, such as 'lymphocytes'), and refuses to
choose between near-tied markers: an ambiguous input is an error that lists the candidates.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from kb.core import store
from kb.core.errors import InputError, NotFound
from kb.core.normalize import digit_groups, norm, norm_words
from schemas.codes import parse_code

FUZZY_CUTOFF = 80.0
NEAR_TIE = 6.0  # WRatio points within which two markers are indistinguishable (its length-ratio steps are 5)
MIN_FUZZY_LEN = 4  # normalised characters below which a spelling must match exactly
SAME_WORD = 85.0  # without a shared word, a spelling must be this close as a whole (a typo)


MAX_LISTED = 6  # candidates named in an ambiguity message; the rest are counted
# Words that say how a marker was measured, not which marker: 'serum LDH', 'ferritin level'. A query's other
# words must each be found in the spelling it matches (see _covered).
MEASUREMENT_WORDS = frozenset({
    "level", "levels", "serum", "plasma", "blood", "baseline", "pretreatment", "count", "counts", "concentration",
    "concentrations", "value", "values", "measurement", "test", "elevated", "high", "low", "peak", "the", "of", "and",
    "in", "at", "on", "for", "with", "by"})
WORD_MATCH = 80.0  # a query word is found in a spelling when one of its words is this close (typos pass)


def _words(text: str) -> set[str]:
    """Alphabetic words, digits and punctuation split off: 'IL-6 level' -> {'il', 'level'}."""
    return set(re.findall(r"[a-z]+", norm_words(text)))


def _covered(query_words: set[str], alias_words: set[str]) -> bool:
    """Every content word of the query (three letters or more, not a measurement word) is in the spelling,
    exactly or as a typo. WRatio alone scores a long spelling high on any shared fragment: 'zzzz not a marker'
    scored 85 against 'tumor necrosis factor a signaling' through the word 'a', and 'interleukin six' 87
    against 'interleukin signaling pathway'."""
    from rapidfuzz import fuzz

    for word in query_words:
        if len(word) < 3 or word in MEASUREMENT_WORDS or word in alias_words:
            continue
        if not any(fuzz.ratio(word, other) >= WORD_MATCH for other in alias_words):
            return False
    return True


@dataclass(frozen=True)
class Resolved:
    id: str
    name: str
    score: float
    how: str  # exact | normalized | fuzzy | code
    matched: str  # the alias that matched

    def as_json(self) -> dict:
        return {"id": self.id, "name": self.name, "score": round(self.score, 1), "how": self.how, "alias": self.matched}


class AmbiguousMarker(InputError):
    def __init__(self, text: str, candidates: list[tuple[str, float]], code: str | None = None):
        self.candidates = candidates
        if code:
            super().__init__(f"marker {text!r} is ambiguous: {code} identifies {', '.join(n for n, _ in candidates)}; "
                             "use a marker name")
            return
        listed = ", ".join(f"{name} ({score:.0f})" for name, score in candidates[:MAX_LISTED])
        if len(candidates) > MAX_LISTED:
            listed += f" and {len(candidates) - MAX_LISTED} more (kb markers --search lists them all)"
        super().__init__(f"marker {text!r} is ambiguous: it matches {listed} about equally; use a more specific name")


class UnknownMarker(NotFound):
    def __init__(self, text: str, nearest: list[str], why: str | None = None):
        self.nearest = nearest
        hint = f"; nearest: {', '.join(nearest)}" if nearest else ""
        super().__init__(f"no marker matches {text!r}" + (f": {why}" if why else hint))


class MarkerIndex:
    """Resolution against one knowledge base: exact and normalised spellings by indexed lookup, and the
    full spelling list loaded only when a fuzzy match is needed (a large knowledge base has many)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self._aliases: list[tuple[str, str, str]] | None = None
        self._names: dict[str, str] | None = None

    @property
    def aliases(self) -> list[tuple[str, str, str, bool]]:
        if self._aliases is None:
            self._aliases = store.marker_aliases(self.con)
        return self._aliases

    @property
    def names(self) -> dict[str, str]:
        if self._names is None:
            self._names = store.marker_names(self.con)
        return self._names

    def _lookup(self, text: str, key: str) -> tuple[str, bool] | None:
        """(marker id, exact?) for a spelling whose normalised form is known; exact spellings win."""
        hits = sorted(store.markers_by_norm(self.con, key, text), key=lambda hit: not hit[1])
        return hits[0] if hits else None

    def by_code(self, system: str, code: str, text: str | None = None) -> Resolved:
        """The marker a LOINC code or HGNC id identifies; UnknownMarker when none, AmbiguousMarker when a gene
        id names several markers (CD19 mutation, CD19 expression, ...)."""
        hits = store.markers_by_code(self.con, system, code)
        if not hits:
            raise UnknownMarker(text or code, [], f"no marker in the knowledge base has the {system} code {code}")
        if len(hits) > 1:
            raise AmbiguousMarker(text or code, [(self.names[m], 100.0) for m in hits], f"the {system} code {code}")
        return Resolved(hits[0], self._name(hits[0]), 100.0, "code", f"{system}:{code}" if system == "LOINC" else code)

    def resolve(self, text: str) -> Resolved:
        text = (text or "").strip()
        if not text:
            raise InputError("marker: expected a marker name, got an empty string")
        parsed = parse_code(text)
        if parsed and parsed[0] in ("LOINC", "HGNC"):
            return self.by_code(*parsed, text=text)
        key = norm(text)
        hit = self._lookup(text, key) if key else None
        if hit is not None:
            mid, exact = hit
            return Resolved(mid, self._name(mid), 100.0, "exact" if exact else "normalized", text)
        ranked = self._fuzzy(text)
        if not ranked or ranked[0][1] < FUZZY_CUTOFF or len(key) < MIN_FUZZY_LEN - 1:
            raise UnknownMarker(text, [self.names[mid] for mid, score, _ in self._nearest(text)])
        if len(ranked) > 1 and ranked[1][1] >= FUZZY_CUTOFF and ranked[0][1] - ranked[1][1] < NEAR_TIE:
            close = [(self.names[mid], score) for mid, score, _ in ranked if ranked[0][1] - score < NEAR_TIE]
            raise AmbiguousMarker(text, close)
        mid, score, alias = ranked[0]
        return Resolved(mid, self.names[mid], score, "fuzzy", alias)

    def _name(self, mid: str) -> str:
        return self._names[mid] if self._names is not None else store.marker_name(self.con, mid)

    def _fuzzy(self, text: str, same_digits: bool = True) -> list[tuple[str, float, str]]:
        """Best WRatio per marker, highest first: [(marker id, score, alias)]. For resolution (`same_digits`)
        a spelling must also hold every content word of the query; suggestions skip both guards."""
        from rapidfuzz import fuzz, utils

        digits = digit_groups(text)
        query = utils.default_process(text)
        words = _words(text)
        best: dict[str, tuple[float, str]] = {}
        for mid, alias, key, exact_only in self.aliases:
            if exact_only or len(key) < MIN_FUZZY_LEN:  # short spellings and common words match only as typed
                continue
            if same_digits and digit_groups(alias) != digits:
                continue
            alias_words = _words(alias)
            if not (words & alias_words or fuzz.ratio(norm(text), key) >= SAME_WORD):
                continue  # WRatio's partial matching pairs 'interleukin 2' with 'exon 2 partial deletion'
            if same_digits and not _covered(words, alias_words):
                continue
            score = fuzz.WRatio(query, utils.default_process(alias))
            if score > best.get(mid, (-1.0, ""))[0]:
                best[mid] = (score, alias)
        return sorted(((mid, s, a) for mid, (s, a) in best.items()), key=lambda r: (-r[1], r[0]))

    def _nearest(self, text: str, limit: int = 3) -> list[tuple[str, float, str]]:
        """Suggestions for an error message: ignore the digit guard, keep the closest few."""
        return [r for r in self._fuzzy(text, same_digits=False) if r[1] >= 50][:limit]


def resolve_marker(con: duckdb.DuckDBPyConnection, text: str) -> Resolved:
    return MarkerIndex(con).resolve(text)
