"""PAM models as one object, whether published in the knowledge base or trained into a model file.

`load_published(con, model_id)` builds the model a paper publishes (Shao et al. 2022, Table 1) from the
rows ingest/pam_table.py parsed: shrunken centroids, s_i + s0, class sizes, and the reported performance
with the passages that state it. `kb.pam.model_file.load_model_file(path)` reads a model `kb pam train`
(`kb.pam.train`) wrote. Both give a `PamModel`, so `kb score`, `kb evaluate` and `kb pam show` treat
them alike. `facts(model)` states what the priors do, computed from the model's own numbers.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from kb.core.errors import InputError, NotFound
from kb.pam.engine import NearestShrunkenCentroid

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
    overall_centroid : ndarray of shape (n_genes,) or None; the training samples' mean (model files from
        `kb pam train`; a published model gives none)
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
    overall_centroid: np.ndarray | None = None

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
                       shrunken_centroids=self.shrunken_centroids[:, keep],
                       overall_centroid=None if self.overall_centroid is None else self.overall_centroid[keep])

    @property
    def validation_statement(self) -> str:
        """What the model is and how far it was validated, from its own numbers (every PAM block, `kb pam
        show` and the docs state it): e.g. "The 14-gene model comes from 31 patients and was validated by
        leave-one-out CV only, with no external validation." """
        return validation_statement(self)


_METHODS = {"LOOCV": "leave-one-out CV"}


def validation_statement(model: PamModel) -> str:
    """The one sentence that says where a model comes from and how it was validated (see
    `PamModel.validation_statement`). A model trained or published with cross-validation only has no
    external validation: that is what the sentence says."""
    n = sum(model.n_per_class.values())
    who = "patients" if model.kind == "published" else "samples"
    head = f"The {model.n_genes}-gene model comes from {n} {who}"
    if not model.validation:
        return f"{head}; no validation of it is recorded (internal or external)."
    method = _METHODS.get(model.validation, model.validation)
    return f"{head} and was validated by {method} only, with no external validation."


# ---- the knowledge base's published models -----------------------------------------------------

def load_published(con, model_id: str | None = None) -> PamModel:
    """A model of the knowledge base (default: the first by id, as `kb evaluate` picks it).

    Raises NotFound for an unknown id or a knowledge base without models.
    """
    from kb.core import store

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
                  "validation_statement": model.validation_statement,
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
