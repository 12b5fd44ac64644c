"""Training a nearest-shrunken-centroid model from an expression matrix and labels (`kb pam train`).

Fits (optionally with adaptive class-wise threshold scales, as pamr.adaptthresh, and a sign contrast),
cross-validates over the threshold grid (leave-one-out, balanced K folds, or folds read from a file),
chooses the threshold (lowest CV error, ties to the larger threshold, among thresholds that keep at least
one gene) and keeps the genes that survive it, with the confusion matrices and the gene list at it.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.core.errors import InputError
from kb.pam.adaptive import AdaptiveScales, adaptive_threshold_scales
from kb.pam.confusion import Confusion
from kb.pam.cv_result import CVResult
from kb.pam.engine import NearestShrunkenCentroid
from kb.pam.genes import GeneScore
from kb.pam.model import PamModel
from kb.pam.model_file import save_model
from kb.pam.path import SIGN_CONTRASTS

# progress(stage, done, total): the step now running and how many of the total are done
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, eq=False)
class TrainResult:
    """A trained model, the cross-validation that chose its threshold, and pamr's reports at it."""

    model: PamModel
    estimator: NearestShrunkenCentroid
    cv: CVResult
    threshold: float
    chosen_by: str
    n_genes_in: int
    confusion_train: Confusion
    confusion_cv: Confusion
    genes: list[GeneScore]
    adaptive: AdaptiveScales | None

    @property
    def thresholds(self) -> list[float]:
        return self.estimator.thresholds_.tolist()

    @property
    def nonzero(self) -> list[int]:
        return self.estimator.nonzero_.tolist()

    @property
    def cv_errors(self) -> list[float]:
        return self.cv.errors.tolist()

    @property
    def threshold_scale(self) -> dict[str, float]:
        return dict(zip(self.model.classes, self.estimator.threshold_scale_.tolist()))


