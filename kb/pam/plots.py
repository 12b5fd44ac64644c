"""Figures of PAM models and their cross-validation, drawn with matplotlib (as pamr's plots draw them).

Each function takes plain numbers (so the CLI and the web pages can both use it) and returns a
matplotlib ``Figure``; :func:`write_figure` saves one as PNG or SVG by the file's suffix and
:func:`figure_bytes` renders one in memory. matplotlib is imported inside these functions and only its
object-oriented API is used (no pyplot, no global backend): `kb --help` never imports it.

- :func:`cv_curve`: CV error against the threshold, the number of genes on a second axis, each class's
  error below (``pamr.plotcv``);
- :func:`centroids`: each class's shrunken centroid per gene, as (centroid − overall) / (s_i + s0)
  (``pamr.plotcen``);
- :func:`cv_probabilities`: each sample's cross-validated posteriors, samples grouped by true class
  (``pamr.plotcvprob``);
- :func:`gene_values`: the expression of the top genes, samples grouped by class (``pamr.geneplot``);
- :func:`patient_profile`: one patient's genes against the class centroids in units of s_i + s0;
- :func:`posterior_histogram`: the posteriors of a scored cohort.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from kb.core.errors import InputError

FORMATS = {".png": "png", ".svg": "svg"}
# Colour-blind-safe (Okabe–Ito), in class order.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
RESEARCH = "For research use only."


def _figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _colour(k: int) -> str:
    return COLOURS[k % len(COLOURS)]


def plot_format(path) -> str:
    """"png" or "svg" from a file name; InputError otherwise."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise InputError(f"--plot {path}: expected a .png or .svg file; got {Path(path).suffix or 'no extension'!r}")
    return fmt


def write_figure(fig, path) -> Path:
    """Save ``fig`` to ``path`` as PNG or SVG (by its suffix)."""
    path = Path(path)
    fmt = plot_format(path)
    try:
        path.write_bytes(figure_bytes(fig, fmt))
    except OSError as exc:
        raise InputError(f"--plot {path}: cannot write: {exc.strerror or exc}") from None
    return path


def figure_bytes(fig, fmt: str = "svg") -> bytes:
    """The figure as PNG or SVG bytes (SVG without a date, so the same figure gives the same bytes)."""
    buf = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buf, format=fmt, dpi=120, metadata=metadata)
    return buf.getvalue()


