"""Marker resolution: exact, normalised, guarded fuzzy; ambiguity refused; nonsense resolves to nothing."""
from __future__ import annotations

import pytest

from kb.query.resolve import AmbiguousMarker, MarkerIndex, UnknownMarker

SPELLINGS = {
    "LDH": "ldh", "ldh": "ldh", "lactate dehydrogenase": "ldh", "Lactate Dehydrogenase": "ldh",
    "lactate dehydrogenas": "ldh", "serum LDH": "ldh", "lactic dehydrogenase": "ldh",
    "IL-6": "il-6", "IL6": "il-6", "il 6": "il-6", "interleukin-6": "il-6", "interleukin 6": "il-6", "Interleukin6": "il-6",
    "IL-10": "il-10", "interleukin-10": "il-10",
    "IFN-γ": "ifn-gamma", "IFN gamma": "ifn-gamma", "interferon gamma": "ifn-gamma", "interferon gama": "ifn-gamma", "IFNG": "ifn-gamma",
    "TNF-α": "tnf-alpha", "TNF alpha": "tnf-alpha", "tumor necrosis factor alpha": "tnf-alpha",
    "CRP": "crp", "C-reactive protein": "crp", "c reactive protein": "crp",
    "TMTV": "tmtv", "total metabolic tumor volume": "tmtv", "total metabolic tumour volume": "tmtv", "metabolic tumor volume": "tmtv",
    "TP53": "tp53", "p53": "tp53", "TP53 mutation": "tp53",
    "Cmax": "cart-cmax", "CAR-T Cmax": "cart-cmax", "maximum CAR-T concentration": "cart-cmax",
    "CAR-T expansion": "cart-expansion", "CAR T-cell expansion": "cart-expansion", "AUC of CAR-T cells": "cart-auc",
    "IFN-β": "ifn-beta", "IFN beta": "ifn-beta", "interferon beta": "ifn-beta",
    "MDSC": "mdsc", "myeloid-derived suppressor cells": "mdsc", "monocytic MDSC": "m-mdsc",
    "del(17p)": "del-17p", "17p deletion": "del-17p", "CD19 LOH": "cd19-loh", "CD19 CN-LOH": "cd19-cn-loh",
    "lymphocytes": "alc", "CRS": "crs-grade", "DS": "deauville", "DT": "product-doubling-time",
    "CD19 ex2part": "cd19-ex2part", "ex2part": "cd19-ex2part",
    "14-gene signature": "14-gene-signature", "14 gene signature": "14-gene-signature", "fourteen gene signature": "14-gene-signature",
    "ferritin": "ferritin", "absolute lymphocyte count": "alc", "platelet count": "platelets",
    # words that say how a marker was measured do not stop a match
    "ferritin level": "ferritin", "baseline LDH level": "ldh", "tumour volume": "tmtv",
}
NONSENSE = ["banana", "qwertyuiop", "interleukin 2", "xyz 123", "zzzz", "the", "kidney stone",
            # a long spelling shares a fragment with these, but not their words
            "zzzz not a marker", "interleukin six", "necrosis banana"]
# Spellings that name another entity than the marker beside them: they must never resolve to it (an
# error, or another marker, is right). LD is also lymphodepletion; IFN also IFN-beta; 17p deletion is a
# chromosome deletion, not the TP53 gene; MDSC are not only the monocytic subset; expansion is not the peak
# concentration; 'peak expansion' is a timepoint.
MUST_NOT = [
    ("LD", "ldh"), ("IFN", "ifn-gamma"), ("IFN-", "ifn-gamma"), ("interferon", "ifn-gamma"), ("IFN-beta", "ifn-gamma"),
    ("17p deletion", "tp53"), ("del(17p)", "tp53"), ("MDSC", "m-mdsc"), ("myeloid-derived suppressor cells", "m-mdsc"),
    ("CAR-T expansion", "cart-cmax"), ("peak expansion", "cart-cmax"), ("peak CAR-T expansion", "cart-cmax"),
    ("CD19 LOH", "cd19-cn-loh"), ("PAM signature", "14-gene-signature"), ("immune cell infiltration", "tumor-cart-infiltration"),
    # exact-only spellings are never fuzzy targets: a near miss of a common word or a short one finds nothing
    ("lymphocytez", "alc"), ("CRSS", "crs-grade"), ("DSS", "deauville"),
]


