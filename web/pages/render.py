"""The pages' Jinja2 environment (autoescaping everything), the text filters it shares, and the response.

Every text from papers, curation or an upload reaches the HTML escaped, and no raw control character
reaches it at all (a raw ESC or OSC sequence in a page would act on a terminal that prints it, `curl` or
`less`, and C0/C1 controls are parse errors in HTML):
- autoescape is on for every template, and the environment's `finalize` passes every `{{ value }}` that is
  not already markup through `kb.core.escape.printable`, as the CLI does: a control character (C0, DEL,
  C1, bidi overrides, U+2028/9) becomes its visible escape (`\x1b`, `\u202e`); newlines and tabs stay;
- paper text goes through `paper`, which shows each control character visibly escaped inside a labelled
  span carrying its code point (`data-cp`), so a reader sees it and a script can still recover it;
- plots are matplotlib SVG from `kb.figures.svg.to_svg`, which escapes the same way; markup built in
  Python (`web.pages.spans`, the filters below) escapes every value it inserts with `attr`/`text`.
"""
from __future__ import annotations

import re
from functools import lru_cache

from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from kb.core.escape import printable

# The plots are inline SVG with inline style attributes; nothing else is loosened (no inline scripts).
CSP = ("default-src 'self'; style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

DIRECTIONS = {  # word, symbol and class: the colour never carries the meaning alone
    "unfavorable": ("unfavorable", "▲"), "favorable": ("favorable", "▼"), "mixed": ("mixed", "◆"),
    "none": ("no association", "○"),
}
VERDICTS = {"unfavorable": "▲", "favorable": "▼", "neutral": "·", "indeterminate": "?"}
KEEP = "\n\t"  # the whitespace a page keeps as it is
_CONTROL = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def text(value) -> str:
    """A value as page text: every control character visibly escaped (the environment's `finalize`)."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return printable(value.replace("\r\n", "\n"), keep=KEEP)  # a lone CR is escaped: it can hide a line's start


def attr(value) -> Markup:
    """A value escaped for an attribute or text built in Python (controls escaped too)."""
    return escape(printable(str(value), keep=KEEP))


def paper(text: str | None) -> Markup:
    """Escaped paper text with each control character shown as its visible escape (`\x0c`) inside a
    labelled span that carries its code point; every other character is the document's own, so offsets
    and highlighted spans still line up with the stored text."""
    if not text:
        return Markup("")
    return Markup(_CONTROL.sub(_control, str(escape(text))))


def _control(m: re.Match) -> str:
    code = ord(m.group())
    return (f'<span class="ctl" data-cp="U+{code:04X}" title="control character U+{code:04X}">'
            f'{printable(m.group())}</span>')


def direction(value: str | None) -> Markup:
    word, symbol = DIRECTIONS.get(value or "", (value or "unknown", "?"))
    return Markup('<span class="dir dir-{}"><span aria-hidden="true">{}</span> {}</span>').format(
        attr(value or "unknown"), symbol, attr(word))


def verdict(value: str) -> Markup:
    return Markup('<span class="verdict v-{}"><span aria-hidden="true">{}</span> {}</span>').format(
        attr(value), VERDICTS.get(value, "?"), attr(value))


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
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, finalize=text)
    env.filters.update(paper=paper, direction=direction, verdict=verdict, num=num, rule=rule, effect=effect)
    return env


def page(template: str, status: int = 200, **context) -> HTMLResponse:
    """The rendered page with the pages' security headers."""
    html = environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)
