"""Text that leaves the program: safe for a terminal, bounded in an error line, inert in a spreadsheet.

Three functions, used by every renderer and error line:
- `printable` escapes control characters (C0, DEL, C1) and the bidirectional/invisible format
  characters, so data or input can neither move a terminal's cursor nor open an OSC sequence (an ESC
  becomes the four characters `\\x1b`); newlines and tabs survive only where the caller allows them;
- `clip` renders a value echoed in a message (repr) and cuts it at about 80 characters;
- `csv_cell` neutralises a text cell that a spreadsheet would read as a formula (`= + - @`, tab, CR).
"""
from __future__ import annotations

import re
from typing import Any

ECHO_LIMIT = 80

# C0 controls, DEL and C1 controls (0x9b is CSI on its own), then Unicode format characters that reorder or
# hide text (bidi overrides and isolates, zero-width joiners are left alone as they occur in names).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _escaped(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, keep: str = "") -> str:
    """`text` with every control character escaped, except those in `keep` (e.g. "\\n\\t" for a page)."""
    if not isinstance(text, str):
        text = str(text)
    return _CONTROL.sub(lambda m: m.group() if m.group() in keep else _escaped(m.group()), text)


def clip(value: Any, limit: int = ECHO_LIMIT) -> str:
    """A value as echoed in a message: repr for text, escaped, cut to `limit` characters with an ellipsis."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        return f"<an integer of {len(str(abs(value)))} digits>"
    if isinstance(value, str):
        text = repr(value if len(value) <= 4 * limit else value[: 4 * limit])
    else:
        try:
            text = repr(value)
        except Exception:  # noqa: BLE001  (repr of an arbitrary object: never let the message fail)
            text = f"<{type(value).__name__}>"
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_QUOTED = re.compile(r"'[^'\n]{%d,}'|\"[^\"\n]{%d,}\"" % (ECHO_LIMIT, ECHO_LIMIT))
_LONG_RUN = re.compile(r"\S{%d,}" % (3 * ECHO_LIMIT))


def bounded_line(message: str) -> str:
    """An error line as printed: escaped, one line, every quoted value longer than ECHO_LIMIT and every
    run without spaces longer than three times that cut (the last resort behind `clip` at the source)."""
    text = printable(" ".join(str(message).split()))
    text = _QUOTED.sub(lambda m: m.group()[: ECHO_LIMIT - 2] + "…" + m.group()[-1], text)
    return _LONG_RUN.sub(lambda m: m.group()[: 3 * ECHO_LIMIT - 1] + "…", text)


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def json_text(text: str) -> str:
    """JSON text (from json.dumps, which escapes C0 controls) with DEL, C1 and bidi controls and U+2028/9
    escaped as \\uXXXX too: still the same JSON value, but inert on a terminal and in JavaScript."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet would evaluate (`=HYPERLINK(...)`, `+cmd`, `@SUM`) prefixed with `'`;
    numbers and other text are returned unchanged (a negative number is a number, not a formula)."""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value

