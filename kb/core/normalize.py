"""Spelling normalisation shared by marker and vocabulary resolution (no heavy imports: query path)."""
from __future__ import annotations

import re
import unicodedata

_GREEK = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "κ": "kappa", "λ": "lambda", "µ": "u", "μ": "u"}
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_DIGITS = re.compile(r"\d+")


def norm_words(text: str) -> str:
    """Case and Greek-letter spelling folded, word boundaries kept: 'IFN-γ level' -> 'ifn-gamma level'."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(_GREEK.get(ch, ch) for ch in text)


def norm(text: str) -> str:
    """Case, spacing, punctuation and Greek-letter spelling folded away: 'IFN-γ' -> 'ifngamma'."""
    return _NON_ALNUM.sub("", norm_words(text))


def digit_groups(text: str) -> tuple[str, ...]:
    """The numbers in a spelling; fuzzy matches must agree on them so 'interleukin-6' never becomes IL-2."""
    return tuple(str(int(g)) for g in _DIGITS.findall(unicodedata.normalize("NFKC", text)))
