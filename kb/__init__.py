"""biomarker-kb as a library: store (DuckDB), query, marker resolution, PAM scoring, patient evaluation.

Submodules are imported by name (`from kb import query`); nothing heavy happens at import time.
"""
