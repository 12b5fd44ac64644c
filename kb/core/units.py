"""Units: common spellings -> UCUM codes, and conversion between units of one dimension.

Table-driven: every unit has a dimension and a factor to that dimension's base unit, so a conversion
is value × factor(from) / factor(to), and a unit of another dimension is refused. Cell counts written
as a power of ten per volume (`x10^9/L`, `10*3/uL`, `×10⁹/L`) are parsed rather than listed.

`ULN` is not a physical unit: a value relative to the upper limit of normal. It has its own pseudo
dimension and converts to nothing else; `kb.evaluate.verdict` divides by the record's upper limit of normal.
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from kb.core.errors import InputError

ULN = "ULN"


class UnitError(InputError):
    """A unit that is unknown, or that does not fit the quantity it is used for."""


@dataclass(frozen=True)
class Unit:
    code: str  # UCUM
    dimension: str
    factor: float  # to the dimension's base unit

    def __str__(self) -> str:
        return self.code


# dimension -> base unit (factor 1)
DIMENSIONS = {
    "catalytic activity concentration": "U/L",
    "mass concentration": "g/L",
    "volume": "mL",
    "number concentration": "/L",
    "fraction": "1",
    "time": "d",
    "relative to ULN": ULN,
}

# UCUM code: (dimension, factor to base, other spellings). Spellings are matched after folding
# (NFKC, µ/μ -> u, × -> x, no spaces, case-insensitive).
_TABLE: dict[str, tuple[str, float, tuple[str, ...]]] = {
    "U/L": ("catalytic activity concentration", 1.0, ("IU/L", "units/L", "U/l", "IU/l")),
    "ukat/L": ("catalytic activity concentration", 60.0, ("µkat/L", "μkat/L", "microkat/L")),
    "nkat/L": ("catalytic activity concentration", 0.06, ()),
    "g/L": ("mass concentration", 1.0, ()),
    "g/dL": ("mass concentration", 10.0, ()),
    "mg/dL": ("mass concentration", 1e-2, ()),
    "mg/L": ("mass concentration", 1e-3, ()),
    "ug/mL": ("mass concentration", 1e-3, ()),
    "ug/L": ("mass concentration", 1e-6, ()),
    "ng/mL": ("mass concentration", 1e-6, ()),
    "ng/L": ("mass concentration", 1e-9, ()),
    "pg/mL": ("mass concentration", 1e-9, ()),
    "L": ("volume", 1000.0, ("l", "liter", "litre", "liters", "litres")),
    "dL": ("volume", 100.0, ()),
    "mL": ("volume", 1.0, ("ml", "milliliter", "millilitre", "milliliters", "millilitres")),
    "cm3": ("volume", 1.0, ("cm^3", "cm³", "cc", "ccm")),
    "uL": ("volume", 1e-3, ("mm3", "mm^3", "mm³")),
    "/L": ("number concentration", 1.0, ("cells/L",)),
    "/mL": ("number concentration", 1e3, ("cells/mL",)),
    "/uL": ("number concentration", 1e6, ("cells/uL", "/mm3", "cells/mm3", "/mm^3", "cells/mm^3", "/cumm")),
    "10*3/uL": ("number concentration", 1e9, ("K/uL", "k/µL", "thou/uL")),
    "10*9/L": ("number concentration", 1e9, ()),  # not "G/L": folded, it would read as g/L
    "%": ("fraction", 1e-2, ("percent", "pct", "per cent")),
    "1": ("fraction", 1.0, ("fraction", "ratio", "proportion")),
    "h": ("time", 1 / 24, ("hour", "hours", "hr", "hrs")),
    "d": ("time", 1.0, ("day", "days")),
    "wk": ("time", 7.0, ("week", "weeks")),
    "mo": ("time", 30.4375, ("month", "months")),
    "a": ("time", 365.25, ("y", "yr", "yrs", "year", "years")),
    ULN: ("relative to ULN", 1.0, ("xULN", "x ULN", "times ULN", "× ULN", "fold ULN")),
}

_PER_VOLUME = {"l": ("L", 1.0), "ml": ("mL", 1e3), "ul": ("uL", 1e6), "mm3": ("uL", 1e6)}
_POWER = re.compile(r"^(?:x|\*)?10(?:\^|\*\*|\*|e)?([1-9]\d?)(?:cells)?/(l|ml|ul|mm3)$")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("µ", "u").replace("μ", "u").replace("×", "x")
    return "".join(text.split()).casefold()


_BY_SPELLING: dict[str, str] = {}
for _code, (_dim, _factor, _spellings) in _TABLE.items():
    for _spelling in (_code, *_spellings):
        _BY_SPELLING.setdefault(_fold(_spelling), _code)


def parse(text: str) -> Unit:
    """The unit a spelling denotes: 'µkat/l' -> ukat/L, 'x10^9/L' -> 10*9/L, 'cells/µL' -> /uL."""
    if text is None or not str(text).strip():
        raise UnitError("expected a unit, got an empty string")
    key = _fold(str(text))
    code = _BY_SPELLING.get(key)
    if code is not None:
        dim, factor, _ = _TABLE[code]
        return Unit(code, dim, factor)
    m = _POWER.match(key)
    if m:
        exponent, (per, per_factor) = int(m.group(1)), _PER_VOLUME[m.group(2)]
        return Unit(f"10*{exponent}/{per}", "number concentration", 10.0 ** exponent * per_factor)
    raise UnitError(f"unknown unit {text!r}; expected one of {', '.join(known_units())}")


def canonical(text: str) -> str:
    """The UCUM code of a spelling."""
    return parse(text).code


def known_units(dimension: str | None = None) -> list[str]:
    """UCUM codes in the table (of one dimension), in table order."""
    return [code for code, (dim, _, _) in _TABLE.items() if dimension is None or dim == dimension]


def same_dimension(a: str, b: str) -> bool:
    return parse(a).dimension == parse(b).dimension


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """value in from_unit expressed in to_unit; UnitError when the dimensions differ."""
    src, dst = parse(from_unit), parse(to_unit)
    if src.dimension != dst.dimension:
        raise UnitError(f"cannot convert {src.code} ({src.dimension}) to {dst.code} ({dst.dimension})")
    if src.code == dst.code:
        return float(value)
    result = float(value) * src.factor / dst.factor
    if not math.isfinite(result):
        raise UnitError(f"{value:g} {src.code} is out of range in {dst.code}; expected a measurable value")
    return result
