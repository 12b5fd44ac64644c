"""The passage of a paper closest to a quote that is not in it, with the words that differ marked.

A curator whose quote is refused needs to see where the paper says nearly the same thing and what it says
instead ("31 patients", not "32"). The search runs on the folded texts the quote matcher uses
(`ingest.spans`: whitespace, dashes, markup and case do not count), with rapidfuzz's best partial
alignment, and maps back to original offsets, so the passage shown is verbatim text of the document. The
words are then aligned (difflib over folded words) and the differences written wdiff style: `[-paper-]`
for the paper's words, `{+quote+}` for the quote's. Plain ASCII brackets: safe on a terminal, in a pipe,
in a log and in JSON.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from ingest import spans

MAX_QUOTE = 2000  # folded characters: the alignment's cost grows with the quote's length times the text's
MAX_PER_FILE = 50  # passages looked for in one file (a hostile body may hold thousands of bad quotes)
MIN_SIMILARITY = 70.0  # percent (folded characters); below it no passage is near enough to be worth showing
LINE = 96  # characters of one passage line (indented by 4: under 100 columns)
LINES = 2  # passage lines at most
CONTEXT = 40  # characters of agreeing text kept on either side of a difference when the passage is cut
SLACK = 2  # words by which the gaps between two agreeing runs may differ and still be one passage
_WORD = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    folded: str


@dataclass(frozen=True)
class Passage:
    document_id: str
    document: str  # the document's path in seeds/
    start: int
    end: int
    text: str  # exactly the document's text[start:end]
    similarity: float  # percent
    marked: str  # the passage (whitespace runs as one space) with [-paper-]{+quote+} differences
    differences: int

    def as_json(self) -> dict:
        return {"document_id": self.document_id, "document": self.document, "start": self.start, "end": self.end,
                "text": self.text, "similarity": self.similarity, "marked": self.marked,
                "differences": self.differences, "marking": "[-paper-]{+quote+}"}


_BREAK = re.compile(r"[-\u00ad\u2010\u2011][ \t]*\n\s*\Z")  # a word hyphenated at a line break: "Con-\nversely"
_HYPHEN_SPACE = re.compile(r"[-\u00ad\u2010\u2011]\s+\Z")  # the same copied into a quote: "Con- versely"


def _tokens(text: str, offset: int = 0, words: set[str] | None = None) -> list[_Token]:
    """The words and punctuation marks of `text` (offsets + `offset`), folded as the quote matcher folds.
    The two halves of a word hyphenated at a line break are one word; in a quote (`words`: the paper's
    words), "Con- versely" is one word where the paper has "conversely" ("IFN- is" stays two)."""
    # markup tags vanish first, as in the matcher ("clinically<sup>21" is the word "clinically21");
    # `at[i]` is the index in `text` of character i of `plain`
    plain, at, pos = [], [], 0
    for tag in list(spans._TAG.finditer(text)) + [None]:
        end = tag.start() if tag else len(text)
        plain.append(text[pos:end])
        at.extend(range(pos, end))
        pos = tag.end() if tag else pos
    plain = "".join(plain)
    at.append(len(text))
    out: list[_Token] = []
    joined = False
    for m in _WORD.finditer(plain):
        folded = spans.fold(m.group()).text
        if not folded:  # dashes, markup and escapes do not count, as in the quote matcher
            continue
        start, end = at[m.start()] + offset, at[m.end() - 1] + 1 + offset
        if out and not joined and m.group()[0].isalnum():
            between = text[out[-1].end - offset:start - offset]
            if (_BREAK.match(between) if words is None else
                    _HYPHEN_SPACE.match(between) and out[-1].folded + folded in words):
                out[-1] = _Token(out[-1].start, end, out[-1].folded + folded)
                joined = True
                continue
        joined = False
        out.append(_Token(start, end, folded))
    return out


def closest_passage(quote: str, documents, texts) -> Passage | None:
    """The passage of `documents` (folded through `texts`, an ingest.curation.Texts) most like `quote`, or
    None when none is at least MIN_SIMILARITY percent alike."""
    from rapidfuzz import fuzz

    q = spans.fold(quote).text
    best = None
    for doc in documents:
        folded = texts.folded(doc)
        if not q or not folded.text:
            continue
        found = fuzz.partial_ratio_alignment(q, folded.text)
        if found is not None and found.dest_end > found.dest_start and (best is None or found.score > best[0].score):
            best = (found, doc, folded)
    if best is None or best[0].score < MIN_SIMILARITY:
        return None
    found, doc, folded = best
    lo, hi = folded.index[found.dest_start], folded.index[found.dest_end - 1] + 1
    margin = len(quote) + 20  # words the alignment left out at either edge are still candidates
    window = _tokens(doc.text[max(0, lo - margin):hi + margin], max(0, lo - margin))
    words = _tokens(quote, words={t.folded for t in window})
    if not window or not words:
        return None
    first, last = _span(words, window)
    paper = window[first:last]
    if not paper:
        return None
    marked, differences = _mark(quote, words, doc.text, paper)
    start, end = paper[0].start, paper[-1].end
    return Passage(doc.id, doc.path, start, end, doc.text[start:end], round(found.score, 1), marked, differences)


def _span(words: list[_Token], window: list[_Token]) -> tuple[int, int]:
    """The window's words [first, last) that the quote's words stand for: the longest agreeing run, widened
    by the runs that keep the same spacing in both (a stray "of the" further off is not taken), and by as
    many words at either end as the quote has there without a match."""
    a, b = [w.folded for w in words], [w.folded for w in window]
    blocks = [m for m in SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks() if m.size]
    if not blocks:
        return 0, 0
    core = max(range(len(blocks)), key=lambda k: blocks[k].size)
    lo = hi = core
    while lo > 0:
        prev, cur = blocks[lo - 1], blocks[lo]
        if abs((cur.a - prev.a - prev.size) - (cur.b - prev.b - prev.size)) > SLACK:
            break
        lo -= 1
    while hi < len(blocks) - 1:
        cur, nxt = blocks[hi], blocks[hi + 1]
        if abs((nxt.a - cur.a - cur.size) - (nxt.b - cur.b - cur.size)) > SLACK:
            break
        hi += 1
    head, tail = blocks[lo], blocks[hi]
    first = max(0, head.b - head.a)
    last = min(len(b), tail.b + tail.size + (len(a) - tail.a - tail.size))
    return first, last


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _mark(quote: str, words: list[_Token], text: str, paper: list[_Token]) -> tuple[str, int]:
    """The paper's passage with the differences to the quote marked, and how many differences there are."""
    ops = SequenceMatcher(None, [w.folded for w in words], [w.folded for w in paper], autojunk=False).get_opcodes()
    pieces: list[tuple[str, bool]] = []  # (text, is a difference)
    pos = paper[0].start
    for tag, i1, i2, j1, j2 in ops:
        said = _flat(text[paper[j1].start:paper[j2 - 1].end]) if j2 > j1 else ""
        quoted = _flat(quote[words[i1].start:words[i2 - 1].end]) if i2 > i1 else ""
        gap = _flat(text[pos:paper[j1].start]) if j1 < len(paper) else ""
        if tag == "equal" or (tag == "replace" and _same(words[i1:i2], paper[j1:j2])):
            pieces.append((gap + said, False))  # "sup- pressor" in the quote, "sup-\npressor" in the paper: the same
        elif tag == "insert":
            pieces.append((gap, False))
            pieces.append((f"{{+{quoted}+}}" + (" " if j1 < len(paper) and not gap.endswith(" ") else ""), True))
            pos = paper[j1].start if j1 < len(paper) else pos
            continue
        else:
            pieces.append((gap, False))
            pieces.append((f"[-{said}-]" + (f"{{+{quoted}+}}" if quoted else ""), True))
        pos = paper[j2 - 1].end
    differences = sum(1 for _, hunk in pieces if hunk)
    return "".join(p for p, _ in pieces).strip(), differences


