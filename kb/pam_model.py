"""PAM models as one object, whether published in the knowledge base or trained into a model file.

`load_published(con, model_id)` builds the model a paper publishes (Shao et al. 2022, Table 1) from the
rows ingest/pam_table.py parsed: shrunken centroids, s_i + s0, class sizes, and the reported performance
with the passages that state it. `load_model_file(path)` reads a model `kb pam train` wrote
(`save_model`). Both give a `PamModel`, so `kb score`, `kb evaluate` and `kb pam show` treat them
alike. `facts(model)` states what the priors do, computed from the model's own numbers. `train` fits,
cross-validates and keeps the genes that survive the chosen threshold (`kb pam train`).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from kb.errors import InputError, NotFound
from kb.pam import NearestShrunkenCentroid

FORMAT = "biomarker-kb/pam-model"
VERSION = 1
PRIORS = ("published", "equal")
_PERF = r"({metric})\s*:\s*(\d+(?:\.\d+)?)\s*%\s*\(\s*(\d+)\s*/\s*(\d+)\s*\)"


@dataclass(frozen=True)
class Link:
    """A passage of a document: ``quote == document text[start:end]`` (character offsets)."""

    what: str
    document: str
    document_id: str
    start: int
    end: int
    quote: str

    def as_dict(self) -> dict:
        return {"what": self.what, "document": self.document, "document_id": self.document_id,
                "start": self.start, "end": self.end, "quote": self.quote}


@dataclass(frozen=True)
class Performance:
    """A reported performance figure (``numerator / denominator`` = ``percent`` %) and where it is stated."""

    metric: str
    percent: float
    numerator: int
    denominator: int
    links: tuple[Link, ...] = ()


@dataclass(frozen=True, eq=False)
class PamModel:
    """A nearest-shrunken-centroid model ready to score log2 expression profiles.

    Attributes
    ----------
    kind : "published" (a model of the knowledge base) or "trained" (a model file)
    source : the publication's source id, or the model file's path
    shrunken_centroids : ndarray of shape (n_classes, n_genes)
    sd : ndarray of shape (n_genes,), s_i + s0
    priors : the model's own priors, class -> prior (published models: n_k / n)
    estimator : `NearestShrunkenCentroid.from_parameters` of these numbers (built on first use)
    """

    id: str
    name: str
    kind: str
    source: str
    classes: tuple[str, ...]
    genes: tuple[str, ...]
    shrunken_centroids: np.ndarray
    sd: np.ndarray
    priors: dict[str, float]
    n_per_class: dict[str, int]
    scale: str = "log2"
    marker_id: str | None = None
    validation: str | None = None
    performance: tuple[Performance, ...] = ()
    provenance: tuple[Link, ...] = ()
    threshold: float | None = None
    training: dict | None = None

    @property
    def source_id(self) -> str | None:
        return self.source if self.kind == "published" else None

    @property
    def n_genes(self) -> int:
        return len(self.genes)

    def links(self, what: str) -> list[Link]:
        return [link for link in self.provenance if link.what == what]

    @cached_property
    def estimator(self) -> NearestShrunkenCentroid:
        return NearestShrunkenCentroid.from_parameters(
            self.genes, self.classes, self.shrunken_centroids, self.sd, priors=dict(self.priors),
            n_per_class=[self.n_per_class[c] for c in self.classes])

    def prior_values(self, priors: str = "published") -> dict[str, float]:
        """Class -> prior for "published" (the model's own) or "equal" priors, summing to 1."""
        if priors == "published":
            p = np.array([self.priors[c] for c in self.classes], dtype=float)
        elif priors == "equal":
            p = np.ones(len(self.classes))
        else:
            raise InputError(f"priors: expected one of {', '.join(PRIORS)}; got {priors!r}")
        return dict(zip(self.classes, (p / p.sum()).tolist()))

    @staticmethod
    def _arg(priors: str):
        if priors not in PRIORS:
            raise InputError(f"priors: expected one of {', '.join(PRIORS)}; got {priors!r}")
        return None if priors == "published" else "equal"

    def decision_function(self, X, priors: str = "published") -> np.ndarray:
        """δ of shape (n_samples, n_classes); X of shape (n_samples, n_genes) in ``genes`` order (or a DataFrame)."""
        return self.estimator.decision_function(X, priors=self._arg(priors))

    def predict_proba(self, X, priors: str = "published") -> np.ndarray:
        """Posteriors softmax(−δ/2) of shape (n_samples, n_classes)."""
        return self.estimator.predict_proba(X, priors=self._arg(priors))

    def predict(self, X, priors: str = "published") -> np.ndarray:
        """Class with the smallest δ, shape (n_samples,)."""
        return self.estimator.predict(X, priors=self._arg(priors))

    def contributions(self, x, pair=None) -> np.ndarray:
        """Per-gene terms of δ_b − δ_a for one sample (positive favours a); see NearestShrunkenCentroid."""
        return self.estimator.contributions(x, pair=pair)

    def subset(self, genes) -> PamModel:
        """The model over some of its genes (in model order), for profiles that lack the others."""
        wanted = {str(g) for g in genes}
        unknown = sorted(wanted - set(self.genes))
        if unknown:
            raise InputError(f"genes not in model {self.id}: {', '.join(unknown[:5])}")
        keep = [i for i, g in enumerate(self.genes) if g in wanted]
        if not keep:
            raise InputError(f"a subset of model {self.id} needs at least one gene; got none")
        return replace(self, genes=tuple(self.genes[i] for i in keep), sd=self.sd[keep],
                       shrunken_centroids=self.shrunken_centroids[:, keep])


# ---- the knowledge base's published models -----------------------------------------------------

def load_published(con, model_id: str | None = None) -> PamModel:
    """A model of the knowledge base (default: the first by id, as `kb evaluate` picks it).

    Raises NotFound for an unknown id or a knowledge base without models.
    """
    from kb import store

    rows = {r["id"]: r for r in store.pam_models(con)}
    if model_id is None:
        if not rows:
            raise NotFound("no PAM model in this knowledge base")
        model_id = next(iter(rows))
    elif model_id not in rows:
        raise NotFound(f"unknown PAM model {model_id!r}; expected a model file (.json) or one of "
                       f"{', '.join(rows) or '(none in this knowledge base)'}")
    row = rows[model_id]
    classes = tuple(json.loads(row["classes"]))
    genes = store.pam_genes(con, model_id)
    centroids = np.array([[json.loads(g[1])[c] for g in genes] for c in classes], dtype=float)
    provenance = tuple(Link(p["what"], p["document"], p.get("document_id", ""), p["start"], p["end"], p["quote"])
                       for p in json.loads(row["provenance"]))
    performance = tuple(Performance(p["metric"], p["percent"], p["numerator"], p["denominator"],
                                    _metric_links(p, [link for link in provenance if link.what == "performance"]))
                        for p in json.loads(row["performance"]))
    return PamModel(id=row["id"], name=row["name"], kind="published", source=row["source_id"], classes=classes,
                    genes=tuple(g[0] for g in genes), shrunken_centroids=centroids,
                    sd=np.array([g[2] for g in genes], dtype=float), priors=json.loads(row["priors"]),
                    n_per_class=json.loads(row["n_per_class"]), scale=row["scale"], marker_id=row["marker_id"],
                    validation=row["validation"], performance=performance, provenance=provenance)


def _metric_links(item: dict, links: list[Link]) -> tuple[Link, ...]:
    """The part of each performance passage that states this metric ('Accuracy: 90.3% (28/31)'); the
    whole passage when it states the numbers some other way."""
    pattern = re.compile(_PERF.format(metric=re.escape(item["metric"])), re.I)
    out = []
    for link in links:
        for m in pattern.finditer(link.quote):
            if (float(m.group(2)), int(m.group(3)), int(m.group(4))) == (item["percent"], item["numerator"],
                                                                          item["denominator"]):
                out.append(Link("performance", link.document, link.document_id, link.start + m.start(),
                                link.start + m.end(), m.group(0)))
                break
        else:
            if f"{item['numerator']}/{item['denominator']}" in link.quote.replace(" ", ""):
                out.append(link)
    return tuple(out)


def open_model(spec: str | None = None, *, con=None, db=None) -> tuple[PamModel, dict | None]:
    """(model, kb_version): a model file when ``spec`` names a file or ends in .json, else a knowledge-base
    model id (None: the default published model). kb_version is None for a model file."""
    if spec is not None and (Path(spec).is_file() or str(spec).lower().endswith(".json")):
        return load_model_file(spec), None
    from kb import store

    own = con is None
    con = store.connect(db) if own else con
    try:
        return load_published(con, spec), store.kb_version(con)
    finally:
        if own:
            con.close()


# ---- what the priors do ----------------------------------------------------------------------------

def facts(model: PamModel) -> dict:
    """δ, posteriors and calls of a profile sitting on each class centroid under both priors, and for each
    pair of classes with unequal priors the prior term 2·log(π_a/π_b) against the squared standardised
    distance between their centroids Σ((c_a − c_b)/sd)²: when the prior term is larger, a profile exactly
    on b's centroid is still called a."""
    classes, C = model.classes, model.shrunken_centroids
    at = []
    for k, c in enumerate(classes):
        entry: dict[str, Any] = {"profile": f"{c} centroid", "class": c}
        for name in PRIORS:
            d = model.decision_function(C[k:k + 1], priors=name)[0]
            p = model.predict_proba(C[k:k + 1], priors=name)[0]
            entry[name] = {"delta": dict(zip(classes, d.tolist())), "posterior": dict(zip(classes, p.tolist())),
                           "call": classes[int(np.argmin(d))]}
        at.append(entry)
    pub = model.prior_values("published")
    proportions = _proportions(model)
    pairs = []
    for a in classes:
        for b in classes:
            if a == b or not pub[a] > pub[b]:
                continue
            ia, ib = classes.index(a), classes.index(b)
            prior_term = 2 * (math.log(pub[a]) - math.log(pub[b]))
            distance = float((((C[ia] - C[ib]) / model.sd) ** 2).sum())
            on_b = at[ib]
            ratio = (f"{model.n_per_class[a]}/{model.n_per_class[b]}" if proportions else f"{pub[a]:.4g}/{pub[b]:.4g}")
            p_pub, p_eq = on_b["published"]["posterior"][a], on_b["equal"]["posterior"][a]
            call_pub, call_eq = on_b["published"]["call"], on_b["equal"]["call"]
            relation = ">" if prior_term > distance else "<="
            statement = (f"2·log(π_{a}/π_{b}) = 2·log({ratio}) = {prior_term:.2f} {relation} {distance:.2f} = "
                         f"Σ((c_{a} − c_{b})/sd)²: a profile exactly on the {b} centroid is called {call_pub} "
                         f"(P({a}) = {p_pub:.2f} with published priors; {p_eq:.2f} with equal priors, "
                         f"where it is called {call_eq})")
            pairs.append({"favoured": a, "other": b, "prior_term": prior_term, "prior_ratio": ratio,
                          "distance": distance, "prior_outweighs_distance": prior_term > distance,
                          "on_other_centroid": {"published": {"call": call_pub, "posterior": p_pub},
                                                "equal": {"call": call_eq, "posterior": p_eq}},
                          "statement": statement})
    return {"priors": {name: model.prior_values(name) for name in PRIORS}, "at_centroids": at,
            "prior_vs_distance": pairs}


def _proportions(model: PamModel) -> bool:
    """Whether the model's priors are its class proportions n_k / n."""
    n = sum(model.n_per_class.values())
    pub = model.prior_values("published")
    return all(abs(pub[c] - model.n_per_class[c] / n) < 1e-9 for c in model.classes)


def describe(model: PamModel) -> dict:
    """Everything `kb pam show` reports about a model (without kb_version)."""
    validation_links = [link.as_dict() for link in model.links("validation")]
    return {
        "model": {"id": model.id, "name": model.name, "kind": model.kind, "source": model.source,
                  "marker_id": model.marker_id, "classes": list(model.classes), "n_per_class": model.n_per_class,
                  "n_genes": model.n_genes, "scale": model.scale, "threshold": model.threshold,
                  "links": [link.as_dict() for link in model.provenance
                            if link.what not in ("performance", "validation")]},
        "genes": [{"symbol": g, "centroids": {c: float(model.shrunken_centroids[k, i]) for k, c in enumerate(model.classes)},
                   "sd": float(model.sd[i])} for i, g in enumerate(model.genes)],
        "priors": {name: model.prior_values(name) for name in PRIORS},
        "performance": [{"metric": p.metric, "percent": p.percent, "numerator": p.numerator,
                         "denominator": p.denominator, "validation": model.validation,
                         "links": [link.as_dict() for link in p.links]} for p in model.performance],
        "validation": None if model.validation is None else {"method": model.validation, "links": validation_links},
        "training": model.training,
        "facts": facts(model),
    }


def show(spec: str | None = None, *, db=None) -> dict:
    """The `kb pam show` payload of a model id or model file."""
    model, version = open_model(spec, db=db)
    return {"kb_version": version, **describe(model)}


# ---- model files -----------------------------------------------------------------------------------

_FIELDS = ("format", "version", "name", "classes", "genes", "shrunken_centroids", "sd", "priors", "n_per_class",
           "threshold", "scale", "training")
_TRAINING = ("n_samples", "folds", "cv_errors", "thresholds", "nonzero")


def model_to_json(model: PamModel) -> dict:
    return {"format": FORMAT, "version": VERSION, "name": model.name, "classes": list(model.classes),
            "genes": list(model.genes),
            "shrunken_centroids": {c: model.shrunken_centroids[k].tolist() for k, c in enumerate(model.classes)},
            "sd": model.sd.tolist(), "priors": {c: float(model.priors[c]) for c in model.classes},
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
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: line {exc.lineno} column {exc.colno}: expected JSON; got invalid JSON ({exc.msg})") from None
    return model_from_json(doc, str(path))


def _short(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def model_from_json(doc, where: str) -> PamModel:
    def bad(field, expected, got):
        raise InputError(f"{where}: {field}: expected {expected}; got {_short(got)}")

    if not isinstance(doc, dict):
        bad("(top level)", "a JSON object", doc)
    for key in doc:
        if key not in _FIELDS:
            bad(key, f"only the fields {', '.join(_FIELDS)}", key)
    for key in _FIELDS:
        if key not in doc and key not in ("threshold", "training"):
            raise InputError(f"{where}: {key}: expected the field; got a file without it")
    if doc["format"] != FORMAT:
        bad("format", repr(FORMAT), doc["format"])
    if doc["version"] != VERSION or isinstance(doc["version"], bool):
        bad("version", f"{VERSION} (the model file version this kb reads)", doc["version"])
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

    def vector(v, field, positive=False):
        if not isinstance(v, list) or len(v) != len(genes):
            bad(field, f"a list of {len(genes)} numbers (one per gene)", v)
        for i, x in enumerate(v):
            if not _number(x) or (positive and x <= 0):
                bad(f"{field}[{i}]", "a positive finite number" if positive else "a finite number", x)
        return np.array(v, dtype=float)

    cents = per_class("shrunken_centroids", lambda v: True, "")
    centroids = np.stack([vector(cents[c], f"shrunken_centroids.{c}") for c in classes])
    sd = vector(doc["sd"], "sd", positive=True)
    priors = per_class("priors", lambda v: _number(v) and v > 0, "a positive number")
    if abs(sum(priors.values()) - 1) > 1e-6:
        bad("priors", "priors summing to 1", priors)
    n_per_class = per_class("n_per_class", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                            "a whole number >= 1")
    threshold = doc.get("threshold")
    if threshold is not None and not (_number(threshold) and threshold >= 0):
        bad("threshold", "a number >= 0 or null", threshold)
    if doc["scale"] != "log2":
        bad("scale", '"log2" (models score log2 expression)', doc["scale"])
    training = doc.get("training")
    if training is not None:
        _check_training(training, bad)
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
                    threshold=None if threshold is None else float(threshold), training=training)


def _check_training(t, bad) -> None:
    if not isinstance(t, dict) or set(t) != set(_TRAINING):
        bad("training", f"null or an object with the fields {', '.join(_TRAINING)}", t)
    if not (isinstance(t["n_samples"], int) and not isinstance(t["n_samples"], bool) and t["n_samples"] >= 2):
        bad("training.n_samples", "a whole number >= 2", t["n_samples"])
    f = t["folds"]
    if f != "loo" and not (isinstance(f, dict) and set(f) == {"k", "seed"} and isinstance(f["k"], int)
                           and isinstance(f["seed"], int)):
        bad("training.folds", '"loo" or {"k": K, "seed": N}', f)
    lengths = set()
    for key in ("cv_errors", "thresholds", "nonzero"):
        v = t[key]
        if not isinstance(v, list) or not v or not all(_number(x) for x in v):
            bad(f"training.{key}", "a non-empty list of numbers", v)
        lengths.add(len(v))
    if len(lengths) != 1:
        bad("training", "cv_errors, thresholds and nonzero of the same length", {k: len(t[k]) for k in _TRAINING[2:]})


# ---- training --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainResult:
    """A trained model and the cross-validation that chose its threshold."""

    model: PamModel
    thresholds: list[float]
    nonzero: list[int]
    cv_errors: list[float]
    threshold: float
    chosen_by: str
    n_genes_in: int


def parse_folds(folds) -> str | int:
    """"loo" or a number of folds K >= 2 (from a CLI string or a value)."""
    if folds == "loo":
        return "loo"
    try:
        k = int(str(folds))
    except ValueError:
        raise InputError(f"--folds: expected loo or a number of folds >= 2; got {folds!r}") from None
    if k < 2:
        raise InputError(f"--folds: expected loo or a number of folds >= 2; got {folds!r}")
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


def train(X, y, genes, *, folds="loo", threshold="auto", seed: int = 0, name: str = "PAM model",
          model_id: str = "trained", source: str = "") -> TrainResult:
    """Fit pamr's nearest shrunken centroids, cross-validate every threshold and keep the surviving genes.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_genes), log2 expression
    y : array-like of shape (n_samples,), class labels (strings)
    genes : sequence of str, length n_genes
    folds : "loo" or K (balanced folds, seeded)
    threshold : "auto" (lowest CV error among thresholds keeping a gene, ties to the larger threshold) or a value
    """
    from kb.pam import balanced_folds, choose_threshold, leave_one_out_folds

    folds, threshold = parse_folds(folds), parse_threshold(threshold)
    y = np.asarray([str(v) for v in y])
    est = NearestShrunkenCentroid().fit(X, y)
    split = leave_one_out_folds(y.size) if folds == "loo" else balanced_folds(y, folds, seed=seed)
    errors = est.cross_validate(X, y, split)
    if threshold == "auto":
        # The grid ends at max |d|, where no gene survives and every sample gets the prior's class; a model
        # needs a gene, so the choice is among the thresholds that keep one.
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
    classes = tuple(str(c) for c in est.classes_)
    training = {"n_samples": int(y.size), "folds": "loo" if folds == "loo" else {"k": folds, "seed": int(seed)},
                "cv_errors": errors.tolist(), "thresholds": est.thresholds_.tolist(), "nonzero": est.nonzero_.tolist()}
    model = PamModel(id=model_id, name=name, kind="trained", source=source, classes=classes,
                     genes=tuple(str(g) for g, k in zip(genes, keep) if k), shrunken_centroids=shrunken[:, keep],
                     sd=est.sd_[keep], priors=dict(zip(classes, est.priors_.tolist())),
                     n_per_class=dict(zip(classes, map(int, est.n_per_class_))), scale="log2",
                     validation="LOOCV" if folds == "loo" else f"{folds}-fold CV", threshold=float(t), training=training)
    return TrainResult(model, est.thresholds_.tolist(), est.nonzero_.tolist(), errors.tolist(), float(t), chosen_by,
                       len(genes))


def train_files(expr, labels, out, *, folds="loo", threshold="auto", seed: int = 0, name: str | None = None) -> TrainResult:
    """Train on an expression file (samples × genes) and a labels file, and write the model file to ``out``."""
    from kb.score import read_labels, read_matrix

    folds, threshold = parse_folds(folds), parse_threshold(threshold)
    out = Path(out)
    if out.suffix.lower() != ".json":
        raise InputError(f"--out: expected a .json model file; got {str(out)!r}")
    ids, genes, X = read_matrix(expr)
    y = read_labels(labels, ids, genes, expr)
    result = train(X, y, genes, folds=folds, threshold=threshold, seed=seed,
                   name=name or f"PAM model trained on {Path(expr).name}", model_id=out.stem, source=str(out))
    save_model(out, result.model)
    return result
