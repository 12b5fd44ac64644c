"""A rendition's numbered reference list -> cited works: each entry's fields as printed, and its span(s).

Where the list is comes from the manifest (`references: {start, end, style, complete}`): the quote that
begins it (a heading or the first entry) and, optionally, the one that ends it. Inside it:

- An entry starts at a line "N. ..." (its number as printed) or a markdown bullet "- Surname ..." (a list
  whose numbers the rendition lost). A bullet that does not begin with a capital ("- leukemic b cells",
  "- (+) central memory") continues the previous entry after an interruption (xu2023's entry 20 is split
  by the Funding section, entry 66 by a page break): the entry then has two spans.
- Text wrapped onto the following lines belongs to the entry until a blank line; headings and the
  paragraphs under them (Funding, Conflict of interest) are not entries.
- Text before the first entry is the tail of an entry whose beginning is not in the text (a truncated
  extraction): it becomes a `partial` entry without authors.
- Unnumbered entries take their numbers from the next printed number (20 bullets before "21." are 1-20);
  the numbers must then run 1, 2, 3 ... without a gap, or the list is refused.

Fields are never guessed: each one is a piece of the entry's text (markup removed, whitespace folded), and
a field the entry does not print stays None. `check_fields` verifies that at build time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_ENTRY = re.compile(r"^[ \t]*(?:(?P<number>\d{1,4})\.[ \t]+|[-*][ \t]+)(?P<rest>\S.*)$")
_HEADING = re.compile(r"^[ \t]*#")
_MARKUP = re.compile(r"</?(?:sup|sub|i|b|em|strong)>|\\(?=[_*\\])", re.IGNORECASE)
_DOI = re.compile(r"\bdoi:\s*(10\.\d{4,9}/\S+?)\.?(?=\s|$)", re.IGNORECASE)
_PMID = re.compile(r"\bPMID:?\s*(\d{5,9})\b")


@dataclass
class Entry:
    number: int | None  # as printed; None until numbered by position
    printed: bool
    pieces: list[tuple[int, int]]  # (start, end) spans of the original text
    partial: bool = False

    def raw(self, text: str) -> str:
        return " ".join(text[s:e] for s, e in self.pieces)


@dataclass
class Parsed:
    authors: str | None = None
    short_authors: str | None = None
    title: str | None = None
    journal: str | None = None
    year: int | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    doi: str | None = None
    pmid: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


class ReferenceListError(ValueError):
    """The list cannot be read as a numbered reference list; the message says where and why."""


# ---- finding the entries ---------------------------------------------------------------------------

def entries(text: str, start: int, end: int) -> list[Entry]:
    """The entries of text[start:end], numbered (see the module docstring)."""
    found: list[Entry] = []
    in_entry = False
    pos = start
    seen_content = False
    for line in text[start:end].splitlines(keepends=True):
        body = line.rstrip("\r\n")
        line_start, line_end = pos, pos + len(body)
        pos += len(line)
        stripped = body.strip()
        if not stripped:
            in_entry = False
            continue
        lead = line_start + (len(body) - len(body.lstrip()))
        m = _ENTRY.match(body)
        if m and (m.group("number") is not None or m.group("rest")[:1].isupper()):
            number = int(m.group("number")) if m.group("number") else None
            found.append(Entry(number, number is not None, [(lead, line_end)]))
            in_entry = seen_content = True
        elif m and found:  # "- leukemic b cells ...": the previous entry, resumed after an interruption
            found[-1].pieces.append((line_start + m.start("rest"), line_end))
            in_entry = seen_content = True
        elif _HEADING.match(body):
            in_entry = False
            seen_content = seen_content or bool(found)
        elif in_entry:
            s, _ = found[-1].pieces[-1]
            found[-1].pieces[-1] = (s, line_end)
        elif not seen_content:  # text before any entry: the tail of an entry cut off by the extraction
            found.append(Entry(None, False, [(lead, line_end)], partial=True))
            in_entry = seen_content = True
    _number(found)
    return found


def _number(found: list[Entry]) -> None:
    pending: list[Entry] = []
    last = 0
    for entry in found:
        if not entry.printed:
            pending.append(entry)
            continue
        first = entry.number - len(pending)
        if first < 1:
            raise ReferenceListError(f"entry {entry.number} follows {len(pending)} unnumbered entries; their numbers would be below 1")
        for i, p in enumerate(pending):
            p.number = first + i
        pending = []
        last = entry.number
    for i, p in enumerate(pending):
        p.number = last + 1 + i
    numbers = [e.number for e in found]
    for a, b in zip(numbers, numbers[1:]):
        if b != a + 1:
            raise ReferenceListError(f"the entries are not numbered in sequence: {a} is followed by {b}")


# ---- reading one entry --------------------------------------------------------------------------------

def clean(raw: str, pdf_text: bool) -> str:
    """An entry's text as a reader sees it: markup removed, whitespace folded; in PDF text a word split at a
    line end ("lym-\\nphoblastic") is joined, the one repair of the extraction this makes."""
    if pdf_text:
        raw = re.sub(r"(?<=[a-z])-\n(?=[a-z])", "", raw)
    raw = _MARKUP.sub("", raw)
    return " ".join(raw.split())


def _plain(md: str) -> str:
    return " ".join(md.replace("**", "").replace("*", "").split())


def parse(entry_text: str, style: str, partial: bool) -> Parsed:
    """Fields of one entry (markdown emphasis still in `entry_text`: it marks journals and volumes)."""
    text = re.sub(r"^\s*(?:\d{1,4}\.|[-*])\s+", "", entry_text).strip()
    out = Parsed()
    if m := _DOI.search(text):
        out.doi = m.group(1)
        text_wo_doi = text[:m.start()].rstrip()
    else:
        text_wo_doi = text
    if m := _PMID.search(text):
        out.pmid = m.group(1)
    body = text_wo_doi.rstrip(" .")
    if style == "nature":
        _nature(body, out)
    else:
        _vancouver(body, out, partial)
    if partial:
        out.authors = out.short_authors = None
    for name in ("authors", "title", "journal", "volume", "issue", "pages", "doi", "pmid"):
        value = getattr(out, name)
        if value is not None:
            # separators around a field go; the dots of "et al." and "N. Engl. J. Med." are the field's own
            value = _plain(value).strip(" ,:;" if name in ("authors", "journal") else " .,:;")
            setattr(out, name, value or None)
            if value:
                out.fields[name] = value
    if out.year is not None:
        out.fields["year"] = str(out.year)
    return out


def _nature(body: str, out: Parsed) -> None:
    """'Raje, N. *et al.* Title. *N. Engl. J. Med.* **380**, 1726–1737 (2019)' and its variants."""
    italics = [m for m in re.finditer(r"(?<!\*)\*([^*]+)\*(?!\*)", body) if m.group(1).strip(" .") != "et al"]
    if not italics:
        return
    journal = italics[-1]
    out.journal = journal.group(1)
    head, tail = body[:journal.start()], body[journal.end():]
    if m := re.search(r"\((\d{4})\)\s*$", tail):
        out.year = int(m.group(1))
        tail = tail[:m.start()]
        if b := re.match(r"\s*\*\*([^*]+)\*\*\s*[,:]?\s*(.*)$", tail):
            out.volume, out.pages = b.group(1), b.group(2) or None
    elif b := re.match(r"\s*\*\*(\d{4})\*\*\s*,\s*(?:([^:,]+):)?\s*(.*)$", tail):  # '**2012**, 16:284–287'
        out.year = int(b.group(1))
        if b.group(2):
            out.volume, out.pages = b.group(2), b.group(3) or None
        else:
            out.volume = b.group(3) or None
    authors_end = _nature_authors_end(head)
    if authors_end is not None:
        out.authors = head[:authors_end]
        out.title = head[authors_end:].strip(" :.")
        out.short_authors = _short(_nature_surnames(out.authors), "et al" in out.authors)


def _nature_authors_end(head: str) -> int | None:
    if m := re.search(r"\*et al\.\*", head):
        return m.end()
    amp = head.rfind(" & ")
    tail_from = amp + 3 if amp >= 0 else 0
    m = re.compile(r"\s*[^,&]+?,\s*(?:[A-Z][a-z]?\.(?:-[A-Z]\.)?\s?)+(?:Jr\.)?").match(head, tail_from)
    return m.end() if m else None


def _nature_surnames(authors: str) -> list[str]:
    authors = _plain(authors).replace(" & ", ", ")
    return [s.strip() for s in re.findall(r"([^,]+?),\s*(?:[A-Z][a-z]?\.(?:-[A-Z]\.)?\s?)+(?:Jr\.)?", authors)]


def _vancouver(body: str, out: Parsed, partial: bool) -> None:
    """'Kochenderfer JN, ..., et al. Title. *Blood* (2010) 116(20):4099–102' (markdown), or
    'Aldoss I, ..., et al. Title. Am J Hematol. 2017; 92(9):858-865' (PDF text)."""
    authors_end = _vancouver_authors_end(body)
    if authors_end is None:
        return
    out.authors = body[:authors_end]
    rest = body[authors_end:].strip()
    surnames = [" ".join(a.split()[:-1]) for a in re.split(r",\s*", out.authors.rstrip(" .")) if a.strip() and a.strip() != "et al"]
    out.short_authors = _short([s for s in surnames if s], "et al" in out.authors)
    if m := re.search(r"(?<!\*)\*([^*]+)\*\s*\((\d{4})\)\s*(.*)$", rest):  # markdown: the journal is italic
        out.journal, out.year = m.group(1), int(m.group(2))
        out.title = rest[:m.start()]
        _volume_issue_pages(m.group(3), out)
    elif m := re.search(r"\.\s+([^.]+?)\.\s+(\d{4});\s*(.*)$", rest):  # PDF text: 'Title. Journal. Year;...'
        out.title, out.journal, out.year = rest[:m.start()], m.group(1), int(m.group(2))
        _volume_issue_pages(m.group(3), out)


def _vancouver_authors_end(body: str) -> int | None:
    for m in re.finditer(r"\.\s", body):
        word = body[:m.start()].split()[-1] if body[:m.start()].split() else ""
        if word == "al" or re.fullmatch(r"[A-Z]{1,4}", word):
            return m.start() + 1
    return None


def _volume_issue_pages(text: str, out: Parsed) -> None:
    m = re.match(r"\s*([^(:;\s]+)?\s*(?:\(([^)]*)\))?\s*(?::\s*(.+))?$", text.strip().rstrip("."))
    if m:
        out.volume, out.issue, out.pages = m.group(1), m.group(2), m.group(3)


def _short(surnames: list[str], et_al: bool) -> str | None:
    if not surnames:
        return None
    if et_al or len(surnames) > 2:
        return f"{surnames[0]} et al."
    return " and ".join(surnames)


def check_fields(parsed: Parsed, entry_clean: str) -> str | None:
    """The name of a field that is not a piece of its entry's text (a parser bug), or None."""
    plain = _plain(entry_clean)
    for name, value in parsed.fields.items():
        if value not in plain:
            return name
    return None
