"""`kb diff OLD.duckdb NEW.duckdb`: items added, removed and changed, field by field, between two builds."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from cli.common import echo, fail, handled
from cli.render import default_format, dumps, table

FORMATS = ("table", "json", "md")


def diff(old: Path = typer.Argument(..., help="The older knowledge base (a .duckdb file from `kb build`)."),
         new: Path = typer.Argument(..., help="The newer knowledge base."),
         fmt: Optional[str] = typer.Option(None, "--format", "-f", help="table (default on a terminal), json (default when piped) or md."),
         ):
    """What changed between two builds: items added and removed, and each changed item field by field."""
    handled(_run)(old, new, fmt)


def _run(old: Path, new: Path, fmt: Optional[str]) -> None:
    from kb.curate.diff import diff as run

    fmt = fmt or default_format()
    if fmt not in FORMATS:
        fail(f"--format: kb diff writes one of {', '.join(FORMATS)}, got {fmt!r}")
    result = run(old, new)
    if fmt == "json":
        typer.echo(dumps(result))
    else:
        echo(render_md(result) if fmt == "md" else render_table(result))


def _value(value, limit: int | None = None) -> str:
    text = value if isinstance(value, str) else "" if value is None else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if limit is None or len(text) <= limit else text[:limit - 1] + "…"


def _head(r: dict) -> str:
    c = r["counts"]
    o, n = r["old"], r["new"]
    return (f"{o['db']} (content {o['kb_version']['content']}, {o['items']} items) -> "
            f"{n['db']} (content {n['kb_version']['content']}, {n['items']} items): "
            f"{c['added']} added, {c['removed']} removed, {c['changed']} changed, {c['unchanged']} unchanged")


def render_table(r: dict) -> str:
    lines = [_head(r)]
    if r["counts"]["fields"]:
        lines.append("fields changed: " + ", ".join(f"{k} {v}" for k, v in r["counts"]["fields"].items()))
    for title, rows in (("added", r["added"]), ("removed", r["removed"])):
        if rows:
            lines += ["", f"{title}:", table(["id", "marker", "context", "level", "statement"],
                                             [[x["id"], x["marker"], x["context"], x["level"], _value(x["statement"], 70)]
                                              for x in rows], "table")]
    if r["changed"]:
        rows = [[c["id"] if i == 0 else "", ch["field"], _value(ch["old"], 50), _value(ch["new"], 50)]
                for c in r["changed"] for i, ch in enumerate(c["changes"])]
        lines += ["", "changed:", table(["id", "field", "old", "new"], rows, "table")]
    return "\n".join(lines)


def _md(value) -> str:
    return _value(value).replace("|", "\\|")


def render_md(r: dict) -> str:
    out = ["# Changes between two builds", "", _head(r), ""]
    if r["counts"]["fields"]:
        out += ["| field | items changed |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in r["counts"]["fields"].items()] + [""]
    for title, rows in (("Added", r["added"]), ("Removed", r["removed"])):
        if rows:
            out += [f"## {title} ({len(rows)})", "", "| id | marker | context | level | statement |", "|---|---|---|---|---|"]
            out += [f"| `{x['id']}` | {_md(x['marker'])} | {_md(x['context'])} | {_md(x['level'])} | {_md(x['statement'])} |"
                    for x in rows]
            out.append("")
    if r["changed"]:
        out += [f"## Changed ({len(r['changed'])})", ""]
        for c in r["changed"]:
            out += [f"### `{c['id']}`", "", "| field | old | new |", "|---|---|---|"]
            out += [f"| {ch['field']} | {_md(ch['old'])} | {_md(ch['new'])} |" for ch in c["changes"]]
            out.append("")
    return "\n".join(out)
