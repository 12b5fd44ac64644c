"""Patient risk summaries: `records` (reading patient records), `applicability` (does an item's
population cover the patient), `verdict` (what an item's rule says for a value), `evaluator`
(the summary: every applicable finding, the PAM block, the disclaimer).

May import: `kb.core`, `kb.query`, `kb.pam`, `schemas`.
"""
