"""One renderer for every data command: table, json, csv or md, chosen by the shared --format option."""
from __future__ import annotations

import json
import sys
from typing import Any

FORMATS = ("table", "json", "csv", "md")


def table(columns: list[str], rows, fmt: str, *, width: int | None = None) -> str:
    """Every command's table, CSV or Markdown (kb.core.table.table), imported when one is drawn: JSON
    output, the default when piped, never loads the table code."""
    from kb.core.table import table as draw

    return draw(columns, rows, fmt, width=width)


def default_format() -> str:
    """A table on a terminal, JSON when piped: what a person reads vs what a script parses."""
    return "table" if sys.stdout.isatty() else "json"


def use_color() -> bool:
    """Colour on a terminal only, and never with NO_COLOR set (https://no-color.org)."""
    import os

    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def dumps(payload: Any, indent: int | None = 2) -> str:
    """The one JSON output step: NaN and Infinity are not JSON, so a payload holding one is refused here
    (inputs are validated upstream; this is the guarantee, not the check). C1/bidi controls and U+2028/9
    are escaped as \\uXXXX (kb.core.escape.json_text): the same JSON value, inert on a terminal."""
    from kb.core.errors import KBError
    from kb.core.escape import json_text

    try:
        return json_text(json.dumps(payload, ensure_ascii=False, indent=indent, default=str, allow_nan=False))
    except ValueError:
        pass
    raise KBError("the result holds a number that is not finite (NaN or infinity); refusing to print invalid JSON")


def dumps_line(payload: Any) -> str:
    """One JSONL line (the same guarantees as `dumps`)."""
    return dumps(payload, indent=None)
