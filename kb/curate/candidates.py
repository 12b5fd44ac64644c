"""Candidate evidence sentences the curation has not covered yet, and per-source coverage.

A *marker sentence* is a sentence of a document that mentions a marker (any alias in the dictionary:
an exact or normalised word-boundary match, or a near miss of a long alias) together with a cue that it
states a finding: a number, or a comparative word such as higher, decreased, associated, predicted.
A therapy name from the vocabulary is not a marker mention ('CD19 CAR-T' does not mention CD19
expression), and citation numbers, years and the digits inside names are not numbers.
It is *covered* when an evidence link of that document overlaps it (whatever the item's status: a
rejected item means a curator has looked at the sentence), *dismissed* when a dismissal of the curation
file (`dismissed: [{quote, reason}]`, verified like any quote) overlaps it, and *open* otherwise. The
open marker sentences are the candidates; coverage per source = (covered + dismissed) / all marker
sentences, the share a curator has reviewed.

Sentences are found on the original text, so every candidate's `sentence == text[start:end]`: PDF text
lines are joined (a blank line inside a sentence, as at a page break, does not end it), sentence ends
are punctuation followed by a capital (not after et al., e.g., Fig., initials ...), and headings, table
rows and reference-list entries are kept apart (a reference entry is never a marker sentence; nor is any
text inside the spans of the cited works parsed from a reference list).
"""
from __future__ import annotations

import bisect
import os
import re
from dataclasses import dataclass

import duckdb

from kb.core import store
from kb.core.errors import NotFound
from kb.core.normalize import digit_groups, norm
from kb.query.database import connect

FUZZY_MIN_LEN = 10  # normalised characters an alias needs before near misses are looked for
FUZZY_CUTOFF = 90.0  # rapidfuzz ratio on the normalised spellings
_BLOCK = 3  # leading characters a near miss shares with its alias (typos and OCR damage fall later)
_BAND = 0.8  # ratio >= 90 needs the shorter spelling to be at least ~0.82 of the longer
MAX_SENTENCE = 1200  # longer "sentences" are flattened tables or captions: split them at line breaks

_TOKEN = re.compile(r"[^\W_]+")
_NUMBER = re.compile(r"(?<![\w.])[<>≤≥=]?\d+(?:[.,·]\d+)?\s?%?(?![A-Za-z])|(?<![\w])\.\d+")
# citation markers and years are not a finding's numbers: <sup>1-3</sup>, (59), [12, 13], (Davila et al., 2014)
_CITATION = re.compile(r"<sup>.*?</sup>|</?(?:sup|sub|i|b|em|strong|span)>|\(\d+(?:\s*[,–-]\s*\d+)*\)|"
                       r"\[\d+(?:\s*[,–-]\s*\d+)*\]|\b(?:19|20)\d{2}\b", re.IGNORECASE | re.DOTALL)
_CUE = re.compile(
    r"\b(?:higher|lower|highest|lowest|high|low|greater|fewer|less|more|better|worse|superior|inferior|shorter|"
    r"longer|increas\w*|decreas\w*|elevat\w*|reduc\w*|associat\w*|predict\w*|correlat\w*|improv\w*|prolong\w*|"
    r"significan\w*|enrich\w*|upregulat\w*|downregulat\w*|hazard|odds|risk|versus|vs|compared)\b",
    re.IGNORECASE)
_SENTENCE_END = re.compile(
    r"[.!?][)\]\"'’”*]*(?:<sup>[^<]{0,20}</sup>|\[\d[\d,\s–-]*\]|(?<=[a-z)]\.)\d{1,3}(?:[,–-]\d{1,3})*)?"
    r"(?P<gap>\s+)(?=[\"'“‘(\[*]?[A-Z])")
_ABBREV = re.compile(r"(?:\bet al|\be\.g|\bi\.e|\bFigs?|\bvs|\bNo|\bDr|\bRef|\bEq|\bca|\bcf|\bapprox|\bSupp|\bTab|"
                     r"(?<![\w.])[A-Z])\.$")
_BLANK = re.compile(r"\n[ \t]*\n\s*")
_REFERENCE_ENTRY = re.compile(r"\b(?:19|20)\d{2};\s*\d+(?:\(\w+\))?:|\bdoi:\s*10\.|^\s*\d+\.\s+[A-Z][a-z]+\s+[A-Z]{1,3},", re.M)
_REFERENCES_HEADING = re.compile(r"^#+\s*\**references\**\s*$", re.IGNORECASE | re.MULTILINE)
_MD_BLOCK = re.compile(r"#+\s|\|")  # a markdown heading or table row is a segment of its own
_TERMINAL = ".!?:;"