def parse_folds(folds) -> str | int | Path:
    """"loo", a number of folds K >= 2, or a folds file (a CLI string naming an existing file or a .csv/.tsv)."""
    if folds == "loo":
        return "loo"
    if isinstance(folds, Path) or (isinstance(folds, str) and (Path(folds).is_file() or folds.lower().endswith(
            (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")))):
        return Path(folds)
    try:
        k = int(str(folds))
    except ValueError:
        raise InputError(f"--folds: expected loo, a number of folds >= 2 or a folds file (CSV/TSV); got {folds!r}") from None
    if k < 2:
        raise InputError(f"--folds: expected loo, a number of folds >= 2 or a folds file (CSV/TSV); got {folds!r}")
    return k


def parse_threshold(threshold) -> str | float:
    if threshold == "auto":
        return "auto"
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise InputError(f"--threshold: expected auto or a number >= 0; got {threshold!r}") from None
    if not (math.isfinite(t) and t >= 0):
        raise InputError(f"--threshold: expected auto or a number >= 0; got {threshold!r}")
    return t


def read_folds(path, ids: list[str]) -> tuple[list[np.ndarray], dict]:
    """Folds from a CSV or TSV with a header and two columns, sample id and fold number (pamr's own folds
    written out from R, for example). Every sample of ``ids`` must have exactly one fold.

    Returns (folds as 0-based index arrays in increasing fold number, their record for the model file).
    """
    from kb.pam.cohort import two_column_rows

    path = Path(path)
    rows = two_column_rows(path, "--folds", "sample, fold number")
    if len(rows) < 2:
        raise InputError(f"{path}: expected a header row and one row per sample (sample, fold); got {len(rows)} row(s)")
    where = {s: i for i, s in enumerate(ids)}
    fold_of: dict[str, int] = {}
    for n, (sample, fold) in rows[1:]:
        try:
            number = int(fold)
        except ValueError:
            raise InputError(f"{path}: line {n}: expected a whole fold number; got {fold!r}") from None
        if sample not in where:
            raise InputError(f"{path}: line {n}: sample {sample!r} is not in the expression file")
        if sample in fold_of:
            raise InputError(f"{path}: line {n}: sample {sample!r} appears twice; expected one fold per sample")
        fold_of[sample] = number
    missing = [s for s in ids if s not in fold_of]
    if missing:
        raise InputError(f"{path}: no fold for {len(missing)} sample(s): {', '.join(missing[:5])}"
                         f"{', ...' if len(missing) > 5 else ''}; expected every sample of the expression file")
    numbers = sorted(set(fold_of.values()))
    if len(numbers) < 2:
        raise InputError(f"{path}: every sample is in fold {numbers[0]}; expected at least 2 folds")
    folds = [np.array(sorted(where[s] for s, k in fold_of.items() if k == number), dtype=np.intp) for number in numbers]
    return folds, {"file": path.name, "k": len(folds), "samples": [[ids[i] for i in f] for f in folds]}


def _split(folds, y, seed):
    from kb.pam.engine import balanced_folds, leave_one_out_folds

    if folds == "loo":
        return leave_one_out_folds(y.size), "loo", "LOOCV"
    if isinstance(folds, int):
        return balanced_folds(y, folds, seed=seed), {"k": folds, "seed": int(seed)}, f"{folds}-fold CV"
    split, spec = folds
    return split, spec, f"{spec['k']}-fold CV"


def train(X, y, genes, *, folds="loo", threshold="auto", seed: int = 0, adaptive: bool = False,
          sign_contrast: str = "both", name: str = "PAM model", model_id: str = "trained",
          source: str = "", progress: Progress | None = None) -> TrainResult:
    """Fit pamr's nearest shrunken centroids, cross-validate every threshold and keep the surviving genes.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_genes), log2 expression
    y : array-like of shape (n_samples,), class labels (strings)
    genes : sequence of str, length n_genes
    folds : "loo", K (balanced folds, seeded) or (list of 0-based index arrays, their record) from
        :func:`read_folds`
    threshold : "auto" (lowest CV error among thresholds keeping a gene, ties to the larger threshold) or a value
    adaptive : bool
        Class-wise threshold scales from :func:`kb.pam.adaptive.adaptive_threshold_scales` (pamr.adaptthresh
        with its defaults), then the fit and the CV with those scales.
    sign_contrast : "both", "positive" or "negative"
    progress : ``progress(stage, done, total)``, called as each step starts (fit, adaptive scales,
        cross-validation, the reports at the threshold) and once at the end with done == total
    """
    steps = _Steps(progress, 3 + bool(adaptive))
    if not isinstance(folds, tuple):
        folds = parse_folds(folds)
        if isinstance(folds, Path):
            raise InputError("train: pass a folds file through read_folds(path, sample_ids) first")
    threshold = parse_threshold(threshold)
    if sign_contrast not in SIGN_CONTRASTS:
        raise InputError(f"--sign-contrast: expected one of {', '.join(SIGN_CONTRASTS)}; got {sign_contrast!r}")
    y = np.asarray([str(v) for v in y])
    steps.start(f"fitting {X.shape[0]} samples × {X.shape[1]} genes")
    est = NearestShrunkenCentroid(sign_contrast=sign_contrast).fit(X, y)
    scales = None
    if adaptive:
        steps.start("adaptive threshold scales")
        scales = adaptive_threshold_scales(est, X, y)
        est = NearestShrunkenCentroid(sign_contrast=sign_contrast,
                                      threshold_scale=scales.opt_scale).fit(X, y)
    split, folds_spec, validation = _split(folds, y, seed)
    steps.start(f"cross-validation ({validation}, {len(split)} folds)")
    cv = est.cross_validation(X, y, split)
    steps.start("threshold, genes and confusion")
    errors = cv.errors
    if threshold == "auto":
        # The grid ends where no gene survives and every sample gets the prior's class; a model needs a
        # gene, so the choice is among the thresholds that keep one.
        from kb.pam.engine import choose_threshold

        some = est.nonzero_ > 0
        t = choose_threshold(errors[some], est.thresholds_[some])
        chosen_by = "lowest CV error, ties to the larger threshold"
    else:
        t, chosen_by = threshold, "given"
    shrunken = est.shrunken_centroids(t)
    keep = (shrunken != est.overall_centroid_).any(axis=0)
    if not keep.any():
        raise InputError(f"--threshold {t:g}: no gene survives; expected a value below {est.thresholds_[-1]:.4g} "
                         "(the largest standardised centroid distance)")
    listed = est.list_genes(t, cv)
    confusion_train, confusion_cv = est.confusion(t), cv.confusion(t)
    classes = tuple(str(c) for c in est.classes_)
    kept = np.flatnonzero(keep)
    position = {g.index: g for g in listed}
    training = {"n_samples": int(y.size), "folds": folds_spec, "cv_errors": errors.tolist(),
                "thresholds": est.thresholds_.tolist(), "nonzero": est.nonzero_.tolist(),
                "cv_loglik": cv.loglik.tolist(), "sign_contrast": sign_contrast,
                "threshold_scale": dict(zip(classes, est.threshold_scale_.tolist())),
                "adaptive_thresholds": bool(adaptive),
                "genes_cv": {"av_rank_in_cv": [position[j].av_rank_in_cv for j in kept],
                             "prop_selected_in_cv": [position[j].prop_selected_in_cv for j in kept]}}
    model = PamModel(id=model_id, name=name, kind="trained", source=source, classes=classes,
                     genes=tuple(str(genes[j]) for j in kept), shrunken_centroids=shrunken[:, keep],
                     sd=est.sd_[keep], priors=dict(zip(classes, est.priors_.tolist())),
                     n_per_class=dict(zip(classes, map(int, est.n_per_class_))), scale="log2",
                     validation=validation, threshold=float(t), training=training,
                     overall_centroid=est.overall_centroid_[keep])
    named = [GeneScore(id=str(genes[g.index]), index=g.index, scores=g.scores, av_rank_in_cv=g.av_rank_in_cv,
                       prop_selected_in_cv=g.prop_selected_in_cv) for g in listed]
    steps.finish()
    return TrainResult(model=model, estimator=est, cv=cv, threshold=float(t), chosen_by=chosen_by,
                       n_genes_in=len(genes), confusion_train=confusion_train, confusion_cv=confusion_cv,
                       genes=named, adaptive=scales)


class _Steps:
    """Numbers the steps of a run for a ``progress(stage, done, total)`` callback (None: nothing is reported)."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, -1

    def start(self, stage: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(stage, self.done, self.total)

    def finish(self, stage: str = "trained") -> None:
        if self.progress is not None:
            self.progress(stage, self.total, self.total)

    def nested(self, steps: int) -> Progress | None:
        """The callback for `steps` steps run by a callee, numbered after the current one; the callee's own
        end is not reported (this run goes on)."""
        if self.progress is None:
            return None
        first, total, report = self.done + 1, self.total, self.progress
        self.done += steps
        return lambda stage, done, _total: report(stage, first + done, total) if done < steps else None


def train_files(expr, labels, out, *, folds="loo", threshold="auto", seed: int = 0, name: str | None = None,
                adaptive: bool = False, sign_contrast: str = "both", progress: Progress | None = None) -> TrainResult:
    """Train on an expression file (samples × genes) and a labels file, and write the model file to ``out``.

    ``progress(stage, done, total)`` is called as each step starts: reading the files, the steps of
    :func:`train`, writing the model file; and once at the end with done == total."""
    from kb.pam.cohort import read_labels, read_matrix

    folds, threshold = parse_folds(folds), parse_threshold(threshold)
    out = Path(out)
    if out.suffix.lower() != ".json":
        raise InputError(f"--out: expected a .json model file; got {str(out)!r}")
    inner = 3 + bool(adaptive)  # train's own steps, between reading and writing
    steps = _Steps(progress, inner + 2)
    steps.start(f"reading {Path(expr).name}")
    ids, genes, X = read_matrix(expr)
    y = read_labels(labels, ids, genes, expr)
    if isinstance(folds, Path):
        folds = read_folds(folds, ids)
    result = train(X, y, genes, folds=folds, threshold=threshold, seed=seed, adaptive=adaptive,
                   sign_contrast=sign_contrast, name=name or f"PAM model trained on {Path(expr).name}",
                   model_id=out.stem, source=str(out), progress=steps.nested(inner))
    steps.start(f"writing {out.name}")
    save_model(out, result.model)
    steps.finish(f"trained: {out.name}")
    return result
