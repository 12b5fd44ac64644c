"""Rows as text: a table drawn to fit the terminal (rich), CSV, or a Markdown table. The CLI's data
commands and the patient reports (`kb.evaluate.report`) all render tables here."""
from __future__ import annotations

import csv
import io
import json
import re
from typing import Any, Iterable, Sequence

from kb.core.escape import csv_cell, printable


def terminal_width() -> int:
    """The terminal's width: COLUMNS if set, else the terminal's own, else 80 (a pipe, a file)."""
    import shutil

    return shutil.get_terminal_size((80, 24)).columns


def cell(value: Any, limit: int | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, (list, tuple)):
        text = ", ".join(cell(v, None) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = str(value)
    text = printable(" ".join(text.split()))  # data cannot steer the terminal
    if limit and len(text) > limit:
        cut = text[: limit - 1]
        text = (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2:] else cut) + "…"
    return text


def _numeric(values: list[str]) -> bool:
    present = [v for v in values if v]
    return bool(present) and all(re.fullmatch(r"[-+]?\d[\d,.]*%?", v) for v in present)


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str, *, width: int | None = None) -> str:
    """Rows as a table that fits the terminal (rich), CSV or a Markdown table; csv and md never shorten a
    value. JSON is rendered from the payload instead."""
    rows = list(rows)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        # a text cell a spreadsheet would run as a formula gets a leading ' (numbers stay numbers)
        writer.writerows([[csv_cell(cell(v, None)) if isinstance(v, str) else cell(v, None) for v in row] for row in rows])
        return buf.getvalue().rstrip("\n")
    if fmt == "md":
        head = "| " + " | ".join(printable(c) for c in columns) + " |\n|" + "|".join("---" for _ in columns) + "|"
        body = ["| " + " | ".join(cell(v).replace("|", "\\|") for v in row) + " |" for row in rows]
        return "\n".join([head, *body])
    lines = lambda v: "\n".join(cell(part) for part in v.split("\n")) if isinstance(v, str) else cell(v)  # noqa: E731
    return _drawn(columns, [[lines(v) for v in row] for row in rows], width or terminal_width())


_CHUNK = re.compile(r"[^\s-]*-+|[^\s-]+")  # what a line may not break inside: a word, or a word up to its hyphen


def _widths(cells: list[list[str]], columns: Sequence[str], room: int) -> list[int]:
    """Column widths that fit `room`: every column its natural width if they all fit; otherwise each at
    least its longest unbreakable piece (a word, or up to a hyphen), and the rest of the room shared out in
    proportion to what each column still wants. Only when even the pieces do not fit are the widest cut."""
    cols = [[name, *(row[i] for row in cells)] for i, name in enumerate(columns)]
    natural = [max(len(line) for v in col for line in v.split("\n")) for col in cols]
    least = [max([len(w) for v in col for w in _CHUNK.findall(v)] or [1]) for col in cols]
    if sum(natural) <= room:
        return natural
    if sum(least) > room:  # even the pieces do not fit: narrow the widest columns first, folding their pieces
        while sum(least) > room and max(least) > 4:
            least[max(range(len(least)), key=least.__getitem__)] -= 1
        return least
    spare = room - sum(least)
    want = [n - m for n, m in zip(natural, least)]
    total = sum(want) or 1
    widths = [m + (spare * w) // total for m, w in zip(least, want)]
    for i in sorted(range(len(widths)), key=lambda i: want[i] - (widths[i] - least[i]), reverse=True):
        if sum(widths) >= room:
            break
        if widths[i] < natural[i]:
            widths[i] += 1
    return widths


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join("\n".join(textwrap.wrap(line, width, break_on_hyphens=True, break_long_words=True)) or line
                     if len(line) > width else line for line in text.split("\n"))


def _drawn(columns: Sequence[str], cells: list[list[str]], width: int) -> str:
    """A rich table, as plain text, that fits `width`: long cells wrap at spaces and after hyphens; only a
    piece wider than its whole column is cut. rich is imported here, not at start-up: `kb --help` and the
    JSON output never pay for it."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    gap = 2
    widths = _widths(cells, columns, max(len(columns) * 4, width - gap * (len(columns) - 1)))
    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, gap - 1, 0, 0), header_style="",
                 highlight=False)
    for i, name in enumerate(columns):
        grid.add_column(_wrap(name, widths[i]), width=widths[i], no_wrap=True, overflow="fold",
                        justify="right" if _numeric([r[i] for r in cells]) else "left")
    for row in cells:
        grid.add_row(*(Text(_wrap(v, w)) for v, w in zip(row, widths)))  # Text: brackets in data are not markup
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False, emoji=False,
                      markup=False, legacy_windows=False)
    console.print(grid)
    return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines())


_LATEX = {r"\geq": "≥", r"\leq": "≤", r"\ge": "≥", r"\le": "≤", r"\neq": "≠", r"\times": "×", r"\pm": "±",
          r"\alpha": "α", r"\beta": "β", r"\gamma": "γ", r"\delta": "δ", r"\zeta": "ζ", r"\kappa": "κ",
          r"\mu": "µ", r"\pi": "π", r"\sigma": "σ", r"\sum": "Σ", r"\log": "log", r"\sim": "~", r"\%": "%"}
_SUPERSCRIPT = str.maketrans("0123456789+-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻")


def cleaned(text: str) -> str:
    """A quote made easier to read (tables only; JSON keeps the verbatim text): a word hyphenated across a
    line break joined, LaTeX as Unicode, HTML and Markdown markup removed, whitespace collapsed."""
    text = re.sub(r"([a-z])-[ \t]*\n\s*([a-z])", r"\1\2", text)
    text = re.sub(r"<sup>([0-9+-]+)</sup>", lambda m: m.group(1).translate(_SUPERSCRIPT), text)
    text = re.sub(r"</?[a-zA-Z][^<>]*>", " ", text)

    def latex(m: re.Match) -> str:
        inner = re.sub(r"\\(?:text|mathrm|bar)\{([^{}]*)\}", r"\1", m.group(1))
        inner = re.sub(r"\\[a-zA-Z]+|\\%", lambda c: _LATEX.get(c.group(0), c.group(0).lstrip("\\")), inner)
        inner = re.sub(r"\^\{?([0-9+-]+)\}?", lambda s: s.group(1).translate(_SUPERSCRIPT), inner)
        return re.sub(r"_\{?([^{}\s]+?)\}?(?=\W|$)", r"\1", inner).replace("{", "").replace("}", "")
    text = re.sub(r"\$([^$]{1,200})\$", latex, text)
    text = re.sub(r"\*\*|__|\\(?=[\[\]()*_#.-])", "", text)
    return " ".join(text.split())
