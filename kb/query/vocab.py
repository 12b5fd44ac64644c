"""Controlled vocabularies at query time: spelling -> canonical term, and the disease hierarchy."""
from __future__ import annotations

import duckdb

from kb.core import store
from kb.core.errors import InputError
from kb.core.normalize import norm


class Vocabulary:
    def __init__(self, con: duckdb.DuckDBPyConnection, vocabulary: str):
        self.vocabulary = vocabulary
        self.terms = {t["name"]: t for t in store.terms(con, vocabulary)}
        self.aliases = store.term_aliases(con, vocabulary)

    def lookup(self, text: str) -> dict | None:
        name = self.aliases.get(norm(text or ""))
        return self.terms[name] if name else None

    def resolve(self, text: str, field: str | None = None) -> dict:
        term = self.lookup(text)
        if term is None:
            raise InputError(f"{field or self.vocabulary}: unknown {self.vocabulary} {text!r}; expected one of {', '.join(self.terms)}")
        return term

    def ancestors(self, name: str) -> list[str]:
        """name, its parent, grandparent, ... (diseases)."""
        chain = []
        while name and name not in chain:
            chain.append(name)
            name = self.terms.get(name, {}).get("parent")
        return chain

    def descendants(self, name: str) -> list[str]:
        """name and every term below it (diseases): a query for LBCL includes DLBCL evidence."""
        return [t for t in self.terms if name in self.ancestors(t)]
