"""The one renderer: tables that fit the terminal and wrap at word boundaries, csv and md that never
shorten, and the query command's table (outcome, statement, filters without a marker)."""
from __future__ import annotations

import csv
import io
import re

from hypothesis import given, settings, strategies as st

from cli.main import app
from cli.render import table

LONG = "In 42 adults with relapsed or refractory B-ALL a lower disease burden was associated with remission"


def _words(text: str) -> set[str]:
    return set(re.findall(r"[\w.=<>%-]+", text))


def test_table_fits_the_width_and_wraps_at_spaces():
    rows = [["blina-ball-2021-bm-blasts-response", "B", 42, LONG], ["xu2023-ldh", "A", None, "short"]]
    out = table(["id", "level", "n", "statement"], rows, "table", width=60)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 60
    assert len(lines) > 4  # the statement wrapped
    words = " ".join(lines)
    for word in LONG.split():  # wrapped at spaces: every word of the statement is printed whole
        assert re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", words), word
    assert "…" not in out


def test_md_and_csv_never_shorten():
    rows = [["x", LONG * 2]]
    assert LONG * 2 in table(["id", "statement"], rows, "md")
    parsed = list(csv.reader(io.StringIO(table(["id", "statement"], rows, "csv"))))
    assert parsed == [["id", "statement"], ["x", LONG * 2]]


def test_brackets_in_data_are_not_markup():
    out = table(["a"], [["[bold]x[/bold] and [red]"]], "table", width=40)
    assert "[bold]x[/bold] and [red]" in out


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.text(alphabet="ab -c1", max_size=40), min_size=3, max_size=3), min_size=1, max_size=5),
       st.integers(min_value=30, max_value=120))
def test_any_table_fits_any_reasonable_width(rows, width):
    out = table(["first", "second", "third"], rows, "table", width=width)
    assert max(len(line) for line in out.splitlines()) <= width


def test_columns_environment_variable_is_honoured(runner, built_db, monkeypatch):
    for columns in ("72", "140"):
        monkeypatch.setenv("COLUMNS", columns)
        out = runner.invoke(app, ["query", "--marker", "LDH", "--db", str(built_db), "--format", "table"]).stdout
        assert max(len(line) for line in out.splitlines()) <= int(columns)
    assert "outcome: statement" in out


def test_query_table_shows_outcome_and_statement(runner, built_db, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = runner.invoke(app, ["query", "--marker", "TMTV", "--db", str(built_db), "--format", "table"]).stdout
    assert "early resistance within one month: High total metabolic tumor volume (TMTV > 80 mL)" in out
    csv_out = runner.invoke(app, ["query", "--marker", "TMTV", "--db", str(built_db), "--format", "csv"]).stdout
    header = next(csv.reader(io.StringIO(csv_out)))
    assert header[-2:] == ["outcome", "statement"]


def test_query_without_marker_filters_alone(runner, built_db):
    result = runner.invoke(app, ["query", "--therapy", "blinatumomab", "--direction", "favorable",
                                 "--db", str(built_db), "--format", "json"])
    assert result.exit_code == 0
    import json

    items = json.loads(result.stdout)["evidence"]
    assert len({i["marker_id"] for i in items}) > 1
    assert all(i["therapy_class"] == "blinatumomab" and i["direction"] == "favorable" for i in items)
    bare = runner.invoke(app, ["query", "--db", str(built_db)])
    assert bare.exit_code == 2 and "expected --marker or at least one filter" in bare.output


def test_no_empty_table_before_no_evidence(runner, built_db):
    result = runner.invoke(app, ["query", "--marker", "LDH", "--therapy", "blinatumomab", "--db", str(built_db),
                                 "--format", "table"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "no evidence items for LDH" in result.output


def test_cleaned_quote_joins_hyphenation_and_renders_latex_and_markup():
    from kb.core.table import cleaned

    raw = "the discontin-\nuous CD19<sup>+</sup> <b>cells</b> with $|\\log_2(\\text{FC})| \\geq 1.5$ and **P** $< 0.05$"
    assert cleaned(raw) == "the discontinuous CD19⁺ cells with |log2(FC)| ≥ 1.5 and P < 0.05"
    assert cleaned("CD19-\ndirected") == "CD19- directed"  # a real hyphen before a line break stays


def test_evaluate_summary_and_not_observed(runner, built_db, monkeypatch):
    import json as _json
    from pathlib import Path

    monkeypatch.setenv("COLUMNS", "100")
    record = Path(__file__).resolve().parent.parent / "examples" / "P001.json"
    out = runner.invoke(app, ["evaluate", str(record), "--db", str(built_db), "--format", "table"]).stdout
    summary = _json.loads(runner.invoke(app, ["evaluate", str(record), "--db", str(built_db), "--format", "json"]).stdout)["summary"]
    cross = summary["verdict_by_applicability"]
    applying = {v: cross["direct"][v] + cross["extrapolated"][v] for v in summary["by_verdict"]}
    assert summary["by_applicability"]["not_applicable"] >= 1
    assert f"unfavorable {applying['unfavorable']}, favorable {applying['favorable']}," in out
    assert f"not applicable {summary['by_applicability']['not_applicable']} (not counted)" in out
    # not observed: grouped by kind, at most 4 names per kind and 4 kinds, the rest counted
    by_kind = summary["not_observed_by_kind"]
    assert sorted(n for names in by_kind.values() for n in names) == sorted(summary["not_observed"])
    block = out[out.index("Not observed"):out.index("For research use only")]
    assert f"{len(summary['not_observed'])} markers" in block
    first_kind, names = next(iter(by_kind.items()))
    assert f"{first_kind.replace('_', ' ')} ({len(names)}): " + ", ".join(names[:4]) in " ".join(block.split())
    if len(names) > 4:
        assert f"and {len(names) - 4} more" in block
    assert max(len(line) for line in out.splitlines() if not line.startswith("For research")) <= 100
