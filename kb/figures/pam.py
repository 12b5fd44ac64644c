"""A patient's expression profile against a PAM model's class centroids, gene by gene, in units of s_i + s0.

The figure comes in two layers of one geometry, so a page can draw the model's part once and only the
patient's points per request: `profile_svg` (axes, gene labels, class centroids; with `values`, the
patient too) and `patient_layer_svg` (the patient's points alone on a transparent background), laid
over each other. `axis_limit` picks the shared x range.
"""
from __future__ import annotations

import math

CLASS_STYLE = [("#0b4f8a", "^"), ("#b3261e", "v"), ("#7a5300", "D"), ("#1b6e20", "s")]
STEPS = (1.0, 2.0, 2.5, 5.0)  # x limits are a step times a power of ten: few distinct base layers


def standardized(genes: list[str], centroids: dict[str, list[float]], sd: list[float],
                 values: dict[str, float]) -> tuple[dict[str, list[float]], list[float | None]]:
    """Each class centroid and the patient's value per gene as (x - m_i) / (s_i + s0), m_i the midpoint of
    the class centroids; a gene the patient lacks is None. The squared gap between the patient and a class
    in these units is that gene's term of the class's δ."""
    classes = list(centroids)
    mids = [sum(centroids[c][i] for c in classes) / len(classes) for i in range(len(genes))]
    z = {c: [(centroids[c][i] - mids[i]) / sd[i] for i in range(len(genes))] for c in classes}
    patient = [None if g.upper() not in values else (values[g.upper()] - mids[i]) / sd[i] for i, g in enumerate(genes)]
    return z, patient


def axis_limit(*series) -> float:
    """The smallest step × 10^k at least 1.1 × the largest |value| of the series (None values skipped)."""
    top = max([abs(v) for s in series for v in s if v is not None] + [1e-3]) * 1.1
    power = 10.0 ** math.floor(math.log10(top))
    return next(step * power for step in STEPS + (10.0,) if step * power >= top)


def _frame(n: int) -> tuple[float, list[float], tuple[float, float]]:
    """(figure height in inches, the axes rectangle in figure fractions, the y range) for n genes."""
    height = 1.3 + 0.3 * n
    return height, [0.17, 0.85 / height, 0.8, 1 - 1.25 / height], (-0.7, n - 0.3)


def _axes(n: int):
    from kb.figures.svg import figure

    height, box, ylim = _frame(n)
    fig = figure(7.5, height)
    ax = fig.add_axes(box)
    ax.set_ylim(*ylim)
    return fig, ax


def profile_svg(genes: list[str], centroids: dict[str, list[float]], sd: list[float], values: dict[str, float] | None,
                patient_id: str = "patient", limit: float | None = None, missing: tuple[str, ...] = (),
                overlay: bool = False) -> str:
    """An SVG strip plot: one row per gene, each class centroid and (with `values`) the patient's value on
    x from -limit to limit (default: `axis_limit` of what is drawn); genes in `missing` are labelled so.
    `overlay`: the base for `patient_layer_svg` (its legend names the patient's points already)."""
    from kb.figures.svg import to_svg

    z, patient = standardized(genes, centroids, sd, values or {})
    n = len(genes)
    limit = limit or axis_limit(patient, *z.values())
    fig, ax = _axes(n)
    rows = list(range(n))[::-1]
    for k, (c, values_z) in enumerate(z.items()):
        colour, marker = CLASS_STYLE[k % len(CLASS_STYLE)]
        ax.scatter(values_z, rows, marker=marker, s=46, color=colour, label=f"{c} centroid", zorder=2)
    if values is not None:
        _points(ax, patient, rows, patient_id)
    ax.axvline(0, color="#888888", linewidth=0.8, linestyle="--")
    ax.set_xlim(-limit, limit)
    gone = {g.upper() for g in missing} | ({g.upper() for g, p in zip(genes, patient) if p is None} if values else set())
    ax.set_yticks(rows, labels=[f"{g} (missing)" if g.upper() in gone else g for g in genes])
    ax.set_xlabel("(value − midpoint of the class centroids) / (s_i + s0)")
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#eeeeee", linewidth=0.8, zorder=0)  # the tick gridlines: no extra artists per row
    ax.tick_params(axis="y", length=0)
    ax.set_axisbelow(True)
    handles, _ = ax.get_legend_handles_labels()
    if overlay:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], marker="o", markersize=7, markerfacecolor="none", markeredgecolor="#1a1a1a",
                              markeredgewidth=1.6, linestyle="none", label=patient_id))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles), frameon=False,
              fontsize=9)
    label = f"The {' and '.join(z)} centroids of {n} genes in units of s_i + s0"
    if values is not None:
        label = f"{patient_id}'s gene values against the {' and '.join(z)} centroids in units of s_i + s0"
    return to_svg(fig, label + "; the table below gives the same numbers", "pam")


def _points(ax, patient: list[float | None], rows: list[int], patient_id: str) -> None:
    have = [(p, y) for p, y in zip(patient, rows) if p is not None]
    if have:
        ax.scatter([p for p, _ in have], [y for _, y in have], marker="o", s=70, facecolor="none",
                   edgecolor="#1a1a1a", linewidth=1.6, label=patient_id, zorder=3)


def patient_layer_svg(genes: list[str], centroids: dict[str, list[float]], sd: list[float], values: dict[str, float],
                      limit: float, patient_id: str = "patient") -> str:
    """The patient's points alone, transparent, in the geometry of `profile_svg(..., limit=limit)`: laid over
    that figure's base (drawn once per model) it makes the same picture at a fraction of the drawing. The
    points are one matplotlib line of markers placed through the base's data-to-figure transform, with no
    Axes: building an Axes (spines, ticks, grid) was most of the cost of a layer that hides them all."""
    from matplotlib.lines import Line2D
    from matplotlib.transforms import Bbox, BboxTransform

    from kb.figures.svg import figure, to_svg

    _, patient = standardized(genes, centroids, sd, values)
    n = len(genes)
    height, box, (y0, y1) = _frame(n)
    fig = figure(7.5, height)
    fig.patch.set_alpha(0)
    data_to_figure = BboxTransform(Bbox([[-limit, y0], [limit, y1]]), Bbox.from_bounds(*box)) + fig.transFigure
    have = [(p, y) for p, y in zip(patient, list(range(n))[::-1]) if p is not None]
    if have:  # as _points draws them: scatter's s=70 is an area in points², a marker size is its side
        fig.add_artist(Line2D([p for p, _ in have], [y for _, y in have], transform=data_to_figure, linestyle="none",
                              marker="o", markersize=math.sqrt(70), markerfacecolor="none", markeredgecolor="#1a1a1a",
                              markeredgewidth=1.6, label=patient_id, zorder=3))
    return to_svg(fig, f"{patient_id}'s gene values", "pam-patient")


def cv_curve_svg(training: dict, chosen: float | None) -> str:
    """A trained model's cross-validation curve (its error against the threshold, the genes kept on the top
    axis, as `pamr.plotcv` draws the overall panel) as inline SVG, from the `training` block of its file."""
    from kb.figures.svg import to_svg
    from kb.pam.plots import cv_curve

    fig = cv_curve(training["thresholds"], training["cv_errors"], training["nonzero"], None, [], chosen=chosen,
                   title=f"PAM cross-validation ({'LOOCV' if training['folds'] == 'loo' else str(training['folds'].get('k')) + '-fold'})")
    return to_svg(fig, "Cross-validated misclassification error against the shrinkage threshold", "cv")
