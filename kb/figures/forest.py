"""Forest plot: the ratio effects (HR, OR, RR) of a list of evidence items on a log scale."""
from __future__ import annotations

RATIO_MEASURES = ("HR", "OR", "RR")
COLOURS = {"unfavorable": "#b3261e", "favorable": "#1b6e20", "mixed": "#7a5300", "none": "#4d4d4d"}


def ratio_items(items: list[dict]) -> list[dict]:
    """The items whose effect is a positive numeric HR, OR or RR (with or without a stated CI)."""
    return [i for i in items if i.get("effect") and i["effect"]["measure"] in RATIO_MEASURES
            and isinstance(i["effect"].get("value"), (int, float)) and i["effect"]["value"] > 0]


def _ci(effect: dict) -> tuple[float, float] | None:
    ci = effect.get("ci")
    if ci and all(isinstance(v, (int, float)) and v > 0 for v in ci):
        return float(ci[0]), float(ci[1])
    return None


def forest_svg(items: list[dict], title: str = "") -> str | None:
    """An SVG forest plot of `ratio_items(items)`, one row per item (top = first), CI whiskers where the
    item states one and a hollow marker where it does not; None when no item has a ratio."""
    rows = ratio_items(items)
    if not rows:
        return None
    from kb.figures.svg import figure, to_svg

    fig = figure(7.5, 0.9 + 0.42 * len(rows))
    ax = fig.add_axes([0.36, 0.9 / (0.9 + 0.42 * len(rows)) * 0.75, 0.6, 1 - 0.9 / (0.9 + 0.42 * len(rows))])
    lows, highs = [], []
    for y, item in enumerate(reversed(rows)):
        e = item["effect"]
        colour = COLOURS.get(item["direction"], "#4d4d4d")
        ci = _ci(e)
        if ci:
            ax.plot(ci, [y, y], color=colour, linewidth=1.6)
            lows.append(ci[0])
            highs.append(ci[1])
        ax.plot([e["value"]], [y], marker="s", markersize=7, color=colour,
                markerfacecolor=colour if ci else "white", markeredgewidth=1.6, linestyle="none")
        lows.append(e["value"])
        highs.append(e["value"])
    lo, hi = min(lows + [1.0]), max(highs + [1.0])
    pad = max(1.25, (hi / lo) ** 0.08)
    ax.set_xscale("log")
    ax.set_xlim(lo / pad, hi * pad)
    ax.axvline(1.0, color="#333333", linewidth=0.8, linestyle="--")
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 1, 10, 0.1: not 10^0
    ax.xaxis.set_minor_formatter(NullFormatter())
    labels = [f"{i['effect']['measure']} · {i['id']}" for i in reversed(rows)]
    ax.set_yticks(range(len(rows)), labels=[_short(label) for label in labels])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("ratio (log scale); ■ with stated 95% CI, □ no CI stated")
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    label = (f"Forest plot of {len(rows)} ratio effect{'s' if len(rows) != 1 else ''} on a log scale; "
             "the table below gives the same numbers")
    return to_svg(fig, label, "forest")


def _short(text: str, limit: int = 44) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

