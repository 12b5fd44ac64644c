"""One rule formatter, two styles: the compact table cell and the phrase inside an explanation."""
import pytest

from kb.core.text import rule_text

RULES = {
    "uln": {"operator": ">", "value": 1, "value_high": None, "unit": "ULN", "reference": "ULN", "category": None},
    "between": {"operator": "between", "value": 50, "value_high": 100, "unit": "%", "reference": "absolute", "category": None},
    "absolute": {"operator": ">=", "value": 22.06, "value_high": None, "unit": "/mL", "reference": "absolute", "category": None},
    "category": {"operator": "category", "value": None, "value_high": None, "unit": None, "reference": "category", "category": "altered"},
    "unitless": {"operator": ">=", "value": 11, "value_high": None, "unit": None, "reference": "absolute", "category": None},
}


@pytest.mark.parametrize("name, table, prose", [
    ("uln", "> 1 × ULN", "> 1 × ULN"),
    ("between", "50–100 %", "between 50 and 100%"),
    ("absolute", ">= 22.06 /mL", ">= 22.06 /mL"),
    ("category", "= altered", "altered"),
    ("unitless", ">= 11", ">= 11"),
])
def test_styles(name, table, prose):
    assert rule_text(RULES[name]) == table
    assert rule_text(RULES[name], "table") == table
    assert rule_text(RULES[name], "prose") == prose


def test_no_rule_and_unknown_style():
    assert rule_text(None) == "" and rule_text(None, "prose") == ""
    with pytest.raises(ValueError, match="style"):
        rule_text(RULES["uln"], "html")
