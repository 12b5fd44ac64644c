"""Conventions for expression values scored by PAM models (no heavy imports: shared by evaluate and score)."""
from __future__ import annotations

import math

from kb.core.errors import InputError

MIN_CALL_GENES = 10  # a profile with fewer of the model's genes gets no call (kb evaluate, kb score)
RAW_COUNT_LOG2 = 25  # a log2 expression value above this is a raw count, not log2
LOG2_FLOOR = -25  # below this (2^-25 of the unit) a log2 value is no measurement: the δs would be all distance


def log2_values(genes: dict[str, float], scale: str, where: str) -> dict[str, float]:
    """Gene (upper-cased) -> log2 value; scale "counts" means log2(x + 1); a log2 value above 25 is refused."""
    values = {}
    for symbol, value in genes.items():
        at = f"{where}: expression.genes.{symbol}"
        if scale == "counts":
            if value < 0:
                raise InputError(f"{at}: expected a count >= 0 (scale: counts), got {value:g}")
            value = math.log2(value + 1)
        elif value < LOG2_FLOOR:
            raise InputError(f"{at}: expected a log2 expression value >= {LOG2_FLOOR}; got {value:g}")
        elif value > RAW_COUNT_LOG2:
            raise InputError(f"{at}: {value:g} looks like a raw count, not a log2 value (log2 expression above "
                             f"{RAW_COUNT_LOG2} is implausible); expected log2 values, or \"scale\": \"counts\" "
                             "for raw counts (transformed as log2(x + 1))")
        values[symbol.upper()] = value
    return values
