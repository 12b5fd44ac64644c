"""A patient's expression profile against a PAM model's class centroids, gene by gene, in units of s_i + s0."""
from __future__ import annotations

CLASS_STYLE = [("#0b4f8a", "^"), ("#b3261e", "v"), ("#7a5300", "D"), ("#1b6e20", "s")]


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


def profile_svg(genes: list[str], centroids: dict[str, list[float]], sd: list[float], values: dict[str, float] | None,
                patient_id: str = "patient") -> str:
    """An SVG strip plot: one row per gene, each class centroid and the patient's value on a common axis
    (`values` None: the model's centroids alone)."""
    from kb.figures.svg import figure, to_svg

    z, patient = standardized(genes, centroids, sd, values or {})
    n = len(genes)
    height = 1.3 + 0.3 * n
    fig = figure(7.5, height)
    ax = fig.add_axes([0.17, 0.85 / height, 0.8, 1 - 1.25 / height])
    rows = list(range(n))[::-1]
    for k, (c, values_z) in enumerate(z.items()):
        colour, marker = CLASS_STYLE[k % len(CLASS_STYLE)]
        ax.scatter(values_z, rows, marker=marker, s=46, color=colour, label=f"{c} centroid", zorder=2)
    have = [(p, y) for p, y in zip(patient, rows) if p is not None]
    if have:
        ax.scatter([p for p, _ in have], [y for _, y in have], marker="o", s=52, facecolor="white",
                   edgecolor="#1a1a1a", linewidth=1.6, label=patient_id, zorder=3)
    ax.axvline(0, color="#888888", linewidth=0.8, linestyle="--")
    ax.set_yticks(rows, labels=[g if p is not None or values is None else f"{g} (missing)" for g, p in zip(genes, patient)])
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel("(value − midpoint of the class centroids) / (s_i + s0)")
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#eeeeee", linewidth=0.8, zorder=0)  # the tick gridlines: no extra artists per row
    ax.tick_params(axis="y", length=0)
    ax.set_axisbelow(True)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(z) + 1, frameon=False, fontsize=9)
    label = (f"{patient_id}'s {len(have)} gene values against the {' and '.join(z)} centroids in units of s_i + s0; "
             "the table below gives the same numbers") if values is not None else \
        f"The {' and '.join(z)} centroids of {n} genes in units of s_i + s0; the table below gives the same numbers"
    return to_svg(fig, label, "pam")
