"""Human-readable text for rules, effects and an evidence item with its quotes in context."""
from __future__ import annotations


def _n(value) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def rule_text(rule: dict | None) -> str:
    if not rule:
        return ""
    if rule["operator"] == "category":
        return f"= {rule['category']}"
    unit = rule.get("unit") or ""
    unit = " × ULN" if unit == "ULN" else f" {unit}" if unit else ""
    if rule["operator"] == "between":
        return f"{_n(rule['value'])}–{_n(rule['value_high'])}{unit}"
    return f"{rule['operator']} {_n(rule['value'])}{unit}"


def effect_text(effect: dict | None) -> str:
    if not effect:
        return ""
    if effect.get("text"):
        return effect["text"]
    parts = [effect["measure"]]
    if effect.get("value") is not None:
        parts.append(_n(effect["value"]))
    if effect.get("ci"):
        parts.append(f"({_n(effect['ci'][0])}–{_n(effect['ci'][1])})")
    if effect.get("p_text"):
        parts.append(effect["p_text"])
    return " ".join(parts)


def show_text(item: dict, markdown: bool = False, color: bool = False) -> str:
    """The item's fields, then each quote between its context, the quote marked (»…« or **…**, bold on a terminal)."""
    on, off = ("\033[1;33m", "\033[0m") if color else ("**", "**") if markdown else ("»", "«")
    fields = [
        ("marker", item["marker"]), ("type", item["evidence_type"]), ("direction", item["direction"]),
        ("population", f"{item['disease']}, {item['therapy']} ({item['therapy_class']}), {item['timepoint']}"),
        ("specimen", item["specimen"]), ("outcome", item["outcome"]), ("rule", rule_text(item["rule"])),
        ("effect", effect_text(item["effect"])), ("n", item["n_patients"]), ("level", item["level"]),
        ("cited reference", item["cited_reference"]), ("status", item["status"]), ("statement", item["statement"]),
        ("source", f"{item['source']['id']} {item['source'].get('doi') or ''}".strip()),
    ]
    head = f"# {item['id']}" if markdown else item["id"]
    lines = [head, ""]
    for key, value in fields:
        if value not in (None, ""):
            lines.append(f"- **{key}**: {value}" if markdown else f"  {key:<16}{value}")
    for link in item["links"]:
        lines += ["", f"{'## ' if markdown else ''}{link['document']} [{link['start']}, {link['end']}) sha256 {link['sha256'][:12]}…"]
        lines.append(("> " if markdown else "  ") + " ".join(f"…{link['before']}{on}{link['quote']}{off}{link['after']}…".split()))
    return "\n".join(lines)
