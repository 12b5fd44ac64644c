"""biomarker-kb as a library, grouped by what it does (docs/design.md, "Layers"):

- `kb.core`: errors, normalisation, paths, text and item rendering, the read-only store. Imports only
  `schemas` and itself; `ingest` builds on it.
- `kb.query`: the query API, marker resolution, vocabularies, filters, and the database a query reads
  (built on first use). Above `ingest`.
- `kb.pam`: the nearest-shrunken-centroid engine, CV, models and model files, training, cohort scoring,
  the PAM block of a patient summary.
- `kb.evaluate`: patient records, units, applicability, verdicts, the risk summary.
- `kb.curate`: candidate mentions, exports, `kb check`.

Subpackages are imported by name (`from kb import query`); nothing heavy happens at import time.
"""