def cv_curve(thresholds, errors, nonzero, class_errors, classes, *, se=None, chosen=None, title="PAM cross-validation"):
    """pamr.plotcv: misclassification error against the threshold, the genes kept on the top axis.

    Parameters
    ----------
    thresholds, errors, nonzero : sequences of length n_thresholds
    class_errors : array-like of shape (n_classes, n_thresholds), or None
        The error within each class (a second panel); None draws the overall curve alone.
    classes : sequence of str
    se : sequence of length n_thresholds, optional
        Standard error of the CV error over folds (error bars).
    chosen : float, optional
        The chosen threshold (a vertical line).
    """
    t, e, nz = np.asarray(thresholds, float), np.asarray(errors, float), np.asarray(nonzero)
    if class_errors is None:  # a model file keeps the overall curve only: one panel
        fig = _figure(7.5, 4)
        top = fig.subplots(1, 1)
        panels = (top,)
    else:
        fig = _figure(7.5, 7)
        top, bottom = fig.subplots(2, 1, sharex=True)
        panels = (top, bottom)
    if se is not None:
        top.errorbar(t, e, yerr=np.asarray(se, float), color=_colour(1), ecolor="0.6", capsize=2, lw=1.5)
    else:
        top.plot(t, e, color=_colour(1), lw=1.5)
    best = e == e.min()
    top.plot(t[best], e[best], "x", color="black", ms=8, label="lowest error")
    if class_errors is not None:
        for k, c in enumerate(classes):
            bottom.plot(t, np.asarray(class_errors, float)[k], color=_colour(k), lw=1.5, label=str(c))
        bottom.legend(title="true class", fontsize=8, loc="upper left")
        bottom.set_title("error within each class", fontsize=10)
    for ax in panels:
        ax.set_ylim(-0.05, 1.05)
        ax.set_ylabel("misclassification error")
        if chosen is not None:
            ax.axvline(chosen, color="0.3", ls="--", lw=1)
    panels[-1].set_xlabel("threshold")
    genes = top.secondary_xaxis("top")
    step = max(1, len(t) // 10)
    genes.set_xticks(t[::step], labels=[str(int(v)) for v in nz[::step]], fontsize=8)
    genes.set_xlabel("number of genes")
    top.set_title(f"{title} (overall error)", fontsize=11)
    return fig


def centroids(genes, classes, scores, *, title="Shrunken class centroids", limit=60,
              xlabel="(centroid − overall) / (s_i + s0)"):
    """pamr.plotcen: per class, each gene's (shrunken centroid − overall) / (s_i + s0), largest first.

    Parameters
    ----------
    genes : sequence of str, in ranking order
    classes : sequence of str
    scores : array-like of shape (n_classes, n_genes)
    """
    S = np.asarray(scores, float)
    shown = min(limit, len(genes))
    S, names = S[:, :shown], list(genes)[:shown]
    fig = _figure(2.2 * len(classes) + 1.5, 0.22 * shown + 1.6)
    axes = np.atleast_1d(fig.subplots(1, len(classes), sharey=True))
    y = np.arange(shown)[::-1]
    span = float(np.abs(S).max()) or 1.0
    for k, (ax, c) in enumerate(zip(axes, classes)):
        ax.barh(y, S[k], color=_colour(k), height=0.7)
        ax.axvline(0, color="0.3", lw=0.8)
        ax.set_xlim(-1.1 * span, 1.1 * span)
        ax.set_title(str(c), color=_colour(k), fontsize=10)
        ax.set_xlabel(xlabel, fontsize=8)
    axes[0].set_yticks(y, labels=names, fontsize=7)
    more = f" (top {shown} of {len(genes)})" if shown < len(genes) else ""
    fig.suptitle(f"{title}{more}", fontsize=11)
    return fig


def cv_probabilities(posteriors, y, classes, *, threshold=None, title="Cross-validated probabilities"):
    """pamr.plotcvprob: each sample's posterior of every class, samples grouped by their true class.

    Parameters
    ----------
    posteriors : array-like of shape (n_samples, n_classes)
    y : sequence of true labels, length n_samples
    classes : sequence of str
    """
    P = np.asarray(posteriors, float)
    y = np.asarray([str(v) for v in y])
    classes = [str(c) for c in classes]
    order = np.concatenate([np.flatnonzero(y == c) for c in classes])
    fig = _figure(8, 4.5)
    ax = fig.subplots()
    x = np.arange(1, order.size + 1)
    for k, c in enumerate(classes):
        ax.plot(x, P[order, k], "o", ms=4, color=_colour(k), label=f"P({c})", mfc="none")
    start = 0
    for c in classes:
        size = int((y == c).sum())
        if start:
            ax.axvline(start + 0.5, color="0.4", ls="--", lw=1)
        ax.text(start + size / 2 + 0.5, 1.06, c, ha="center", color=_colour(classes.index(c)), fontsize=9)
        start += size
    ax.set_ylim(-0.02, 1.12)
    ax.set_xlabel("sample (grouped by true class)")
    ax.set_ylabel("probability")
    ax.legend(fontsize=8, loc="center right")
    at = f" at threshold {threshold:.4g}" if threshold is not None else ""
    ax.set_title(f"{title}{at}", fontsize=11)
    return fig


def gene_values(X, y, genes, classes, *, title="Expression of the top genes", limit=36):
    """pamr.geneplot: for each of the first ``limit`` genes, every sample's value, grouped by class.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_genes), columns in ``genes`` order (ranking order)
    y : sequence of labels, length n_samples
    genes, classes : sequences of str
    """
    X = np.asarray(X, float)
    y = np.asarray([str(v) for v in y])
    classes = [str(c) for c in classes]
    shown = min(limit, len(genes))
    cols = int(np.ceil(np.sqrt(shown)))
    rows = int(np.ceil(shown / cols))
    fig = _figure(2.3 * cols + 0.5, 1.9 * rows + 0.8)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    order = np.concatenate([np.flatnonzero(y == c) for c in classes])
    codes = np.array([classes.index(v) for v in y[order]])
    bounds = np.cumsum([(y == c).sum() for c in classes])[:-1] + 0.5
    for j, ax in enumerate(axes):
        if j >= shown:
            ax.set_visible(False)
            continue
        for k in range(len(classes)):
            idx = np.flatnonzero(codes == k)
            ax.plot(idx + 1, X[order[idx], j], "o", ms=3, color=_colour(k), mfc="none")
        for b in bounds:
            ax.axvline(b, color="0.5", ls="--", lw=0.7)
        ax.set_title(str(genes[j]), fontsize=8)
        ax.tick_params(labelsize=6)
        ax.set_xticks([])
    for k, c in enumerate(classes):
        axes[0].plot([], [], "o", color=_colour(k), mfc="none", label=c)
    axes[0].legend(fontsize=6, loc="best")
    fig.supxlabel("sample (grouped by class)", fontsize=9)
    fig.supylabel("expression (log2)", fontsize=9)
    more = f" (top {shown} of {len(genes)})" if shown < len(genes) else ""
    fig.suptitle(f"{title}{more}", fontsize=11)
    return fig


def patient_profile(profile, classes, *, patient="patient", note="", footer=""):
    """One patient's genes against the class centroids, each gene in units of its s_i + s0 and measured
    from the mean of the class centroids (so the centroids sit symmetrically about 0).

    Parameters
    ----------
    profile : list of {"gene", "log2", "sd", "centroids": {class: value}}
        The ``profile`` of a PAM block (kb.pam.summary).
    classes : sequence of str
    note : a line under the title (the call); footer : text under the plot (wrapped)
    """
    import textwrap

    if not profile:
        raise InputError(f"--plot: the record of {patient} has none of the model's genes; nothing to plot")
    genes = [p["gene"] for p in profile]
    sd = np.array([p["sd"] for p in profile])
    C = np.array([[p["centroids"][c] for p in profile] for c in classes])
    mid = C.mean(axis=0)
    x = np.arange(len(genes))
    fig = _figure(max(6.0, 0.5 * len(genes) + 2), 4.5)
    ax = fig.subplots()
    for k, c in enumerate(classes):
        ax.plot(x, (C[k] - mid) / sd, "s-", color=_colour(k), ms=5, lw=1, label=f"{c} centroid")
    ax.plot(x, (np.array([p["log2"] for p in profile]) - mid) / sd, "o", color="black", ms=7, label=patient)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xticks(x, labels=genes, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("(log2 − mean of centroids) / (s_i + s0)")
    ax.legend(fontsize=8)
    ax.set_title(f"{patient}: {len(genes)} genes against the class centroids" + (f"\n{note}" if note else ""),
                 fontsize=10)
    text = " ".join(t for t in (footer, RESEARCH) if t)
    fig.text(0.01, 0.005, textwrap.fill(text, 120), fontsize=7, ha="left", va="bottom")
    fig.get_layout_engine().set(rect=(0, 0.06, 1, 0.94))
    return fig


def posterior_histogram(edges, counts, classes, *, title="Posteriors of the cohort"):
    """Histogram of a cohort's posteriors: one panel per class posterior (one only with two classes,
    whose posteriors mirror each other).

    Parameters
    ----------
    edges : sequence of n_bins + 1 bin edges on [0, 1]
    counts : array-like of shape (n_shown, n_bins), one row per class shown
    classes : the classes whose posterior each row counts
    """
    edges = np.asarray(edges, float)
    counts = np.atleast_2d(np.asarray(counts, float))
    fig = _figure(7, 2.6 * len(classes) + 0.6)
    axes = np.atleast_1d(fig.subplots(len(classes), 1, sharex=True, squeeze=False)).ravel()
    for k, (ax, c) in enumerate(zip(axes, classes)):
        ax.stairs(counts[k], edges, fill=True, color=_colour(k), alpha=0.8)
        ax.axvline(0.5, color="0.4", ls="--", lw=0.8)
        ax.set_ylabel("samples")
        ax.set_title(f"P({c})", fontsize=10)
    axes[-1].set_xlabel("posterior probability")
    axes[-1].set_xlim(0, 1)
    fig.suptitle(f"{title} — {RESEARCH}", fontsize=11)
    return fig
