"""Resolve a curator's quote to the exact character span of a document that states it.

Curators copy sentences from papers whose text extraction is damaged: whitespace runs and line breaks,
words hyphenated across lines ("discontin- uous"), markup in one rendition and not the other
("tumors<sup>1-3</sup>" vs "tumors1-3"), and page furniture (a flattened table or a figure caption)
interrupting a sentence. Matching therefore runs on a folded form of both texts in which those
differences vanish, keeping for every folded character the index of the original character it came
from. The span returned is always a slice of the original text: the stored quote is text[start:end].
"""
from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass

# Characters that carry no meaning for matching: whitespace, every dash (line-break hyphenation makes
# hyphens unreliable), markdown emphasis and escapes, zero-width characters.
_IGNORABLE = set(" \t\r\n\f\v\u00a0\u2009\u202f\u200b\u200c\u200d\ufeff\u00ad*\\") | set("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212")
_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "`": "'"}
_TAG = re.compile(r"</?(?:sup|sub|i|b|em|strong|br|span)\s*/?>", re.IGNORECASE)

MIN_PIECE = 16  # folded characters a piece on either side of an interruption must have
MAX_GAPS = 3
MAX_GAP_CHARS = 5000  # the longest interruption (in original characters) that may be skipped


@dataclass(frozen=True)
class Folded:
    """A text in folded form; `index[i]` is the original index of folded character i."""

    text: str
    index: list[int]


def _fold_char(ch: str) -> str:
    if ch in _IGNORABLE:
        return ""
    ch = _QUOTES.get(ch, ch)
    return "".join(p for p in unicodedata.normalize("NFKC", ch).casefold() if p not in _IGNORABLE and not p.isspace())


_FOLDED: dict[str, str] = {}  # per-character memo: NFKC on every character of every paper is the slow part


def fold(text: str) -> Folded:
    out: list[str] = []
    index: list[int] = []
    skip_until = -1
    tags = {m.start(): m.end() for m in _TAG.finditer(text)}
    for i, ch in enumerate(text):
        if i < skip_until:
            continue
        if i in tags:
            skip_until = tags[i]
            continue
        folded = _FOLDED.get(ch)
        if folded is None:
            folded = _FOLDED[ch] = _fold_char(ch)
        for piece in folded:
            out.append(piece)
            index.append(i)
    return Folded("".join(out), index)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    gaps: int  # interruptions skipped (page furniture inside the quoted sentence)


def find(quote: str, doc: Folded, original: str) -> Span | None:
    """The first span of `original` (folded as `doc`) that states `quote`, or None."""
    found = find_all(quote, doc, original, limit=1)
    return found[0] if found else None


def find_all(quote: str, doc: Folded, original: str, limit: int | None = None) -> list[Span]:
    """Every non-overlapping span of `original` that states `quote`, in text order (at most `limit`).

    An exact (folded) match anywhere wins over matches that skip page furniture: the gapped search
    runs only when the quote is nowhere stated without interruption."""
    q = fold(quote).text
    if not q:
        return []
    spans: list[Span] = []
    pos = doc.text.find(q)
    while pos >= 0 and (limit is None or len(spans) < limit):
        spans.append(Span(doc.index[pos], doc.index[pos + len(q) - 1] + 1, 0))
        pos = doc.text.find(q, pos + len(q))
    if spans:
        return spans
    lo = 0
    while limit is None or len(spans) < limit:
        pieces = _gapped(q, 0, doc, original, lo, len(doc.text), MAX_GAPS)
        if pieces is None:
            break
        spans.append(Span(doc.index[pieces[0][0]], doc.index[pieces[-1][1] - 1] + 1, len(pieces) - 1))
        lo = pieces[-1][1]
    return spans


def _longest_prefix(q: str, qi: int, hay: str, lo: int, hi: int) -> int:
    """Length of the longest prefix of q[qi:] that starts somewhere in hay[lo:hi] (prefix presence is monotone)."""
    good, bad = 0, len(q) - qi + 1
    while bad - good > 1:
        mid = (good + bad) // 2
        if hay.find(q[qi:qi + mid], lo, hi + mid) >= 0:
            good = mid
        else:
            bad = mid
    return good


def _gapped(q: str, qi: int, doc: Folded, original: str, lo: int, hi: int, gaps: int) -> list[tuple[int, int]] | None:
    length = _longest_prefix(q, qi, doc.text, lo, hi)
    rest = len(q) - qi - length
    if length == len(q) - qi:
        pos = doc.text.find(q[qi:], lo, hi + length)
        return [(pos, pos + length)]
    if length < MIN_PIECE or gaps == 0 or rest < MIN_PIECE:
        return None
    piece = q[qi:qi + length]
    pos = doc.text.find(piece, lo, hi + length)
    tried = 0
    while pos >= 0 and tried < 8:
        end = pos + length
        gap_limit = doc.index[end - 1] + MAX_GAP_CHARS
        next_hi = bisect.bisect_right(doc.index, gap_limit)
        tail = _gapped(q, qi + length, doc, original, end + 1, min(next_hi, len(doc.text)), gaps - 1)
        if tail is not None:
            gap_text = original[doc.index[end - 1] + 1:doc.index[tail[0][0]]]
            if "\n" in gap_text:  # an interruption is whole lines of furniture, never words inside a line
                return [(pos, end)] + tail
        tried += 1
        pos = doc.text.find(piece, pos + 1, hi + length)
    return None
