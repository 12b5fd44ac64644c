"""Data contracts: SQLModel tables (tables.py), curation-file models (curation.py), patient records.

Submodules are imported by name; this package imports nothing so the query path stays light.
"""
