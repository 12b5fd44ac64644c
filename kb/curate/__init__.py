"""Curators' tools over a built knowledge base: `candidates` (marker mentions the curation does not yet
cover), `export` (JSON, CSV, Parquet, CIViC TSV), `check` (re-verify everything the database stores).

May import: `kb.core`, `kb.query`, `schemas`.
"""