def _same(a: list[_Token], b: list[_Token]) -> bool:
    return "".join(t.folded for t in a) == "".join(t.folded for t in b)


def shown(marked: str, width: int = LINE, lines: int = LINES) -> list[str]:
    """`marked` cut around its differences to at most `lines` lines of `width` characters: agreeing text
    far from a difference is replaced by "…", then the lines are wrapped at spaces."""
    budget = width * lines
    if len(marked) > budget:
        parts = re.split(r"(\[-.*?-\](?:\{\+.*?\+\})?|\{\+.*?\+\})", marked)
        out = []
        for k, part in enumerate(parts):
            if k % 2:  # a difference
                out.append(part)
                continue
            left, right = k > 0, k < len(parts) - 1  # a difference on that side
            if left and right and len(part) > 2 * CONTEXT + 3:
                part = _cut_end(part, CONTEXT) + " … " + _cut_start(part, CONTEXT)
            elif left and not right and len(part) > CONTEXT + 2:
                part = _cut_end(part, CONTEXT) + " …"
            elif right and not left and len(part) > CONTEXT + 2:
                part = "… " + _cut_start(part, CONTEXT)
            out.append(part)
        marked = "".join(out)
    rows: list[str] = []
    for word in marked.split(" "):
        if rows and len(rows[-1]) + 1 + len(word) <= width:
            rows[-1] += " " + word
        else:
            rows.append(word)
    if len(rows) > lines:
        rows = rows[:lines]
        rows[-1] = rows[-1][:width - 2].rstrip() + " …"
    return [r[:width] for r in rows]


def _cut_end(text: str, n: int) -> str:
    """The first ~n characters of text, ending at a space."""
    cut = text[:n]
    return cut[:cut.rfind(" ")] if " " in cut.strip() else cut


def _cut_start(text: str, n: int) -> str:
    cut = text[-n:]
    return cut[cut.find(" ") + 1:] if " " in cut.strip() else cut


def not_found(quote: str, source: str) -> str:
    """The problem of a quote the text does not state (what the build reports)."""
    short = quote if len(quote) <= 80 else quote[:77] + "..."
    return f"quote not found in any rendition of {source}: {short!r}"


def explain(quote: str, source: str, documents, texts) -> tuple[str, tuple[str, ...], dict | None]:
    """A 'quote not found' problem with the closest passage: the problem line, the passage lines shown under
    it (at most LINES), and the passage as data (None when no passage is near enough)."""
    n_folded = len(spans.fold(quote).text)
    if n_folded > MAX_QUOTE:
        return f"{not_found(quote, source)}; too long ({n_folded} characters) to look for the closest passage", (), None
    passage = closest_passage(quote, documents, texts)
    if passage is None:
        return f"{not_found(quote, source)}; no passage of its text is {MIN_SIMILARITY:.0f}% alike", (), None
    n = passage.differences
    problem = (f"quote not found in any rendition of {source}; closest: {passage.document} [{passage.start}:{passage.end}]"
               f" ({passage.similarity:.0f}% alike, {n} difference{'' if n == 1 else 's'} [-paper-]{{+quote+}}):")
    return problem, tuple(shown(passage.marked)), passage.as_json()