@dataclass(frozen=True)
class Mention:
    marker_id: str
    start: int
    end: int
    fuzzy: bool


# ---- sentences -----------------------------------------------------------------------------------

def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence of `text`, whitespace trimmed, in order."""
    limit = len(text)
    refs = _REFERENCES_HEADING.search(text)
    if refs:
        limit = refs.start()
    cuts: list[tuple[int, int]] = []  # (end of the previous sentence, start of the next)
    for m in _BLANK.finditer(text, 0, limit):
        before = _last_char(text, m.start())
        after = text[m.end():m.end() + 1]
        if before and before not in _TERMINAL and (after.islower() or before in "/-–,(&"):
            continue  # a page or column break inside a sentence
        cuts.append((m.start(), m.end()))
    for m in _SENTENCE_END.finditer(text, 0, limit):
        if not _ABBREV.search(text[max(0, m.start() - 8):m.start() + 1]):
            cuts.append((m.start("gap"), m.end("gap")))
    pos = 0
    for line in text[:limit].splitlines(keepends=True):
        stripped = line.strip()
        end = pos + len(line.rstrip("\r\n"))
        if _MD_BLOCK.match(stripped) or "\t" in stripped or _is_heading(stripped, text[pos + len(line):pos + len(line) + 40]):
            cuts.append((pos, pos))
            cuts.append((end, end))
        pos += len(line)
    cuts.append((limit, limit))
    cuts.sort()
    spans: list[tuple[int, int]] = []
    start = 0
    for cut_end, cut_start in cuts:
        if cut_end > start:
            spans.extend(_trimmed(text, start, cut_end))
        start = max(start, cut_start)
    return spans


def _last_char(text: str, pos: int) -> str:
    """The last non-space character before `pos` ('' at the start)."""
    while pos > 0 and text[pos - 1].isspace():
        pos -= 1
    return text[pos - 1] if pos else ""


def _is_heading(line: str, following: str) -> bool:
    """A short line without end punctuation followed by a capitalised word: 'Introduction', 'METHODS'."""
    if not line or len(line) > 40 or line[-1] in _TERMINAL + ",-–":
        return False
    nxt = following.lstrip()
    return bool(re.match(r"[A-Z][a-z]", nxt)) and (line.isupper() or line.istitle() or len(line.split()) <= 3)


def _trimmed(text: str, start: int, end: int) -> list[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end <= start:
        return []
    lines = text[start:end].splitlines(keepends=True)
    if end - start <= MAX_SENTENCE or len(lines) == 1:
        return [(start, end)]
    out, pos = [], start
    for line in lines:
        out.extend(_trimmed(text, pos, pos + len(line)))
        pos += len(line)
    return out


# ---- marker mentions -----------------------------------------------------------------------------

class AliasMatcher:
    """Every alias of every marker, matched on whole words of the text (normalised), plus near misses."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.names = store.marker_names(con)
        self.by_key: dict[str, str | None] = {}  # normalised spelling -> marker id (None: a therapy name)
        self.token_counts: dict[str, set[int]] = {}
        exact_only: set[str] = set()
        for marker_id, alias, key, exact in store.marker_aliases(con):
            if not key:
                continue
            self.by_key.setdefault(key, marker_id)
            self.token_counts.setdefault(key, set()).add(len(_TOKEN.findall(alias)))
            if exact:
                exact_only.add(key)
        for key in store.term_aliases(con, "therapy"):  # 'CD19 CAR-T' names a therapy, not a CD19 measurement:
            if len(key) >= 6:  # matched like an alias, then dropped
                self.by_key.setdefault(key, None)
                self.token_counts.setdefault(key, set())
        self.prefixes = {key[:i] for key in self.by_key for i in range(1, len(key) + 1)}
        self.long: dict[str, list[str]] = {}  # near misses keep their first characters: block on them
        for key in sorted(self.by_key):  # common words ('lymphocytes') are matched as written, never as near misses
            if len(key) >= FUZZY_MIN_LEN and self.by_key[key] is not None and key not in exact_only:
                self.long.setdefault(key[:_BLOCK], []).append(key)
        self.band = {block: (int(min(map(len, keys)) * _BAND), int(max(map(len, keys)) / _BAND) + 1)
                     for block, keys in self.long.items()}

    def exact(self, tokens: list[tuple[int, int, str]]) -> list[Mention]:
        """Longest-first matches of joined normalised tokens: 'IL-6', 'IL 6', 'IL6' and 'blinatu-\\nmomab' all match."""
        found, i = [], 0
        while i < len(tokens):
            best, joined = None, ""
            for j in range(i, len(tokens)):
                joined += tokens[j][2]
                if joined not in self.prefixes:
                    break
                counts = self.token_counts.get(joined)
                if counts is not None and (j - i + 1 in counts or len(joined) >= 6):
                    best = j
            if best is None:
                i += 1
                continue
            marker_id = self.by_key["".join(t[2] for t in tokens[i:best + 1])]
            found.append(Mention(marker_id, tokens[i][0], tokens[best][1], False))
            i = best + 1
        return found

    def windows(self, tokens: list[tuple[int, int, str]], taken: set[int], into: dict[str, list[tuple[int, int]]]) -> None:
        """Runs of up to six tokens outside exact mentions that could be a near miss of a long alias."""
        for i, (start, _, key) in enumerate(tokens):
            band = self.band.get(key[:_BLOCK])
            if band is None or start in taken:
                continue
            low, high = band
            joined = ""
            for j in range(i, min(i + 6, len(tokens))):
                if tokens[j][0] in taken:
                    break
                joined += tokens[j][2]
                if len(joined) > high:
                    break
                if len(joined) >= low:
                    into.setdefault(joined, []).append((start, tokens[j][1]))

    def fuzzy(self, windows: dict[str, list[tuple[int, int]]]) -> dict[tuple[int, int], tuple[str, float]]:
        """Near misses of long aliases: {(start, end): (marker id, score)}, best alias per window."""
        if not windows:
            return {}
        from rapidfuzz import fuzz, process

        blocks: dict[str, list[str]] = {}
        for key in windows:
            if key not in self.by_key:
                blocks.setdefault(key[:_BLOCK], []).append(key)
        hits: dict[tuple[int, int], tuple[str, float]] = {}
        for block, keys in blocks.items():
            aliases = self.long[block]
            scores = process.cdist(aliases, keys, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
            for ai, wi in zip(*scores.nonzero()):
                alias, window = aliases[ai], keys[wi]
                if digit_groups(alias) != digit_groups(window):
                    continue  # 'interleukin 8' is no near miss of 'interleukin 6'
                score = float(scores[ai, wi])
                for span in windows[window]:
                    if score > hits.get(span, ("", 0.0))[1]:
                        hits[span] = (self.by_key[alias], score)
        return hits


def _tokens(text: str) -> list[tuple[int, int, str]]:
    out = []
    for m in _TOKEN.finditer(text):
        word = m.group()
        key = word.lower() if word.isascii() else norm(word)
        if key:
            out.append((m.start(), m.end(), key))
    return out


# ---- the report ----------------------------------------------------------------------------------

@dataclass
class _Sentence:
    source: str
    document: str
    start: int
    end: int
    mentions: list[Mention]
    cues: list[str]


def _cues(text: str, start: int, end: int, mentions: list[Mention]) -> list[str]:
    chars = list(text[start:end])
    for m in mentions:  # the digits of 'CD19', 'IL-6' or 'CAR-T-19' are not a finding's number
        chars[m.start - start:m.end - start] = " " * (m.end - m.start)
    masked = _CITATION.sub(lambda t: " " * len(t.group()), "".join(chars))
    words = [w.group() for w in _CUE.finditer(masked)]
    numbers = [n.group().strip() for n in _NUMBER.finditer(masked)]
    return list(dict.fromkeys(words + numbers))[:6]


def _marker_sentences(documents, matcher: AliasMatcher) -> list[_Sentence]:
    out: list[_Sentence] = []
    for doc_id, source_id, path, text in documents:
        tokens = _tokens(text)
        starts = [t[0] for t in tokens]
        pending: list[tuple[tuple[int, int], list[Mention], list[tuple[int, int, str]]]] = []
        windows: dict[str, list[tuple[int, int]]] = {}
        for start, end in sentence_spans(text):
            if _REFERENCE_ENTRY.search(text, start, end):
                continue
            sent_tokens = tokens[bisect.bisect_left(starts, start):bisect.bisect_left(starts, end)]
            matched = matcher.exact(sent_tokens)
            taken = {t[0] for t in sent_tokens if any(m.start <= t[0] < m.end for m in matched)}
            matcher.windows(sent_tokens, taken, windows)
            pending.append(((start, end), matched, sent_tokens))
        near = matcher.fuzzy(windows)
        near_by_start: dict[int, list[tuple[float, int, str]]] = {}
        for (s, e), (marker_id, score) in near.items():
            near_by_start.setdefault(s, []).append((-score, e, marker_id))
        for (start, end), matched, sent_tokens in pending:
            mentions = [m for m in matched if m.marker_id is not None]
            used = {t[0] for t in sent_tokens if any(m.start <= t[0] < m.end for m in matched)}
            for tok_start, _, _ in sent_tokens:
                for _, e, marker_id in sorted(near_by_start.get(tok_start, [])):  # best score, then shortest
                    if e <= end and tok_start not in used:
                        mentions.append(Mention(marker_id, tok_start, e, True))
                        used.update(t[0] for t in sent_tokens if tok_start <= t[0] < e)
                        break
            if not mentions:
                continue
            cues = _cues(text, start, end, matched + mentions)
            if cues:
                out.append(_Sentence(source_id, path, start, end, sorted(mentions, key=lambda m: m.start), cues))
    return out


def candidates(source: str | None = None, *, con: duckdb.DuckDBPyConnection | None = None,
               db: str | os.PathLike | None = None) -> dict:
    """Uncovered marker sentences of every document (or one source's), and coverage per source."""
    con = con if con is not None else connect(db)
    documents = store.document_texts(con)
    known = sorted({d[1] for d in documents})
    if source is not None and source not in known:
        raise NotFound(f"no source {source!r}; sources: {', '.join(known)}")
    documents = [d for d in documents if source is None or d[1] == source]
    matcher = AliasMatcher(con)
    paths = {d[0]: d[2] for d in documents}
    texts = {d[2]: d[3] for d in documents}
    covered_by: dict[str, list[tuple[int, int]]] = {}
    for _, doc_id, start, end, _ in store.links(con):
        if doc_id in paths:
            covered_by.setdefault(paths[doc_id], []).append((start, end))
    references: dict[str, list[tuple[int, int]]] = {}  # reference-list entries parsed into cited works
    for _, doc_id, start, end, _ in store.cited_work_links(con):
        if doc_id in paths:
            references.setdefault(paths[doc_id], []).append((start, end))
    dismissed_by: dict[str, list[tuple[int, int]]] = {}
    for d in store.dismissals(con, source):
        if d["document_id"] in paths:
            dismissed_by.setdefault(paths[d["document_id"]], []).append((d["start"], d["end"]))
    stats = {s: {"source": s, "sentences": 0, "covered": 0, "dismissed": 0, "open": 0, "coverage": None}
             for s in known if source is None or s == source}
    found = []
    for sent in _marker_sentences(documents, matcher):
        if any(s < sent.end and sent.start < e for s, e in references.get(sent.document, ())):
            continue  # a reference-list entry (one the sentence splitter did not recognise) is a cited work
        row = stats[sent.source]
        row["sentences"] += 1
        if any(s < sent.end and sent.start < e for s, e in covered_by.get(sent.document, ())):
            row["covered"] += 1
            continue
        if any(s < sent.end and sent.start < e for s, e in dismissed_by.get(sent.document, ())):
            row["dismissed"] += 1
            continue
        row["open"] += 1
        text = texts[sent.document]
        ids = list(dict.fromkeys(m.marker_id for m in sent.mentions))
        found.append({
            "source": sent.source, "document": sent.document, "start": sent.start, "end": sent.end,
            "markers": [matcher.names[i] for i in ids], "marker_ids": ids,
            "matched": list(dict.fromkeys(text[m.start:m.end] + (" (near)" if m.fuzzy else "") for m in sent.mentions)),
            "cues": sent.cues, "sentence": text[sent.start:sent.end],
        })
    for row in stats.values():
        if row["sentences"]:
            row["coverage"] = round((row["covered"] + row["dismissed"]) / row["sentences"], 4)
    return {"kb_version": store.kb_version(con), "coverage": list(stats.values()), "candidates": found}
