"""`kb diff OLD NEW`: what changed between two builds, item by item and field by field.

Both databases are read through their read model (`marker_evidence`: every item rendered by the build that
made it), so a build of an older schema compares too: a field one side does not have shows as absent,
and counts as a change only when the other side gives it a value (an older build without `note` and a
newer one with `note: null` agree).
Nested fields are compared leaf by leaf (`rule.value`, `effect.p`); lists (`effect.groups`,
`cited_works`) as a whole; links as the set of spans `document [start, end)`, so a quote that moved in
its text, or a rendition added, is a change of `links`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from kb.core import store
from kb.core.errors import InputError, StoreError

ABSENT = "(absent)"  # a field the other build does not have (an older schema)
EMPTY = (None, [], {}, "")  # what a field absent from an older schema means
# summary fields shown for an added or removed item
SUMMARY = ("marker", "evidence_type", "direction", "context", "disease", "therapy", "level", "statement")


@dataclass(frozen=True)
class Change:
    field: str
    old: object
    new: object


def _open(path: str | os.PathLike, which: str):
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{which}: no database file {p}")
    con = store.open_readonly(p)
    try:
        version = store.kb_version(con)
        rows = con.execute("SELECT items FROM marker_evidence").fetchall()
    except StoreError:
        con.close()
        raise
    except Exception as exc:  # a DuckDB file that is not a knowledge base
        con.close()
        raise StoreError(f"{which}: {p} is not a biomarker-kb database ({str(exc).splitlines()[0]})") from None
    con.close()
    items = {}
    for (blob,) in rows:
        for item in json.loads(blob):
            items[item["id"]] = item
    return version, items


def comparable(item: dict) -> dict[str, object]:
    """An item's fields as compared: links as a sorted span list, the source by id, cited works by label."""
    out: dict[str, object] = {}
    for key, value in item.items():
        if key == "links":
            out["links"] = sorted(f"{link['document']} [{link['start']}, {link['end']})" for link in value)
        elif key == "source":
            out["source"] = value.get("id")
        elif key == "cited_works":
            out["cited_works"] = [w.get("citation") for w in value]
        else:
            out[key] = value
    return out


def compare(old: dict, new: dict) -> list[Change]:
    """Field by field; a rule or an effect present on both sides leaf by leaf (`rule.value`), else whole."""
    a, b = comparable(old), comparable(new)
    changes = []
    for key in sorted(set(a) | set(b), key=_field_order):
        va, vb = a.get(key, ABSENT), b.get(key, ABSENT)
        if va == vb or (va is ABSENT and vb in EMPTY) or (vb is ABSENT and va in EMPTY):
            continue
        if isinstance(va, dict) and isinstance(vb, dict):
            for sub in sorted(set(va) | set(vb)):
                if va.get(sub, ABSENT) != vb.get(sub, ABSENT):
                    changes.append(Change(f"{key}.{sub}", va.get(sub, ABSENT), vb.get(sub, ABSENT)))
        else:
            changes.append(Change(key, va, vb))
    return changes


_ORDER = ["marker", "marker_id", "evidence_type", "direction", "context", "disease", "therapy", "therapy_class",
          "timepoint", "specimen", "outcome", "rule", "effect", "n_patients", "level", "cited_reference", "cited_works",
          "statement", "note", "status", "curator", "curated_at", "source", "links"]


def _field_order(key: str) -> tuple[int, str]:
    head = key.split(".")[0]
    return (_ORDER.index(head) if head in _ORDER else len(_ORDER), key)


def diff(old: str | os.PathLike, new: str | os.PathLike) -> dict:
    """Items added, removed and changed (field by field) from the build at `old` to the build at `new`."""
    old_version, old_items = _open(old, "OLD")
    new_version, new_items = _open(new, "NEW")
    added = sorted(set(new_items) - set(old_items))
    removed = sorted(set(old_items) - set(new_items))
    changed, fields = [], {}
    for eid in sorted(set(old_items) & set(new_items)):
        changes = compare(old_items[eid], new_items[eid])
        if changes:
            changed.append({"id": eid, "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in changes]})
            for c in changes:
                head = c.field.split(".")[0]
                fields[head] = fields.get(head, 0) + 1
    return {
        "old": {"db": str(old), "kb_version": old_version, "items": len(old_items)},
        "new": {"db": str(new), "kb_version": new_version, "items": len(new_items)},
        "counts": {"added": len(added), "removed": len(removed), "changed": len(changed),
                   "unchanged": len(set(old_items) & set(new_items)) - len(changed),
                   "fields": dict(sorted(fields.items(), key=lambda kv: _field_order(kv[0])))},
        "added": [{"id": i, **{k: new_items[i].get(k) for k in SUMMARY}} for i in added],
        "removed": [{"id": i, **{k: old_items[i].get(k) for k in SUMMARY}} for i in removed],
        "changed": changed,
    }
