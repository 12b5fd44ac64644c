"""What one evidence item says for one observed value: unfavorable | favorable | neutral | indeterminate.

A numeric rule compares the value converted to the rule's unit (or divided by the record's upper limit
of normal for a ULN-relative rule); a categorical rule compares normalised category strings. Meeting
the rule gives the item's direction, not meeting it the opposite; an item without a direction (the text
gives none) is indeterminate; an item whose direction is `none` or
`mixed` is neutral whatever the value; an item without a machine-readable rule is indeterminate.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Union

from kb.core import units
from kb.core.text import amount, effect_text, fmt, rule_text

OPPOSITE = {"unfavorable": "favorable", "favorable": "unfavorable"}
VERDICTS = ("unfavorable", "favorable", "neutral", "indeterminate")

# ---- categories -------------------------------------------------------------------------------

_POSITIVE = {"yes", "positive", "pos", "present", "detected", "true"}
_NEGATIVE = {"no", "none", "negative", "neg", "absent", "notdetected", "undetected", "false", "wildtype", "wt",
             "normal", "unaltered", "unmutated", "nonmutated", "nonrearranged", "germline", "intact", "notaltered"}
# a rule category -> patient spellings that meet it
_FAMILIES = {
    "altered": {"altered", "alteration", "alterations", "mutated", "mutation", "mutations", "mutant", "mut", "deleted",
                "deletion", "del", "del17p", "17pdeletion", "amplified", "amplification", "disrupted", "aberrant",
                "abnormal", "lossoffunction", "biallelic"},
    "mutated": {"mutated", "mutation", "mutations", "mutant", "mut"},
    "rearranged": {"rearranged", "rearrangement", "translocated", "translocation", "fusion"},
    "deleted": {"deleted", "deletion", "del"},
}
_STATES = set().union(*_FAMILIES.values())
# spellings of one category
_SYNONYMS = {
    "human": "humanderived", "humanized": "humanderived", "fullyhuman": "humanderived", "mouse": "murine",
    "paediatric": "pediatric", "child": "pediatric", "children": "pediatric", "completeresponse": "cr",
    "partialresponse": "pr", "stabledisease": "sd", "progressivedisease": "pd", "progression": "pd",
    "cd28z": "cd28", "41bbz": "41bb", "cd137": "41bb",
    "stage1": "stagei", "stage2": "stageii", "stage3": "stageiii", "stage4": "stageiv",
}
# mutually exclusive values of one categorical marker: a patient with another value does not meet the rule
_EXCLUSIVE = [{"41bb", "cd28"}, {"murine", "humanderived"}, {"adult", "pediatric"}, {"cr", "pr", "sd", "pd"},
              {"stagei", "stageii", "stageiii", "stageiv"}]


def norm_category(text: str) -> str:
    """Case, spacing and punctuation folded, synonyms mapped: 'Wild-type' -> 'wildtype', 'Stage 4' -> 'stageiv'."""
    key = re.sub(r"[^0-9a-z]+", "", str(text).casefold())
    return _SYNONYMS.get(key, key)


def _alternatives(rule_category: str) -> list[str]:
    return [norm_category(a) for a in re.split(r"\s+or\s+|/|,", rule_category) if a.strip()]


def category_met(value: str, rule_category: str) -> tuple[Optional[bool], str]:
    """(True | False | None, how): does a patient category meet a rule category?"""
    patient, alts = norm_category(value), _alternatives(rule_category)
    if patient in alts or any(patient in _FAMILIES.get(a, ()) for a in alts):
        return True, f"{value!r} is {rule_category!r}"
    group = next((g for g in _EXCLUSIVE if set(alts) <= g), None)
    if group is not None:
        if patient in group:
            return False, f"{value!r} is not {rule_category!r}"
        return None, f"{value!r} is not one of the values this rule distinguishes ({rule_category!r} vs the others)"
    negated = {f"{p}{a}" for a in alts for p in ("not", "non", "no", "un")}
    if patient in _NEGATIVE or patient in negated:
        return False, f"{value!r} is the negation of {rule_category!r}"
    if patient in _POSITIVE:
        return True, f"{value!r} means {rule_category!r} is present"
    if patient in _STATES:
        return None, f"{value!r} is neither {rule_category!r} nor its negation"
    return None, f"{value!r} cannot be compared with {rule_category!r}"


# ---- numbers ----------------------------------------------------------------------------------

def _r(value: float) -> float:
    """Round away binary noise from conversions (0.25 × 100 = 25.000000000000004) before comparing."""
    return float(f"{value:.12g}")


_INF = float("inf")


def _rule_interval(rule: dict) -> tuple[float, bool, float, bool]:
    """(low, low open?, high, high open?) of the values that meet a numeric rule."""
    op, v = rule["operator"], rule["value"]
    return {">": (v, True, _INF, True), ">=": (v, False, _INF, True), "<": (-_INF, True, v, True),
            "<=": (-_INF, True, v, False), "=": (v, False, v, False),
            "between": (v, False, rule.get("value_high"), False)}[op]


def bound_met(bound: float, comparator: str, rule: dict) -> Optional[bool]:
    """Does every value the bound allows meet the rule (True), none (False), or some but not all (None)?"""
    x = _r(bound)
    lo, lo_open, hi, hi_open = (-_INF, True, x, comparator == "<") if comparator in ("<", "<=") else (x, comparator == ">", _INF, True)
    r_lo, r_lo_open, r_hi, r_hi_open = _rule_interval(rule)
    low_inside = lo > r_lo or (lo == r_lo and (lo_open or not r_lo_open))
    high_inside = hi < r_hi or (hi == r_hi and (hi_open or not r_hi_open))
    if low_inside and high_inside:
        return True
    disjoint = hi < r_lo or lo > r_hi or (hi == r_lo and (hi_open or r_lo_open)) or (lo == r_hi and (lo_open or r_hi_open))
    return False if disjoint else None


def compare(value: float, rule: dict) -> bool:
    x, lo = _r(value), rule["value"]
    op = rule["operator"]
    if op == ">":
        return x > lo
    if op == ">=":
        return x >= lo
    if op == "<":
        return x < lo
    if op == "<=":
        return x <= lo
    if op == "=":
        return x == lo
    if op == "between":
        return lo <= x <= rule["value_high"]
    raise ValueError(f"unknown rule operator {op!r}")


# ---- one judgement ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Observed:
    marker: str  # display name
    value: Union[float, str]
    unit: Optional[str]  # as given
    ucum: Optional[str]  # UCUM code of the unit
    uln: Optional[float]  # upper limit of normal, in the value's unit
    comparator: Optional[str] = None  # the value is a bound: '<', '<=', '>', '>='

    def text(self) -> str:
        if isinstance(self.value, str):
            return f"{self.marker} {self.value}"
        return f"{self.marker} {self.comparator or ''}{amount(self.value, ' × ULN' if self.ucum == units.ULN else self.unit)}"


@dataclass(frozen=True)
class Judgement:
    verdict: str
    met: Optional[bool]
    reason: str
    converted_value: Union[float, str, None]
    converted_unit: Optional[str]
    explanation: str


def _numeric(obs: Observed, rule: dict, default_unit: Optional[str]):
    """(converted value, converted unit, comparison text) or (None, None, why not).

    `default_unit` is the marker's dictionary unit: a marker measured in a unit needs a rule with a unit.
    """
    if isinstance(obs.value, str):
        return None, None, f"the rule is numeric ({rule_text(rule, 'prose')}) and the observation is the category {obs.value!r}"
    if rule["reference"] == units.ULN:
        if obs.ucum == units.ULN:
            return obs.value, units.ULN, obs.text()
        if obs.uln is None:
            return None, None, f"the rule is relative to the upper limit of normal ({rule_text(rule, 'prose')}) and the record gives no upper_limit_normal"
        ratio = obs.value / obs.uln
        return ratio, units.ULN, f"{obs.text()} = {fmt(ratio)} × ULN"
    target = rule.get("unit")
    if obs.ucum == units.ULN:
        return None, None, f"the value is relative to the ULN and the rule is absolute ({rule_text(rule, 'prose')})"
    if target is None:
        if default_unit is not None or obs.ucum not in (None, "1"):
            # a threshold without a unit for a measured quantity: guessing the unit could flip the verdict
            return None, None, (f"the rule states no unit ({rule_text(rule, 'prose')}), so a value in "
                                f"{obs.unit or default_unit} cannot be compared with it")
        return obs.value, None, obs.text()
    if obs.ucum is None:
        return None, None, f"the value has no unit and the rule is in {target}"
    try:
        converted = units.convert(obs.value, obs.ucum, target)
        target = units.canonical(target)
    except units.UnitError as exc:
        return None, None, f"the value cannot be compared with the rule: {exc}"
    if target == obs.ucum:
        return converted, target, obs.text()
    return converted, target, f"{obs.text()} = {amount(converted, target)}"


def judge(item: dict, obs: Observed, default_unit: Optional[str] = None) -> Judgement:
    """The verdict of one evidence item for one observation, with a one-sentence explanation."""
    rule, direction = item.get("rule"), item["direction"]
    converted, conv_unit, met, how = None, None, None, ""
    if rule is None:
        how = "no threshold stated"
    elif rule["operator"] == "category":
        if isinstance(obs.value, str):
            met, how = category_met(obs.value, rule["category"])
            converted = obs.value
        else:
            how = f"the rule is the category {rule['category']!r} and the observation is a number"
    else:
        converted, conv_unit, how = _numeric(obs, rule, default_unit)
        if converted is not None and obs.comparator:
            met = bound_met(converted, obs.comparator, rule)
            if met is None:
                how = (f"the value is reported only as {obs.comparator}{fmt(converted)}"
                       f"{' ' + conv_unit if conv_unit else ''}, which does not decide the rule ({rule_text(rule, 'prose')})")
        elif converted is not None:
            met = compare(converted, rule)

    if direction == "none":
        verdict, reason = "neutral", "the evidence reports no association with the outcome"
    elif direction == "mixed":
        verdict, reason = "neutral", "the evidence's direction is mixed"
    elif direction is None:  # a threshold without a stated direction says nothing about the outcome
        verdict, reason = "indeterminate", "the text gives no direction"
    elif met is None:
        verdict, reason = "indeterminate", how
    else:
        verdict = direction if met else OPPOSITE[direction]
        reason = f"meets the rule ({rule_text(rule, 'prose')}): {direction}" if met else \
            f"does not meet the rule ({rule_text(rule, 'prose')}), which is {direction}"
    return Judgement(verdict, met, reason, converted, conv_unit, _explain(item, obs, rule, met, how, verdict, reason))


def _explain(item: dict, obs: Observed, rule: Optional[dict], met: Optional[bool], how: str, verdict: str, reason: str) -> str:
    outcome = item.get("outcome") or "the outcome"
    effect = effect_text(item.get("effect"))
    if len(effect) > 110:
        effect = effect[:109].rstrip() + "…"
    tail = f" ({effect})" if effect else ""
    if met is None:
        why = reason if verdict == "neutral" else how
        return f"{obs.text()}: {verdict} for {outcome}: {why}{tail}."
    if rule["operator"] == "category":
        compared = f"{obs.text()} = {rule['category']}" if met else f"{obs.text()}, not {rule['category']}"
    else:
        compared = f"{how} {rule_text(rule, 'prose')}" if met else f"{how}, not {rule_text(rule, 'prose')}"
    if verdict == "neutral":
        return f"{compared}: neutral for {outcome}: {reason}{tail}."
    return f"{compared}: {verdict} for {outcome}{tail}."