@pytest.fixture()
def index(con):
    return MarkerIndex(con)


def test_at_least_thirty_spellings(index):
    assert len(SPELLINGS) >= 30
    wrong = {text: index.resolve(text).id for text in SPELLINGS if index.resolve(text).id != SPELLINGS[text]}
    assert wrong == {}


@pytest.mark.parametrize("text,wrong", MUST_NOT)
def test_spellings_of_another_entity_never_resolve_to_it(index, text, wrong):
    try:
        got = index.resolve(text).id
    except (UnknownMarker, AmbiguousMarker):
        return
    assert got != wrong, f"{text!r} resolved to {wrong}"


def test_interferon_alone_is_ambiguous(index):
    """Both interferons are markers now: the bare word must not pick one."""
    with pytest.raises(AmbiguousMarker) as info:
        index.resolve("interferon")
    assert {name for name, _ in info.value.candidates} == {"IFN-γ", "IFN-β"}


def test_resolution_says_how(index):
    assert index.resolve("LDH").how == "exact"
    assert index.resolve("Interleukin6").how == "normalized"
    fuzzy = index.resolve("interferon gama")
    assert fuzzy.how == "fuzzy" and 80 <= fuzzy.score < 100


@pytest.mark.parametrize("text", NONSENSE)
def test_nonsense_resolves_to_nothing(index, text):
    with pytest.raises(UnknownMarker):
        index.resolve(text)


def test_digit_groups_guard(index):
    # 'interleukin-8' must be IL-8 and never IL-6 or IL-10, however close the letters are.
    assert index.resolve("interleukin-8").id == "il-8"
    assert index.resolve("interleukin 12").id == "il-12"
    with pytest.raises(UnknownMarker):
        index.resolve("interleukin-7")


def test_unknown_marker_names_the_nearest(index):
    with pytest.raises(UnknownMarker) as info:
        index.resolve("lactate dehydrogenaze isoenzyme 5")
    assert "LDH" in info.value.nearest


def test_near_tie_is_ambiguous_not_picked():
    import duckdb

    # Two markers whose spellings differ only by the last word: a query between them is a near tie.
    con = duckdb.connect()
    con.execute("CREATE TABLE marker (id VARCHAR, name VARCHAR)")
    con.execute("CREATE TABLE marker_alias (marker_id VARCHAR, alias VARCHAR, norm VARCHAR, exact_only BOOLEAN)")
    con.execute("INSERT INTO marker VALUES ('a', 'Alpha'), ('b', 'Beta')")
    con.execute("INSERT INTO marker_alias VALUES ('a', 'serum marker alpha', 'serummarkeralpha', false), "
                "('b', 'serum marker beta', 'serummarkerbeta', false)")
    with pytest.raises(AmbiguousMarker) as info:
        MarkerIndex(con).resolve("serum marker")
    assert {name for name, _ in info.value.candidates} == {"Alpha", "Beta"}


def test_empty_input_is_bad_input(index):
    from kb.core.errors import InputError

    with pytest.raises(InputError):
        index.resolve("  ")


def test_a_query_word_missing_from_the_spelling_blocks_the_match_but_not_the_suggestion(index):
    with pytest.raises(UnknownMarker) as info:
        index.resolve("interleukin six")
    assert "IL-6" in info.value.nearest


def test_a_long_ambiguity_names_a_few_and_counts_the_rest(index):
    with pytest.raises(AmbiguousMarker) as info:
        index.resolve("CAR-T")
    message = str(info.value)
    assert len(info.value.candidates) > 6
    assert message.count("), ") == 5  # six candidates listed, each with its score
    assert f"and {len(info.value.candidates) - 6} more (kb markers --search lists them all)" in message
