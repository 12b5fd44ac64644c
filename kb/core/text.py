"""Human-readable text for numbers, rules (one formatter, two styles), effects and an evidence item with its
quotes in context. Tables, explanations and pages all format through here."""
from __future__ import annotations

from kb.core.escape import printable


def _n(value) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def fmt(value: float) -> str:
    """A number as a reader writes it: 410, 1.64, 0.3, 12.5 (four significant digits at most)."""
    value = float(f"{value:.4g}")
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}" if abs(value) < 1e-4 else f"{value:f}".rstrip("0").rstrip(".")


def amount(value: float, unit: str | None) -> str:
    """'410 U/L', '31%', '1.64 × ULN', '12' (no unit): a value in a sentence."""
    if not unit:
        return fmt(value)
    return f"{fmt(value)}{unit}" if unit == "%" or unit.startswith(" ") else f"{fmt(value)} {unit}"


RULE_STYLES = ("table", "prose")


def rule_text(rule: dict | None, style: str = "table") -> str:
    """A rule as text. ``table``: compact cells ('> 1 × ULN', '50–100 %', '= altered'), the numbers as
    stored; ``prose``: inside an explanation sentence ('> 1 × ULN', 'between 50 and 100%', 'altered')."""
    if style not in RULE_STYLES:
        raise ValueError(f"style: expected one of {', '.join(RULE_STYLES)}, got {style!r}")
    if not rule:
        return ""
    if rule["operator"] == "category":
        return rule["category"] if style == "prose" else f"= {rule['category']}"
    unit = rule.get("unit") or ""
    unit = " × ULN" if unit == "ULN" else unit
    if style == "prose":
        if rule["operator"] == "between":
            return f"between {fmt(rule['value'])} and {amount(rule['value_high'], unit)}"
        return f"{rule['operator']} {amount(rule['value'], unit)}"
    unit = unit if unit.startswith(" ") or not unit else f" {unit}"
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


def population_text(item: dict) -> str:
    """'LBCL, axi-cel (CD19 CAR-T), at conditioning'; a field the text does not state says so."""
    therapy = f"{item['therapy']} ({item['therapy_class']})" if item.get("therapy") else "no therapy stated"
    return f"{item.get('disease') or 'no disease stated'}, {therapy}, {item['timepoint']}"


def show_text(item: dict, markdown: bool = False, color: bool = False) -> str:
    """The item's fields, then each quote between its context, the quote marked (»…« or **…**, bold on a terminal)."""
    on, off = ("\033[1;33m", "\033[0m") if color else ("**", "**") if markdown else ("»", "«")
    source = item["source"]
    fields = [
        ("marker", item["marker"]), ("type", item["evidence_type"]),
        ("direction", item["direction"] or "not stated"), ("context", item["context"]),
        ("population", population_text(item)),
        ("specimen", item["specimen"]), ("outcome", item["outcome"]), ("rule", rule_text(item["rule"])),
        ("effect", effect_text(item["effect"])), ("n", item["n_patients"]), ("level", item["level"]),
        ("cited reference", item["cited_reference"]),
        *[("cited work", w["citation"]) for w in item.get("cited_works") or []],
        ("status", item["status"]), ("statement", item["statement"]), ("note", item.get("note")),
        ("source", " ".join(str(p) for p in (source["id"], source.get("doi"), source.get("license") and
                                              f"({source['license']})") if p)),
    ]
    head = f"# {printable(item['id'])}" if markdown else printable(item["id"])
    lines = [head, ""]
    for key, value in fields:
        if value not in (None, ""):
            value = printable(str(value))  # data cannot steer the terminal (OSC, cursor moves)
            lines.append(f"- **{key}**: {value}" if markdown else f"  {key:<16}{value}")
    for link in item["links"]:
        lines += ["", f"{'## ' if markdown else ''}{printable(link['document'])} [{link['start']}, {link['end']}) sha256 {link['sha256'][:12]}…"]
        before, quote, after = (printable(link[k], keep="\n\t") for k in ("before", "quote", "after"))
        text = " ".join(f"…{before}\0{quote}\1{after}…".split())
        lines.append(("> " if markdown else "  ") + text.replace("\0", on).replace("\1", off))
    return "\n".join(lines)
