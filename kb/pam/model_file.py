"""Model files written by `kb pam train` and read by `kb score`, `kb evaluate` and `kb pam show`.

Format `biomarker-kb/pam-model` version 2: classes, genes, shrunken centroids per class, s_i + s0, the
overall centroid, priors, class sizes, threshold, scale and the cross-validation that chose the threshold
(with the threshold scales, the sign contrast and each gene's CV rank). Version 1 files (without the
overall centroid and those training fields) still load. Floats are written with repr, so a file reads
back to the same numbers. Reading stops at the first problem with one line:
`FILE: FIELD: expected ...; got ...`.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from kb.core.errors import InputError
from schemas.numbers import INT32_MAX, MAGNITUDE, describe, finite
from kb.pam.model import PamModel, Performance

FORMAT = "biomarker-kb/pam-model"
VERSION = 2
READS = (1, 2)

_FIELDS = ("format", "version", "name", "classes", "genes", "shrunken_centroids", "sd", "overall_centroid",
           "priors", "n_per_class", "threshold", "scale", "training")
_OPTIONAL = ("threshold", "training", "overall_centroid")
_TRAINING = ("n_samples", "folds", "cv_errors", "thresholds", "nonzero")
# Version 2 training fields, each optional.
_TRAINING_2 = ("cv_loglik", "sign_contrast", "threshold_scale", "adaptive_thresholds", "genes_cv")


def model_to_json(model: PamModel) -> dict:
    return {"format": FORMAT, "version": VERSION, "name": model.name, "classes": list(model.classes),
            "genes": list(model.genes),
            "shrunken_centroids": {c: model.shrunken_centroids[k].tolist() for k, c in enumerate(model.classes)},
            "sd": model.sd.tolist(),
            "overall_centroid": None if model.overall_centroid is None else model.overall_centroid.tolist(),
            "priors": {c: float(model.priors[c]) for c in model.classes},
            "n_per_class": {c: int(model.n_per_class[c]) for c in model.classes}, "threshold": model.threshold,
            "scale": model.scale, "training": model.training}


def save_model(path, model: PamModel) -> None:
    """Write a model file (floats as repr, so loading gives back the same numbers)."""
    Path(path).write_text(json.dumps(model_to_json(model), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def load_model_file(path) -> PamModel:
    """A model file, validated: InputError ``FILE: FIELD: expected ...; got ...`` on the first problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such model file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: expected a UTF-8 JSON model file; got undecodable bytes") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return model_from_text(text, str(path))


