"""Issue 12, item 2: inputs whose shape is the attack (alias bombs, cycles, nesting, complex keys, long or
escape-laden values, formula cells, U+2028 in JSONL)."""
from __future__ import annotations

import csv
import io
import json
import time
import tracemalloc

import pandas as pd
import pytest

from cli.main import app
from kb.core.escape import clip, csv_cell, printable
from kb.core.safeparse import ParseProblem, json_loads, yaml_load

BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(9))
HOSTILE = {
    "alias bomb": (BOMB, "alias"),
    "self-reference": ("x: &a [*a]\n", "recursive"),
    "deep flow nesting": ("[" * 100000, "invalid YAML"),
    "deep block nesting": ("".join("  " * i + "- \n" for i in range(300)) + "  " * 300 + "- 1\n", "nested deeper"),
    "complex key": ("? [a, b]\n: 1\n", "complex mapping key"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_loader_refuses_hostile_shapes_fast(case):
    text, words = HOSTILE[case]
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ParseProblem) as err:
        yaml_load(text)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert words in err.value.problem
    assert seconds < 5 and peak < 50 * 2**20  # generous: the point is "not 80 s and 11 GB"


def test_shared_aliases_within_bounds_still_load():
    assert yaml_load("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}


def test_dates_stay_text_for_the_schema():
    assert yaml_load("d: 2026-02-30\n") == {"d": "2026-02-30"}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_patient_record_hostile_yaml(runner, built_db, tmp_path, case):
    path = tmp_path / "p.yaml"
    path.write_text(HOSTILE[case][0])
    result = runner.invoke(app, ["evaluate", str(path), "--db", str(built_db)])
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and len(result.stderr) < 300, result.stderr


@pytest.mark.parametrize("target", ["curation/test.yaml", "vocabulary.yaml", "markers/core.yaml", "sources.yaml"])
def test_seed_files_hostile_yaml(runner, seeds_copy, tmp_path, target):
    (seeds_copy / target).write_text(BOMB)
    result = runner.invoke(app, ["build", "--seeds", str(seeds_copy), "--db", str(tmp_path / "kb.duckdb")])
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert "\n" not in line and "alias" in line and target.split("/")[-1] in line


def test_json_loads_refuses_non_finite_and_deep():
    for text in ("NaN", "[Infinity]", '{"a": -Infinity}', "1e400", "[" * 100000 + "]" * 100000, "1" * 5000):
        with pytest.raises(ParseProblem):
            json_loads(text)
    assert json_loads('{"a": 1.5}') == {"a": 1.5}


def test_jsonl_splits_on_newline_only(runner, built_db, tmp_path):
    record = {"id": "J\u2028K", "disease": "DLBCL", "therapy": "axi-cel", "timepoint": "at conditioning",
              "observations": [{"marker": "LDH", "value": 410, "unit": "U/L", "upper_limit_normal": 250}]}
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n" + json.dumps({**record, "id": "L"}) + "\n")
    result = runner.invoke(app, ["evaluate", str(path), "--db", str(built_db), "-f", "json"])
    assert result.exit_code == 0, result.output
    ids = [json.loads(line)["patient"]["id"] for line in result.stdout.split("\n") if line.strip()]
    assert ids == ["J\u2028K", "L"]


def test_echoed_values_are_cut(runner, built_db, tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"id": "X", "disease": "D" * 100000, "therapy": "axi-cel", "timepoint": "x",
                                "observations": [{"marker": "M" * 100000, "value": 1}]}))
    result = runner.invoke(app, ["evaluate", str(path), "--db", str(built_db)])
    assert result.exit_code == 2 and len(result.stderr) < 400, result.stderr[:500]


def test_escape_sequences_never_reach_the_terminal(runner, built_db, tmp_path):
    osc = "\x1b]8;;http://evil\x07click\x1b]8;;\x07\x9b2J"
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"id": "X", "disease": "DLBCL", "therapy": "axi-cel", "timepoint": "at conditioning",
                                "observations": [{"marker": osc, "value": 1}]}))
    result = runner.invoke(app, ["evaluate", str(path), "--db", str(built_db)])
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr and "\x9b" not in result.stderr
    assert "\\x1b" in result.stderr
    assert printable("a\x1b[31mb\u202ec\n", keep="\n") == "a\\x1b[31mb\\u202ec\n"
    assert len(clip("x" * 10**6)) <= 80


