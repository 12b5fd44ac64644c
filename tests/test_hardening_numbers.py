"""Issue 12, item 1: numbers are finite and in range wherever they enter; no JSON output holds NaN/Infinity."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from cli.main import app
from kb.pam.model import load_published

EXAMPLES = Path(__file__).parent.parent / "examples"
PAMR = Path(__file__).parent / "fixtures" / "pamr"


def _one_line_exit_2(result, *words):
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], lines[0]
    assert len(lines[0]) < 400
    return lines[0]


def _record(tmp_path, value, unit="U/L", marker="LDH", suffix=".json", raw=None):
    path = tmp_path / f"p{suffix}"
    if raw is None:
        obs = json.dumps({"marker": marker, "value": "__V__", "unit": unit}).replace('"__V__"', value)
        raw = ('{"id": "X", "disease": "DLBCL", "therapy": "axi-cel", "timepoint": "at conditioning", '
               f'"observations": [{obs}]}}')
    path.write_text(raw)
    return path


@pytest.mark.parametrize("value", ["1" * 400, '"NaN"', '"inf"', '"1e400"', "NaN", "Infinity", "-Infinity", "1e400",
                                   '"-1e999"'])
def test_patient_values_must_be_finite(runner, built_db, tmp_path, value):
    result = runner.invoke(app, ["evaluate", str(_record(tmp_path, value)), "--db", str(built_db), "-f", "json"])
    line = _one_line_exit_2(result)
    assert "finite" in line or "number" in line, line


def test_ecog_nan_gets_no_verdict(runner, built_db, tmp_path):
    result = runner.invoke(app, ["evaluate", str(_record(tmp_path, '"NaN"', unit=None, marker="ECOG")),
                                 "--db", str(built_db), "-f", "json"])
    _one_line_exit_2(result, "observations[0].value")


def test_tmtv_overflowing_on_conversion(runner, built_db, tmp_path):
    result = runner.invoke(app, ["evaluate", str(_record(tmp_path, "1e308", unit="L", marker="TMTV")),
                                 "--db", str(built_db), "-f", "json"])
    _one_line_exit_2(result, "observations[0].value")


def test_units_convert_refuses_an_infinite_result():
    from kb.core.units import UnitError, convert

    with pytest.raises(UnitError):
        convert(1e308, "L", "uL")


@pytest.mark.parametrize("value", [-1e200, -26.0])
def test_expression_bounded_below_as_well_as_above(runner, built_db, tmp_path, value):
    import yaml

    record = yaml.safe_load((EXAMPLES / "B001.yaml").read_text())
    record["expression"]["genes"]["KCNK3"] = value
    path = tmp_path / "b.json"
    path.write_text(json.dumps(record))
    result = runner.invoke(app, ["evaluate", str(path), "--db", str(built_db), "-f", "json"])
    _one_line_exit_2(result, "KCNK3")


@pytest.fixture()
def cohort(con):
    model = load_published(con)
    frame = pd.DataFrame([model.shrunken_centroids[0]] * 3, columns=list(model.genes))
    frame.insert(0, "sample", ["A", "B", "C"])
    return frame


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_cohort_cell_far_below_zero(runner, built_db, cohort, tmp_path, ext):
    cohort.loc[1, "KCNK3"] = -1e300
    path = tmp_path / f"c.{ext}"
    cohort.to_csv(path, index=False) if ext == "csv" else cohort.to_parquet(path, index=False)
    result = runner.invoke(app, ["score", str(path), "--out", str(tmp_path / "s.csv"), "--db", str(built_db)])
    _one_line_exit_2(result, "KCNK3")
    assert not (tmp_path / "s.csv").exists()


def test_boolean_parquet_column_is_not_expression(runner, built_db, cohort, tmp_path):
    cohort["KCNK3"] = [True, False, True]
    path = tmp_path / "c.parquet"
    cohort.to_parquet(path, index=False)
    result = runner.invoke(app, ["score", str(path), "--out", str(tmp_path / "s.csv"), "--db", str(built_db)])
    _one_line_exit_2(result, "KCNK3", "BOOLEAN")


def _model_doc(con):
    from kb.pam.model_file import model_to_json

    doc = model_to_json(load_published(con))
    doc["format"], doc["version"] = "biomarker-kb/pam-model", 1
    return doc


@pytest.mark.parametrize("field,value", [("priors", 1e-320), ("sd", 1e-300), ("centroid", 1e200),
                                         ("centroid", 10**400)])
def test_model_file_numbers_bounded(con, tmp_path, field, value):
    from kb.core.errors import InputError
    from kb.pam.model_file import load_model_file

    doc = _model_doc(con)
    classes = doc["classes"]
    if field == "priors":
        doc["priors"] = {classes[0]: value, classes[1]: 1 - value}
    elif field == "sd":
        doc["sd"][0] = value
    else:
        doc["shrunken_centroids"][classes[0]][0] = value
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as err:
        load_model_file(path)
    assert "\n" not in str(err.value) and len(str(err.value)) < 300


@pytest.mark.parametrize("edit,field", [
    ("rule: {operator: '>', value: .nan, unit: U/L}", "rule.value"),
    ("rule: {operator: '>', value: .inf, unit: U/L}", "rule.value"),
    ("rule: {operator: '>', value: 1e400, unit: U/L}", "rule.value"),
    ("n_patients: 10000000000", "n_patients"),
    ("curated_at: 2026-02-30", "curated_at"),
])
def test_curation_numbers_and_dates(runner, seeds_copy, tmp_path, edit, field):
    from test_bad_input import GOOD  # tests/ is on sys.path (rootdir conftest, no package)

    (seeds_copy / "curation" / "test.yaml").write_text(GOOD.replace("    level: C\n", f"    level: C\n    {edit}\n"))
    path = seeds_copy / "curation" / "test.yaml"
    validate = runner.invoke(app, ["curate", "validate", str(path), "--seeds", str(seeds_copy)])
    lines = validate.stderr.strip().splitlines()  # one line per problem, then the count
    assert validate.exit_code == 2 and len(lines) == 2 and lines[1] == f"kb: 1 problem in {path}", validate.stderr
    assert field in lines[0] and len(lines[0]) < 400 and "Traceback" not in validate.output
    build = runner.invoke(app, ["build", "--seeds", str(seeds_copy), "--db", str(tmp_path / "kb.duckdb")])
    _one_line_exit_2(build, field)


def test_json_output_step_refuses_nan():
    from cli.render import dumps
    from kb.core.errors import KBError

    with pytest.raises(KBError):
        dumps({"x": float("nan")})
    assert json.loads(dumps({"x": "\x9b\u2028"})) == {"x": "\x9b\u2028"}
    assert re.fullmatch(r'\{\s*"x": "\\u009b\\u2028"\s*\}', dumps({"x": "\x9b\u2028"}))
