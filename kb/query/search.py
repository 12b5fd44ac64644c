"""Finding markers by a fragment of any of their spellings: `kb markers --search TEXT`, `GET /v1/markers?search=`.

Unlike resolution (`kb.query.resolve`), which must pick exactly one marker or refuse, a search lists every
marker a person may have meant, best first: spellings equal to the text (after normalisation), then
spellings that start with it, then spellings that contain it, then close fuzzy matches (rapidfuzz WRatio
over the same alias list resolution uses). 'interleukin' lists every interleukin; 'lactate dehydrogenase'
finds LDH; 'ferriten' finds ferritin.
"""
from __future__ import annotations

from kb.core.errors import InputError
from kb.core.normalize import norm
from kb.query.resolve import MIN_FUZZY_LEN, MarkerIndex

EQUAL, PREFIX, CONTAINS = 100.0, 95.0, 90.0
FUZZY_CUTOFF = 75.0  # below this WRatio a spelling is noise for a search (resolution uses 80)


def _score(key: str, processed: str, alias: str, akey: str, exact_only: bool = False) -> tuple[float, str] | None:
    from rapidfuzz import fuzz, utils

    if akey == key:
        return EQUAL, "equal"
    if akey.startswith(key):
        return PREFIX, "prefix"
    if len(key) >= 2 and key in akey:
        return CONTAINS, "contains"
    if exact_only or len(key) < MIN_FUZZY_LEN or len(akey) < MIN_FUZZY_LEN:
        return None  # edit distance on two or three letters matches everything; common words are no targets
    score = fuzz.WRatio(processed, utils.default_process(alias))
    return (round(score, 1), "fuzzy") if score >= FUZZY_CUTOFF else None


def search_markers(con, text: str) -> list[dict]:
    """[{marker_id, alias, score, how}] best first (score, then marker name), one entry per marker: the
    spelling of it that matched best. Empty when nothing is close."""
    from rapidfuzz import utils

    text = (text or "").strip()
    key = norm(text)
    if not key:
        raise InputError(f"search: expected letters or digits to search for, got {text!r}")
    index = MarkerIndex(con)
    processed = utils.default_process(text)
    best: dict[str, tuple[float, str, str]] = {}
    for mid, alias, akey, exact_only in index.aliases:
        hit = _score(key, processed, alias, akey, exact_only)
        if hit is not None and hit[0] > best.get(mid, (-1.0, "", ""))[0]:
            best[mid] = (hit[0], alias, hit[1])
    names = index.names
    ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], names[kv[0]].casefold(), kv[0]))
    return [{"marker_id": mid, "alias": alias, "score": score, "how": how} for mid, (score, alias, how) in ranked]