def test_show_escapes_data_on_a_terminal(built_db, tmp_path, monkeypatch):
    from kb.core.text import show_text
    from kb.query.api import show

    item = show(json.loads(json.dumps(_any_evidence_id(built_db))), 50, db=built_db)["evidence"]
    item["statement"] = "\x1b]0;owned\x07"
    item["links"][0]["quote"] += "\x1b[2J"
    text = show_text(item, color=True)
    assert "\x07" not in text and "\x1b]" not in text and "\x1b[2J" not in text
    assert "\x1b[1;33m" in text  # our own highlight survives


def _any_evidence_id(db):
    from kb.query.database import connect

    con = connect(db)
    try:
        return con.execute("SELECT id FROM evidence ORDER BY id LIMIT 1").fetchone()[0]
    finally:
        con.close()


def test_csv_cells_neutralised():
    assert csv_cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert [csv_cell(v) for v in ("+1", "-x", "@SUM", "\tx", "ok", 3, -2.5)] == ["'+1", "'-x", "'@SUM", "'\tx", "ok", 3, -2.5]


def test_query_csv_and_export_neutralise_formulas(runner, built_db, seeds_copy, tmp_path):
    from test_bad_input import GOOD  # tests/ is on sys.path (rootdir conftest, no package)

    text = GOOD.replace("statement: test", "statement: '=HYPERLINK(\"http://evil\")'").replace("outcome: complete response", "outcome: '@SUM(A1)'")
    (seeds_copy / "curation" / "test.yaml").write_text(text)
    db = tmp_path / "kb.duckdb"
    assert runner.invoke(app, ["build", "--seeds", str(seeds_copy), "--db", str(db)]).exit_code == 0
    export = runner.invoke(app, ["export", "--format", "csv", "--db", str(db)])
    assert export.exit_code == 0, export.output
    cells = [c for row in csv.reader(io.StringIO(export.stdout)) for c in row]
    assert "'=HYPERLINK(\"http://evil\")" in cells and not any(c.startswith(("=", "@")) for c in cells)
    out = runner.invoke(app, ["export", "--format", "civic-tsv", "--db", str(db)])
    assert out.exit_code == 0 and not any(c.startswith(("=", "@")) for row in csv.reader(io.StringIO(out.stdout), delimiter="\t") for c in row)


def test_score_csv_neutralises_sample_ids(runner, built_db, con, tmp_path):
    from kb.pam.model import load_published

    model = load_published(con)
    frame = pd.DataFrame([model.shrunken_centroids[0]] * 2, columns=list(model.genes))
    frame.insert(0, "sample", ["=cmd|' /C calc'!A0", "ok"])
    frame.to_csv(tmp_path / "c.csv", index=False)
    result = runner.invoke(app, ["score", str(tmp_path / "c.csv"), "--out", str(tmp_path / "s.csv"), "--db", str(built_db)])
    assert result.exit_code == 0, result.output
    ids = pd.read_csv(tmp_path / "s.csv")["sample_id"].tolist()
    assert ids == ["'=cmd|' /C calc'!A0", "ok"]


@pytest.mark.parametrize("case", ["long header", "cut gzip", "fake gzip"])
def test_cohort_files_broken_in_transit(runner, built_db, con, tmp_path, case):
    import gzip

    from kb.pam.model import load_published

    model = load_published(con)
    frame = pd.DataFrame([model.shrunken_centroids[0]] * 50, columns=list(model.genes))
    frame.insert(0, "sample", [f"S{i}" for i in range(50)])
    if case == "long header":
        path = tmp_path / "c.csv"
        frame.rename(columns={"sample": "s" * 200_000}).to_csv(path, index=False)
    elif case == "cut gzip":
        path = tmp_path / "c.csv.gz"
        data = gzip.compress(frame.to_csv(index=False).encode())
        path.write_bytes(data[: len(data) // 2])
    else:
        path = tmp_path / "c.csv.gz"
        frame.to_csv(path.with_suffix(".plain"), index=False)
        path.write_bytes(path.with_suffix(".plain").read_bytes())
    result = runner.invoke(app, ["score", str(path), "--out", str(tmp_path / "s.csv"), "--db", str(built_db)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path.name) in lines[0] and len(lines[0]) < 400, result.stderr[:500]
