"""PAM (nearest shrunken centroids, exact to pamr): `engine` (the estimator), `cv` (folds, CV paths,
threshold choice), `model` (a model as one object; the published one from the knowledge base),
`model_file` (model files), `open` (a file or a knowledge-base id), `train`, `cohort` and `cohort_sql`
(`kb score` in DuckDB), `expression` (shared expression conventions), `summary` (the PAM block of a
patient summary).

May import: `kb.core`, `kb.query` (to open the knowledge base), `schemas`.
"""
