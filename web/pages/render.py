"""The pages' Jinja2 environment (autoescaping everything), the text filters it shares, and the response.

Every text from papers, curation or an upload reaches the HTML escaped: autoescape is on for every
template, and paper text additionally goes through `paper`, which marks control characters visibly
(a form feed or an escape byte from a PDF extraction) without changing the text a script reads.
"""
from __future__ import annotations

import re
from functools import lru_cache

from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

# The plots are inline SVG with inline style attributes; nothing else is loosened (no inline scripts).
CSP = ("default-src 'self'; style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

DIRECTIONS = {  # word, symbol and class: the colour never carries the meaning alone
    "unfavorable": ("unfavorable", "▲"), "favorable": ("favorable", "▼"), "mixed": ("mixed", "◆"),
    "none": ("no association", "○"),
}
VERDICTS = {"unfavorable": "▲", "favorable": "▼", "neutral": "·", "indeterminate": "?"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def paper(text: str | None) -> Markup:
    """Escaped text with each control character wrapped in a visibly labelled span; the character itself
    stays in the DOM, so the page's text equals the document's. It is sent raw, not as a reference: a
    browser maps `&#128;`..`&#159;` to windows-1252 characters (€ ...), but keeps a raw control character."""
    if not text:
        return Markup("")
    escaped = str(escape(text))
    return Markup(_CONTROL.sub(_control, escaped))


def _control(m: re.Match) -> str:
    code = ord(m.group())
    ref = "\ufffd" if code == 0 else m.group()  # NUL cannot be in an HTML document
    return f'<span class="ctl" data-cp="U+{code:04X}" title="control character U+{code:04X}">{ref}</span>'


def direction(value: str | None) -> Markup:
    word, symbol = DIRECTIONS.get(value or "", (value or "unknown", "?"))
    return Markup('<span class="dir dir-{}"><span aria-hidden="true">{}</span> {}</span>').format(
        value or "unknown", symbol, word)


def verdict(value: str) -> Markup:
    return Markup('<span class="verdict v-{}"><span aria-hidden="true">{}</span> {}</span>').format(
        value, VERDICTS.get(value, "?"), value)


def num(value) -> str:
    from kb.core.text import fmt

    if value is None:
        return ""
    return fmt(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def rule(value) -> str:
    from kb.core.text import rule_text

    return rule_text(value) if value else ""


def effect(value) -> str:
    from kb.core.text import effect_text

    return effect_text(value)


@lru_cache(maxsize=1)
def environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("web.pages", "templates"), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(paper=paper, direction=direction, verdict=verdict, num=num, rule=rule, effect=effect)
    return env


def page(template: str, status: int = 200, **context) -> HTMLResponse:
    """The rendered page with the pages' security headers."""
    html = environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)
