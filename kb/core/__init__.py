"""The core every other layer stands on: errors, normalisation, paths, units (UCUM spellings, dimensions and
conversions: the build checks rule units with them, evaluation converts values), text (numbers, rules,
effects, items in context), evidence-item rendering (`items`), the read-only store (`store`: opening an
existing database, never building one), and `progress` (polling a long DuckDB statement's progress).

May import: `schemas` and `kb.core` only. `ingest` imports it; it imports neither `ingest` nor any other
part of `kb`.
"""