def model_from_text(text: str, where: str) -> PamModel:
    """A model file's text (read from disk, or uploaded to /pam), validated like `load_model_file`."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: line {exc.lineno} column {exc.colno}: expected JSON; got invalid JSON ({exc.msg})") from None
    except RecursionError:
        raise InputError(f"{where}: expected JSON; got arrays or objects nested too deeply") from None
    return model_from_json(doc, where)


def _short(value) -> str:
    try:
        text = json.dumps(value, default=str)
    except ValueError:  # an integer too long to render
        text = describe(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(v, lo: float = -MAGNITUDE, hi: float = MAGNITUDE) -> bool:
    try:
        finite(v, lo, hi)  # the shared check: no NaN, no infinity, no 400-digit integer
    except ValueError:
        return False
    return True


# Bounds that keep every δ finite: centroids on the log2 scale, s_i + s0 not vanishing, no prior so small
# that its log term alone decides the call.
CENTROID_RANGE = (-1e3, 1e3)
SD_RANGE = (1e-6, 1e3)
PRIOR_RANGE = (1e-6, 1.0)


def model_from_json(doc, where: str) -> PamModel:
    def bad(field, expected, got):
        raise InputError(f"{where}: {field}: expected {expected}; got {_short(got)}")

    if not isinstance(doc, dict):
        bad("(top level)", "a JSON object", doc)
    for key in doc:
        if key not in _FIELDS:
            bad(key, f"only the fields {', '.join(_FIELDS)}", key)
    for key in _FIELDS:
        if key not in doc and key not in _OPTIONAL:
            raise InputError(f"{where}: {key}: expected the field; got a file without it")
    if doc["format"] != FORMAT:
        bad("format", repr(FORMAT), doc["format"])
    if doc["version"] not in READS or isinstance(doc["version"], bool):
        bad("version", f"{' or '.join(map(str, READS))} (the model file versions this kb reads)", doc["version"])
    version = doc["version"]
    if version == 1 and "overall_centroid" in doc:
        bad("overall_centroid", "no such field in a version 1 file", doc["overall_centroid"])
    if not isinstance(doc["name"], str) or not doc["name"].strip():
        bad("name", "a non-empty string", doc["name"])
    for key, least in (("classes", 2), ("genes", 1)):
        v = doc[key]
        if not (isinstance(v, list) and len(v) >= least and all(isinstance(s, str) and s for s in v)
                and len(set(v)) == len(v)):
            bad(key, f"a list of at least {least} distinct non-empty strings", v)
    classes, genes = doc["classes"], doc["genes"]

    def per_class(key, check, expected):
        v = doc[key]
        if not isinstance(v, dict) or set(v) != set(classes):
            bad(key, f"an object with one entry per class ({', '.join(classes)})", v)
        for c in classes:
            if not check(v[c]):
                bad(f"{key}.{c}", expected, v[c])
        return v

    def vector(v, field, bounds):
        if not isinstance(v, list) or len(v) != len(genes):
            bad(field, f"a list of {len(genes)} numbers (one per gene)", v)
        for i, x in enumerate(v):
            if not _number(x, *bounds):
                bad(f"{field}[{i}]", f"a {'positive ' if bounds[0] > 0 else ''}finite number between {bounds[0]:g} "
                                    f"and {bounds[1]:g}", x)
        return np.array(v, dtype=float)

    cents = per_class("shrunken_centroids", lambda v: True, "")
    centroids = np.stack([vector(cents[c], f"shrunken_centroids.{c}", CENTROID_RANGE) for c in classes])
    sd = vector(doc["sd"], "sd", SD_RANGE)
    overall = doc.get("overall_centroid")
    overall = None if overall is None else vector(overall, "overall_centroid", CENTROID_RANGE)
    priors = per_class("priors", lambda v: _number(v, *PRIOR_RANGE),
                       f"a number between {PRIOR_RANGE[0]:g} and {PRIOR_RANGE[1]:g}")
    if abs(sum(priors.values()) - 1) > 1e-6:
        bad("priors", "priors summing to 1", priors)
    n_per_class = per_class("n_per_class", lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= INT32_MAX,
                            "a whole number >= 1")
    threshold = doc.get("threshold")
    if threshold is not None and not (_number(threshold) and threshold >= 0):
        bad("threshold", "a number >= 0 or null", threshold)
    if doc["scale"] != "log2":
        bad("scale", '"log2" (models score log2 expression)', doc["scale"])
    training = doc.get("training")
    if training is not None:
        _check_training(training, bad, version, classes, len(genes))
    stem = Path(where).stem
    validation, performance = None, ()
    if training is not None:
        validation = "LOOCV" if training["folds"] == "loo" else f"{training['folds']['k']}-fold CV"
        if threshold is not None and threshold in training["thresholds"]:
            n = training["n_samples"]
            right = n - round(training["cv_errors"][training["thresholds"].index(threshold)] * n)
            performance = (Performance("accuracy", round(100 * right / n, 1), right, n),)
    return PamModel(id=stem, name=doc["name"], kind="trained", source=where, classes=tuple(classes),
                    genes=tuple(genes), shrunken_centroids=centroids, sd=sd, priors=dict(priors),
                    n_per_class=dict(n_per_class), scale="log2", validation=validation, performance=performance,
                    threshold=None if threshold is None else float(threshold), training=training,
                    overall_centroid=overall)


def _check_training(t, bad, version, classes, n_genes) -> None:
    extra = _TRAINING_2 if version >= 2 else ()
    if not isinstance(t, dict) or not set(_TRAINING) <= set(t) or not set(t) <= set(_TRAINING + extra):
        bad("training", f"null or an object with the fields {', '.join(_TRAINING)}"
                        + (f" (and optionally {', '.join(extra)})" if extra else ""), t)
    if not (isinstance(t["n_samples"], int) and not isinstance(t["n_samples"], bool) and 2 <= t["n_samples"] <= INT32_MAX):
        bad("training.n_samples", "a whole number >= 2", t["n_samples"])
    f = t["folds"]
    whole = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731
    seeded = isinstance(f, dict) and set(f) == {"k", "seed"} and whole(f["k"]) and whole(f["seed"])
    from_file = (version >= 2 and isinstance(f, dict) and set(f) == {"file", "k", "samples"} and whole(f["k"])
                 and isinstance(f["file"], str) and isinstance(f["samples"], list) and len(f["samples"]) == f["k"]
                 and all(isinstance(s, list) and s and all(isinstance(i, str) for i in s) for s in f["samples"]))
    if f != "loo" and not seeded and not from_file:
        bad("training.folds", '"loo", {"k": K, "seed": N}'
            + (' or {"file": NAME, "k": K, "samples": [[ids of fold 1], ...]}' if version >= 2 else ""), f)
    lengths = set()
    for key in ("cv_errors", "thresholds", "nonzero") + (("cv_loglik",) if "cv_loglik" in t else ()):
        v = t[key]
        if not isinstance(v, list) or not v or not all(_number(x) for x in v):
            bad(f"training.{key}", "a non-empty list of numbers", v)
        lengths.add(len(v))
    if len(lengths) != 1:
        bad("training", "cv_errors, thresholds, nonzero (and cv_loglik) of the same length",
            {k: len(t[k]) for k in _TRAINING[2:] + ("cv_loglik",) if k in t})
    if "sign_contrast" in t and t["sign_contrast"] not in ("both", "positive", "negative"):
        bad("training.sign_contrast", '"both", "positive" or "negative"', t["sign_contrast"])
    if "adaptive_thresholds" in t and not isinstance(t["adaptive_thresholds"], bool):
        bad("training.adaptive_thresholds", "true or false", t["adaptive_thresholds"])
    if "threshold_scale" in t:
        v = t["threshold_scale"]
        if not isinstance(v, dict) or set(v) != set(classes) or not all(_number(x) and x > 0 for x in v.values()):
            bad("training.threshold_scale", f"an object with a positive number per class ({', '.join(classes)})", v)
    if "genes_cv" in t:
        v = t["genes_cv"]
        ok = isinstance(v, dict) and set(v) == {"av_rank_in_cv", "prop_selected_in_cv"} and all(
            isinstance(v[k], list) and len(v[k]) == n_genes and all(_number(x) for x in v[k]) for k in v)
        if not ok:
            bad("training.genes_cv", f"an object with av_rank_in_cv and prop_selected_in_cv, {n_genes} numbers each", v)
