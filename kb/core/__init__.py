"""The core every other layer stands on: errors, normalisation, paths, text (numbers, rules, effects,
items in context), evidence-item rendering (`items`), and the read-only store (`store`: opening an
existing database, never building one).

May import: `schemas` and `kb.core` only. `ingest` imports it; it imports neither `ingest` nor any other
part of `kb`.
"""
