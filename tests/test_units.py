"""Unit spellings, UCUM codes and conversions (kb/core/units.py)."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.core import units
from kb.core.units import UnitError, canonical, convert, parse


@pytest.mark.parametrize("spelling, code", [
    ("U/L", "U/L"), ("IU/L", "U/L"), ("u/l", "U/L"),
    ("µkat/L", "ukat/L"), ("μkat/L", "ukat/L"), ("ukat/L", "ukat/L"), ("ukat/l", "ukat/L"),
    ("mg/L", "mg/L"), ("mg/dl", "mg/dL"), ("mg/dL", "mg/dL"),
    ("pg/mL", "pg/mL"), ("pg/ml", "pg/mL"), ("ng/L", "ng/L"), ("ng/l", "ng/L"),
    ("mL", "mL"), ("ml", "mL"), ("L", "L"), ("cm3", "cm3"), ("cm³", "cm3"), ("cc", "cm3"),
    ("10*9/L", "10*9/L"), ("x10^9/L", "10*9/L"), ("×10⁹/L", "10*9/L"), ("x 10^9 /L", "10*9/L"), ("10^9/l", "10*9/L"),
    ("10E9/L", "10*9/L"), ("10*3/uL", "10*3/uL"), ("x10^3/µL", "10*3/uL"), ("K/uL", "10*3/uL"),
    ("/uL", "/uL"), ("/µL", "/uL"), ("cells/uL", "/uL"), ("cells/µL", "/uL"), ("/mm3", "/uL"), ("cells/mm³", "/uL"),
    ("%", "%"), ("percent", "%"), ("fraction", "1"), ("1", "1"),
    ("a", "a"), ("years", "a"), ("d", "d"), ("days", "d"),
    ("ULN", "ULN"), ("x ULN", "ULN"), ("× ULN", "ULN"),
])
def test_spellings_normalise_to_ucum(spelling, code):
    assert canonical(spelling) == code


@pytest.mark.parametrize("value, src, dst, expected", [
    (1, "ukat/L", "U/L", 60),  # LDH: 1 µkat/L = 60 U/L
    (410, "U/L", "µkat/L", 410 / 60),
    (1, "mg/dL", "mg/L", 10),  # CRP
    (25, "mg/L", "mg/dL", 2.5),
    (12.5, "pg/mL", "ng/L", 12.5),  # IL-6 and other cytokines
    (0.0125, "ng/mL", "pg/mL", 12.5),
    (0.12, "L", "mL", 120),  # TMTV
    (120, "cm3", "mL", 120),
    (1, "10*9/L", "/uL", 1000),  # cell counts
    (1, "10*9/L", "10*3/uL", 1),
    (250, "x10^3/µL", "10*9/L", 250),
    (50, "cells/uL", "10*9/L", 0.05),
    (25, "%", "1", 0.25),  # percent and fraction
    (0.3, "fraction", "%", 30),
    (60, "a", "d", 60 * 365.25),
])
def test_conversions(value, src, dst, expected):
    assert convert(value, src, dst) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("src, dst", [("U/L", "mL"), ("mL", "%"), ("pg/mL", "/uL"), ("ULN", "U/L"), ("U/L", "ULN")])
def test_dimension_mismatch_is_an_error(src, dst):
    with pytest.raises(UnitError, match="cannot convert"):
        convert(1, src, dst)


@pytest.mark.parametrize("text", ["furlongs", "100/uL", "G/Lx", "", "   "])
def test_unknown_units_are_errors(text):
    with pytest.raises(UnitError):
        parse(text)


def test_unit_error_is_an_input_error():
    from kb.core.errors import InputError

    assert issubclass(UnitError, InputError)


def test_every_table_unit_belongs_to_a_known_dimension_with_a_base_unit():
    for code in units.known_units():
        unit = parse(code)
        assert unit.dimension in units.DIMENSIONS
        assert parse(units.DIMENSIONS[unit.dimension]).factor == 1.0


# ---- properties ---------------------------------------------------------------------------------

CODES = units.known_units()
PAIRS = [(a, b) for a in CODES for b in CODES if parse(a).dimension == parse(b).dimension]
values = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PAIRS), values)
def test_round_trip(pair, value):
    a, b = pair
    assert math.isclose(convert(convert(value, a, b), b, a), value, rel_tol=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PAIRS), st.sampled_from(CODES), values)
def test_conversion_is_transitive(pair, c, value):
    a, b = pair
    if parse(c).dimension != parse(a).dimension:
        c = a
    assert math.isclose(convert(convert(value, a, b), b, c), convert(value, a, c), rel_tol=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CODES), st.sampled_from(["", " ", "  "]), st.booleans(), st.booleans())
def test_spelling_variants_parse_to_the_same_unit(code, pad, upper, greek):
    spelling = code.upper() if upper and code != "ULN" else code
    if greek:
        spelling = spelling.replace("u", "µ", 1) if spelling.startswith("u") or "/u" in spelling else spelling
    assert canonical(pad + spelling + pad) == code
    assert canonical(canonical(spelling)) == canonical(spelling)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=15), st.sampled_from(["/L", "/mL", "/uL", "/µL", "/mm3"]),
       st.sampled_from(["10^{}", "x10^{}", "10*{}", "×10{}", "10e{}"]))
def test_power_of_ten_counts(exponent, per, template):
    unit = parse(template.format(exponent) + per)
    per_litre = {"/L": 1, "/mL": 1e3, "/uL": 1e6, "/µL": 1e6, "/mm3": 1e6}[per]
    assert unit.dimension == "number concentration"
    assert math.isclose(unit.factor, 10 ** exponent * per_litre, rel_tol=1e-12)
