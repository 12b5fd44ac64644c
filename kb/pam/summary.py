"""The PAM block of a patient summary: a record's expression profile scored with a `PamModel`.

Shows the numbers behind the call, not only the call: δ and posterior per class under the published and
equal priors, the priors themselves, which genes were used or missing, and each gene's share of
δ_b − δ_a. Below MIN_CALL_GENES genes there is no call; between that and the full set the call is
flagged partial and scored over the genes present.
"""
from __future__ import annotations

import math

import numpy as np

from kb.pam.expression import MIN_CALL_GENES, log2_values
from kb.pam.model import PamModel


def summarize(model: PamModel, genes: dict[str, float], scale: str, priors: str, applicability: dict,
              evidence_ids: list[str], where: str) -> dict:
    values = log2_values(genes, scale, where)
    used = [g for g in model.genes if g.upper() in values]
    model_symbols = {g.upper() for g in model.genes}
    out = {
        "model": {"id": model.id, "name": model.name, "kind": model.kind, "source_id": model.source_id,
                  "marker_id": model.marker_id, "classes": list(model.classes), "n_per_class": model.n_per_class,
                  "n_genes": model.n_genes, "scale": model.scale, "validation": model.validation,
                  "validation_statement": model.validation_statement,
                  "evidence": evidence_ids},
        "applicability": applicability, "scale": scale, "priors": priors, "status": None, "call": None,
        "partial": False, "reason": None, "priors_used": None, "delta": None, "posterior": None, "by_priors": None,
        "genes_used": used, "genes_missing": [g for g in model.genes if g.upper() not in values],
        "genes_ignored": sorted((s for s in genes if s.upper() not in model_symbols), key=str.casefold),
        "contributions": None,
        # The numbers behind a plot of the profile against the centroids (kb evaluate --plot).
        "profile": [{"gene": g, "log2": values[g.upper()], "sd": float(model.sd[i]),
                     "centroids": {c: float(model.shrunken_centroids[k, i]) for k, c in enumerate(model.classes)}}
                    for i, g in enumerate(model.genes) if g.upper() in values],
    }
    need = min(MIN_CALL_GENES, model.n_genes)
    if len(used) < need:
        out.update(status="indeterminate", reason=f"only {len(used)} of the model's {model.n_genes} genes are in the "
                                                  f"record; a call needs at least {need}")
        return out
    part = model.subset(used)
    x = np.array([[values[g.upper()] for g in used]])
    by_priors = {}
    for name in ("published", "equal"):
        delta, post = part.decision_function(x, priors=name)[0], part.predict_proba(x, priors=name)[0]
        by_priors[name] = {"priors": part.prior_values(name), "delta": dict(zip(part.classes, map(float, delta))),
                           "posterior": dict(zip(part.classes, map(float, post))),
                           "call": part.classes[int(np.argmin(delta))]}
    chosen = by_priors[priors]
    classes = list(part.classes)
    ranked = sorted(classes, key=lambda c: chosen["delta"][c])
    a, b = (classes[0], classes[1]) if len(classes) == 2 else (ranked[0], ranked[1])
    shares = part.contributions(x[0], pair=(a, b))
    prior_term = 2 * math.log(chosen["priors"][a]) - 2 * math.log(chosen["priors"][b])
    partial = len(used) < model.n_genes
    out.update(
        status="partial" if partial else "called", call=chosen["call"], partial=partial,
        reason=(f"{len(used)} of {model.n_genes} genes present: scored over the present genes only" if partial else None),
        priors_used=chosen["priors"], delta=chosen["delta"], posterior=chosen["posterior"], by_priors=by_priors,
        contributions={"of": f"delta_{b} - delta_{a}", "positive_favours": a,
                       "genes": dict(sorted(((g, float(v)) for g, v in zip(used, shares)), key=lambda kv: -abs(kv[1]))),
                       "prior_term": prior_term, "total": chosen["delta"][b] - chosen["delta"][a]})
    return out
