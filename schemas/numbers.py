"""Finite numbers: the one check every number entering the knowledge base passes, wherever it comes from
(patient records, gene expression, cohort cells, model files, curation files).

Python's `json` reads `NaN`, `Infinity` and `1e400` (as inf), YAML reads `.nan` and `.inf`, `float()` reads
the strings "nan" and "inf", and a 400-digit integer overflows `float()`. None of these is a measurement:
each is refused with a message saying what was expected. Magnitudes are bounded too (MAGNITUDE), so that
products of two values and of a value with a unit factor (at most 1e15) stay finite.
"""
from __future__ import annotations

import math
from typing import Annotated, Any, Union

from pydantic import AfterValidator, BeforeValidator, Field

MAGNITUDE = 1e100  # far beyond any measured quantity; (1e100)² and 1e100 × 1e15 are still finite
INT32_MAX = 2**31 - 1  # the database's INTEGER columns


def describe(value: Any, limit: int = 40) -> str:
    """A short rendering of a value for an error message (never the whole of a huge input)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**15:
        return f"an integer of {len(str(abs(value)))} digits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def finite(value: Any, lo: float = -MAGNITUDE, hi: float = MAGNITUDE) -> float:
    """`value` as a float when it is an int or float, finite and within [lo, hi]; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {describe(value)}")
    # int and float compare exactly in Python, so a huge integer is refused without converting it
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value}")
    if not lo <= value <= hi:
        raise ValueError(f"expected a finite number between {lo:g} and {hi:g}, got {describe(value)}")
    return float(value)


def number_in_text(text: str, lo: float = -MAGNITUDE, hi: float = MAGNITUDE) -> float | None:
    """The number a string spells ("12.5", "1e3"), or None when it spells none (a category such as
    "altered"); ValueError for "nan", "inf", "1e400" and other spellings of a non-finite number."""
    try:
        value = float(text)
    except (ValueError, OverflowError):
        return None
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {describe(text.strip())}")
    return finite(value, lo, hi)


def _coerce(value: Any) -> Any:
    if isinstance(value, str):
        number = number_in_text(value)
        if number is None:
            raise ValueError(f"expected a number, got {describe(value)}")
        return number
    return finite(value)


def _keep(value: Any) -> Any:
    finite(value)
    return value


def finite_float(**constraints: Any):
    """A float field type that refuses NaN, infinities, overflowing integers and magnitudes above MAGNITUDE;
    `constraints` (gt, ge, le, ...) are pydantic's, applied after the check and kept in the JSON Schema."""
    return Annotated[float, Field(**constraints), BeforeValidator(_coerce)]


FiniteFloat = finite_float()
# An int or float that keeps its type (a curated 275 stays an int), finite and bounded.
FiniteNumber = Annotated[Union[int, float], AfterValidator(_keep)]


class OutOfRange:
    """A JSON number with no finite float (`1e400`, `NaN`, `Infinity`), kept as written by a reader that names
    the place of every number itself (the FHIR and Phenopacket readers); never a value: `bad_number` refuses it."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text[:40]


def bad_number(data: Any, lo: float = -MAGNITUDE, hi: float = MAGNITUDE) -> tuple[str, str] | None:
    """(path, problem) of the first number in a JSON document that is not finite or not within [lo, hi],
    else None. The path is FHIRPath-like (`.entry[3].resource.valueQuantity.value`), relative to `data`."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            stack.extend((f"{path}.{str(k)[:40]}", v) for k, v in reversed(list(node.items())))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(node))))
        elif isinstance(node, OutOfRange):
            return path, f"expected a finite number, got {node.text[:40]}"
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            try:
                finite(node, lo, hi)
            except ValueError as exc:
                return path, str(exc)
    return None
