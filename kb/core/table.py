"""Rows as text: an aligned table for a terminal, CSV, or a Markdown table. The CLI's data commands and
the patient reports (`kb.evaluate.report`) all render tables here."""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Iterable, Sequence

from kb.core.escape import csv_cell, printable

MAX_CELL = 70


def cell(value: Any, limit: int | None = MAX_CELL) -> str:
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
        text = text[: limit - 1] + "…"
    return text


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str) -> str:
    """Rows as an aligned text table, CSV or a Markdown table (JSON is rendered from the payload instead)."""
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
    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)])
