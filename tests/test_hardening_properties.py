"""Issue 12, item 7: generated inputs (bounded, derandomized). For patient records, cohort files, curation
files and model files the property is the same: a valid result, or the project's error (exit 2, one line);
never an uncaught exception, never NaN or Infinity in JSON."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import app
from kb.core.errors import InputError

SETTINGS = settings(max_examples=20, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
EXAMPLES = Path(__file__).parent.parent / "examples"

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-10**400, max_value=10**400),
    st.sampled_from([0, -0.0, 1e308, -1e308, 5e-324, 10**20, 410, 2.5, -1]),
)
texts = st.one_of(st.text(max_size=30), st.sampled_from(["NaN", "inf", "-Infinity", "1e400", "1e-400", "\x1b]0;x\x07",
                                                         "=1+1", "altered", "", " ", "U/L", "x10^9/L"]))
scalars = st.one_of(numbers, texts, st.booleans(), st.none())
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=8)


def _strict_json(text: str):
    def refuse(name):
        raise AssertionError(f"{name} in JSON output")
    return json.loads(text, parse_constant=refuse)


def _project_error(result) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kb: error: "), result.stderr[:500]
    assert "\x1b" not in lines[0]


def _write_json(path: Path, doc) -> Path:
    # Python's json writes NaN/Infinity and any integer: exactly the hostile inputs we want on disk
    try:
        path.write_text(json.dumps(doc))
    except ValueError:  # an integer too long for str(): write its digits ourselves
        path.write_text("1" * 5000)
    return path


def _mutate(doc: dict, where: list, value):
    node = doc
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    return doc


PATIENT_FIELDS = [["id"], ["disease"], ["therapy"], ["timepoint"], ["observations", 0, "value"],
                  ["observations", 0, "unit"], ["observations", 0, "upper_limit_normal"], ["observations", 1, "value"],
                  ["observations", 0, "marker"], ["observations"], ["model"], ["expression"]]


@SETTINGS
@given(where=st.sampled_from(PATIENT_FIELDS), value=values)
def test_patient_records(runner, built_db, tmp_path_factory, where, value):
    doc = _mutate(json.loads((EXAMPLES / "P001.json").read_text()), where, value)
    path = _write_json(tmp_path_factory.mktemp("p") / "p.json", doc)
    result = runner.invoke(app, ["evaluate", str(path), "--db", str(built_db), "-f", "json"])
    if result.exit_code == 0:
        _strict_json(result.stdout)
    else:
        _project_error(result)


@SETTINGS
@given(gene=st.sampled_from(["KCNK3", "IGF2BP1"]), value=values, scale=st.sampled_from(["log2", "counts", "x"]))
def test_patient_expression(runner, built_db, tmp_path_factory, gene, value, scale):
    import yaml

    doc = yaml.safe_load((EXAMPLES / "B001.yaml").read_text())
    doc["expression"]["genes"][gene] = value
    doc["expression"]["scale"] = scale
    path = _write_json(tmp_path_factory.mktemp("b") / "b.json", doc)
    result = runner.invoke(app, ["evaluate", str(path), "--db", str(built_db), "-f", "json"])
    if result.exit_code == 0:
        pam = _strict_json(result.stdout)["pam"]
        assert pam is None or all(math.isfinite(v) for v in (pam.get("posterior") or {}).values())
    else:
        _project_error(result)


cells = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-10**30, 10**30).map(str),
                  st.sampled_from(["", "NA", "nan", "inf", "-1e300", "1e400", "true", "=1", "x", "5.5", '"', "6,1"]))


@settings(max_examples=20, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_cohort_files(runner, built_db, con, tmp_path_factory, data):
    import csv

    import pandas as pd

    from kb.pam.model import load_published

    model = load_published(con)
    n = data.draw(st.integers(1, 4))
    rows = [[f"S{i}"] + [repr(float(x)) for x in model.shrunken_centroids[i % 2]] for i in range(n)]
    for _ in range(data.draw(st.integers(0, 3))):
        r, c = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, model.n_genes))
        rows[r][c] = data.draw(cells)
    tmp = tmp_path_factory.mktemp("c")
    with open(tmp / "c.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["sample", *model.genes], *rows])
    result = runner.invoke(app, ["score", str(tmp / "c.csv"), "--out", str(tmp / "s.csv"), "--db", str(built_db),
                                 "-f", "json"])
    if result.exit_code == 0:
        _strict_json(result.stdout)
        scores = pd.read_csv(tmp / "s.csv")
        called = scores[scores["call"].notna()]
        numeric = called.filter(regex="^(delta|posterior)_")
        assert numeric.map(lambda v: math.isfinite(float(v))).all().all()
    else:
        _project_error(result)
        assert not (tmp / "s.csv").exists()


@settings(max_examples=15, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(field=st.sampled_from(["rule: {operator: '>', value: V, unit: U/L}", "n_patients: V", "curated_at: V",
                              "effect: {measure: HR, value: V}", "effect: {measure: HR, p: V}", "level: V",
                              "rule: {operator: between, value: 1, value_high: V, unit: U/L}"]),
       value=st.one_of(st.sampled_from([".nan", ".inf", "-.inf", "1e400", "10000000000", "2026-02-30", "'2026-02-30'",
                                        "[1, 2]", "{a: 1}", "*x", "&a [*a]", "? [a]", "0", "-1", "B", "'", "\x1b"]),
                        st.integers(-10**40, 10**40).map(str), st.floats().map(repr)))
def test_curation_files(seeds_copy, field, value):
    from ingest.validate import validate_file
    from test_bad_input import GOOD  # tests/ is on sys.path (rootdir conftest, no package)

    path = seeds_copy / "curation" / "test.yaml"
    path.write_text(GOOD.replace("    level: C\n", "    level: C\n    " + field.replace("V", value) + "\n")
                    if not field.startswith("level") else GOOD.replace("level: C", field.replace("V", value)))
    try:
        validate_file(path, seeds_copy)
    except InputError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith(str(path)) or message.startswith("curation/"), message


@settings(max_examples=40, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(where=st.sampled_from([["priors", "CR"], ["sd", 0], ["shrunken_centroids", "NR", 3], ["n_per_class", "CR"],
                              ["threshold"], ["genes", 0], ["classes"], ["scale"], ["version"], ["training"]]),
       value=values)
def test_model_files(con, where, value):
    import numpy as np

    from kb.pam.model import load_published
    from kb.pam.model_file import model_from_json, model_to_json

    doc = json.loads(json.dumps(model_to_json(load_published(con))))
    if where[0] in doc and isinstance(doc[where[0]], dict) and len(where) > 1 and where[1] not in doc[where[0]]:
        where = [where[0], next(iter(doc[where[0]]))] + where[2:]
    try:
        _mutate(doc, where, value)
    except (IndexError, KeyError, TypeError):
        return
    try:
        model = model_from_json(doc, "m.json")
    except InputError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 400
        return
    x = model.shrunken_centroids.mean(axis=0)[None, :] + 30.0
    assert np.isfinite(model.decision_function(x)).all() and np.isfinite(model.predict_proba(x)).all()
