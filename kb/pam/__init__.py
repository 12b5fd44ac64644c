"""PAM (nearest shrunken centroids, exact to pamr): `engine` (the estimator), `inputs` (its checks),
`path` (the discriminant along the threshold grid), `cv` (folds, CV, threshold choice) and `cv_result`,
`confusion` (pamr.confusion), `genes` (pamr.listgenes), `adaptive` (pamr.adaptthresh), `fdr` (pamr.fdr),
`model` (a model as one object; the published one from the knowledge base), `model_file` (model files),
`open` (a file or a knowledge-base id), `train`, `cohort` and `cohort_sql` (`kb score` in DuckDB),
`expression` (shared expression conventions), `summary` (the PAM block of a patient summary), `plots`
and `figures` (matplotlib, imported only when drawing).

May import: `kb.core`, `kb.query` (to open the knowledge base), `schemas`.
"""
