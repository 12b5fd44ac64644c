"""A matplotlib Figure as inline SVG: real text (not glyph paths), deterministic ids, no XML prologue."""
from __future__ import annotations

import html
import io
import re

from kb.core.escape import printable

RC = {"svg.fonttype": "none", "svg.hashsalt": "biomarker-kb", "font.size": 10}


def figure(width: float, height: float):
    """A Figure sized in inches. No pyplot: no global state, so requests on several threads can draw."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=72)


def to_svg(fig, label: str, prefix: str) -> str:
    """The figure as an `<svg>` element with role=img and an aria-label; its element ids carry `prefix`,
    so several plots can share a page."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    FigureCanvasSVG(fig)
    buf = io.StringIO()
    with rc_context(RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r'id="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = re.sub(r'(url\(#|href="#)([^)"]+)', lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)
    # matplotlib writes label text as given: a control character in a label (a patient id, an item id)
    # is written visibly escaped, as the pages write every text (web/pages/render.py)
    svg = printable(svg, keep="\n\t")
    return svg.replace("<svg ", f'<svg role="img" aria-label="{html.escape(printable(label))}" ', 1)
