"""Controlled vocabularies at query time: spelling or code -> canonical term, the disease hierarchy (a small
DAG: B-ALL is an ALL and a B-cell malignancy), and suggestions for a misspelt term."""
from __future__ import annotations

import duckdb

from kb.core import store
from kb.core.errors import InputError
from kb.core.normalize import norm
from schemas.codes import icd10_ancestors, parse_code

SUGGEST_CUTOFF = 75.0


class UnknownTerm(InputError):
    def __init__(self, message: str, suggestions: list[str]):
        self.suggestions = suggestions
        super().__init__(message)


class Vocabulary:
    def __init__(self, con: duckdb.DuckDBPyConnection, vocabulary: str):
        self.vocabulary = vocabulary
        self._con = con
        self.terms = {t["name"]: t for t in store.terms(con, vocabulary)}
        self.aliases = store.term_aliases(con, vocabulary)
        self._spellings: dict[str, str] | None = None
        self.codes: dict[tuple[str, str], str] = {}
        for t in self.terms.values():
            for system, code in (("DOID", t.get("doid")), ("NCIT", t.get("ncit")), ("SNOMED", t.get("snomed"))):
                if code:
                    self.codes[(system, code)] = t["name"]
            for code in t.get("rxnorm") or []:
                self.codes[("RXNORM", code)] = t["name"]
            for code in t.get("icd10") or []:
                self.codes[("ICD10", code)] = t["name"]

    @property
    def spellings(self) -> dict[str, str]:
        """Every spelling as its words ('axicabtagene ciloleucel') -> term name, for finding one inside a text."""
        if self._spellings is None:
            import re

            from kb.core.normalize import norm_words

            spellings: dict[str, str] = {}  # filled, then published: a reader on another thread sees all or none
            for name, spelling in store.term_spellings(self._con, self.vocabulary):
                spellings.setdefault(" ".join(re.findall(r"[0-9a-z]+", norm_words(spelling))), name)
            self._spellings = spellings
        return self._spellings

    def by_code(self, system: str, code: str) -> dict | None:
        """The term a code names; an ICD-10 code also matches through the codes above it (C83.30 -> C83.3)."""
        candidates = icd10_ancestors(code) if system == "ICD10" else [code]
        for c in candidates:
            name = self.codes.get((system, c))
            if name:
                return self.terms[name]
        return None

    def lookup(self, text: str) -> dict | None:
        name = self.aliases.get(norm(text or ""))
        if name:
            return self.terms[name]
        parsed = parse_code(text)
        return self.by_code(*parsed) if parsed else None

    def suggest(self, text: str, limit: int = 3) -> list[str]:
        """The closest term names to a misspelling (by their names and aliases)."""
        from rapidfuzz import fuzz, process

        query = norm(text or "")
        # a spelling that only adds a negation is the opposite term, not a typo ('Hodgkin' is not 'non-Hodgkin')
        choices = {key: name for key, name in self.aliases.items()
                   if len(key) >= 3 and not (key.startswith("non") and not query.startswith("non"))}
        found = process.extract(query, list(choices), scorer=fuzz.ratio, limit=limit * 4)
        out: list[str] = []
        for key, score, _ in found:
            if score >= SUGGEST_CUTOFF and choices[key] not in out:
                out.append(choices[key])
        return out[:limit]

    def resolve(self, text: str, field: str | None = None) -> dict:
        term = self.lookup(text)
        if term is None:
            parsed = parse_code(text)
            if parsed:
                raise UnknownTerm(f"{field or self.vocabulary}: no {self.vocabulary} in the knowledge base has the "
                                  f"{parsed[0]} code {parsed[1]!r}; expected one of {', '.join(self.terms)}", [])
            near = self.suggest(text)
            hint = (f" (did you mean {' or '.join(near)}?)" if near else "") + f"; expected one of {', '.join(self.terms)}"
            raise UnknownTerm(f"{field or self.vocabulary}: unknown {self.vocabulary} {text!r}{hint}", near)
        return term

    def parents(self, name: str) -> list[str]:
        term = self.terms.get(name) or {}
        return list(term.get("parents") or ([term["parent"]] if term.get("parent") else []))

    def ancestors(self, name: str) -> list[str]:
        """name, its parents, their parents, ... nearest first (diseases)."""
        chain, frontier = [], [name] if name else []
        while frontier:
            nxt = []
            for n in frontier:
                if n not in chain:
                    chain.append(n)
                    nxt.extend(self.parents(n))
            frontier = nxt
        return chain

    def descendants(self, name: str) -> list[str]:
        """name and every term below it (diseases): a query for LBCL includes DLBCL evidence."""
        return [t for t in self.terms if name in self.ancestors(t)]
