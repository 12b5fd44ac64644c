"""Turns seeds (papers + curation files) into rows: documents, quotes -> spans, tables, checks."""
