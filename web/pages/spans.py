"""A document's text as HTML with every curated span highlighted, overlapping spans included.

Spans nest as nested `<mark>` elements. Two spans that cross (each starts inside the other) cannot both
be single elements, so the later one is closed and reopened around the boundary, as an HTML parser
treats misnested tags: its first piece carries `id="span-START-END"`, the other pieces
`data-part-of="span-START-END"`, and the pieces together hold exactly its text.
"""
from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from web.pages.render import attr, paper


@dataclass
class Span:
    start: int
    end: int
    evidence: list[tuple[str, str, str, str]]  # (evidence id, marker, direction, status)

    @property
    def key(self) -> str:
        return f"span-{self.start}-{self.end}"


def spans_of(links: list[tuple]) -> list[Span]:
    """Distinct spans from store.document_links rows, longest first at each start."""
    by_range: dict[tuple[int, int], Span] = {}
    for eid, start, end, marker, direction, status in links:
        by_range.setdefault((start, end), Span(start, end, [])).evidence.append((eid, marker, direction, status))
    return sorted(by_range.values(), key=lambda s: (s.start, -s.end))


def _open(span: Span, first: bool) -> str:
    ids = " ".join(e[0] for e in span.evidence)
    title = "; ".join(f"{e[0]} ({e[1]}, {e[2]}{'' if e[3] == 'accepted' else ', ' + e[3]})" for e in span.evidence)
    status = "accepted" if any(e[3] == "accepted" for e in span.evidence) else span.evidence[0][3]
    ident = f'id="{span.key}"' if first else f'data-part-of="{span.key}"'
    refs = "" if not first else "".join(
        f'<a class="ref" href="/evidence/{attr(e[0])}" aria-label="evidence {attr(e[0])}"></a>' for e in span.evidence)
    return (f'{refs}<mark {ident} class="span st-{attr(status)}" data-evidence="{attr(ids)}" '
            f'title="{attr(title)}">')


def highlighted(text: str, spans: list[Span]) -> Markup:
    """The whole text, escaped, with each span marked (see the module docstring)."""
    events: dict[int, tuple[list[Span], list[Span]]] = {}
    for s in spans:
        events.setdefault(s.start, ([], []))[0].append(s)
        events.setdefault(s.end, ([], []))[1].append(s)
    out: list[str] = []
    stack: list[Span] = []
    pos = 0
    for at in sorted(events):
        opening, closing = events[at]
        out.append(paper(text[pos:at]))
        pos = at
        for s in sorted(closing, key=lambda s: -stack.index(s) if s in stack else 0):  # innermost first
            if s not in stack:
                continue
            reopen = []
            while stack[-1] is not s:  # close the spans opened inside s, to reopen them after it
                reopen.append(stack.pop())
                out.append("</mark>")
            stack.pop()
            out.append("</mark>")
            for r in reversed(reopen):
                stack.append(r)
                out.append(_open(r, first=False))
        for s in sorted(opening, key=lambda s: -s.end):
            if s.end > s.start:
                stack.append(s)
                out.append(_open(s, first=True))
    out.append(paper(text[pos:]))
    out.extend("</mark>" for _ in stack)
    return Markup("".join(out))
