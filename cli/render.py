"""One renderer for every data command: table, json, csv or md, chosen by the shared --format option."""
from __future__ import annotations

import json
import sys
from typing import Any

from kb.core.table import MAX_CELL, cell, table  # noqa: F401  (every command renders through these)

FORMATS = ("table", "json", "csv", "md")


def default_format() -> str:
    """A table on a terminal, JSON when piped: what a person reads vs what a script parses."""
    return "table" if sys.stdout.isatty() else "json"


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, indent=2, default=str)
