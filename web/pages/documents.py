"""Document texts for the pages (held by `web.pages.deps.Site`), with their sentence boundaries (found on
first use) for showing a quote in its sentence."""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

CONTEXT_LIMIT = 320  # characters of a sentence shown on either side of a quote at most


@dataclass
class Document:
    id: str
    path: str
    sha256: str
    text: str
    _sentences: list[tuple[int, int]] | None = field(default=None, repr=False)

    def sentences(self) -> list[tuple[int, int]]:
        if self._sentences is None:
            from kb.curate.candidates import sentence_spans

            self._sentences = sentence_spans(self.text)
        return self._sentences

    def in_sentence(self, start: int, end: int) -> tuple[str, str, str, bool, bool]:
        """(before, quote, after, cut before, cut after): the quote inside the sentences it touches."""
        spans = self.sentences()
        starts = [s for s, _ in spans]
        i = bisect.bisect_right(starts, start) - 1
        lo = spans[i][0] if i >= 0 and spans[i][1] > start else start
        j = bisect.bisect_left(starts, end) - 1
        hi = max(end, spans[j][1]) if j >= 0 else end
        cut_lo, cut_hi = start - lo > CONTEXT_LIMIT, hi - end > CONTEXT_LIMIT
        lo, hi = max(lo, start - CONTEXT_LIMIT), min(hi, end + CONTEXT_LIMIT)
        return self.text[lo:start], self.text[start:end], self.text[end:hi], cut_lo, cut_hi


def with_context(docs: dict[str, Document], items: list[dict]) -> None:
    """Give each link of each item its sentence context (`before`, `after`, `cut_before`, `cut_after`)."""
    for item in items:
        for link in item["links"]:
            doc = docs[link["document_id"]]
            link["before"], _, link["after"], link["cut_before"], link["cut_after"] = doc.in_sentence(link["start"], link["end"])
