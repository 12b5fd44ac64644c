"""Bad curation input: one line naming file, line and field; exit 2; the existing database untouched."""
from __future__ import annotations

import hashlib
import textwrap

import pytest

from cli.main import app
from ingest.build import build

GOOD = """\
source: shao2022
curator: test
curated_at: 2026-11-21
evidence:
  - id: test-item
    marker: LDH
    evidence_type: prognostic
    direction: unfavorable
    disease: B-ALL
    therapy: CD19 CAR-T unspecified
    outcome: complete response
    level: C
    statement: test
    quotes:
      - "Of the 31 patients 22 achieved a clinical outcome of complete response"
"""

CASES = {
    "missing field": (GOOD.replace("    outcome: complete response\n", ""), r"test\.yaml:5: evidence\.outcome: required field is missing"),
    "unknown enum": (GOOD.replace("direction: unfavorable", "direction: worse"), r"test\.yaml:8: evidence\.direction: unknown value 'worse'"),
    "quote not in text": (GOOD.replace("Of the 31 patients 22", "Of the 32 patients 22"), r"test\.yaml:15: evidence\.quotes: quote not found in any rendition of shao2022: 'Of the 32"),
    "duplicate id": (GOOD + textwrap.indent(GOOD.split("evidence:\n", 1)[1], ""), r"test\.yaml:16: evidence\.id: duplicate evidence id 'test-item' \(first at curation/test\.yaml:5\)"),
    "invalid yaml": (GOOD.replace("level: C", "level: [C"), r"test\.yaml:\d+: yaml: invalid YAML"),
    "unknown field": (GOOD.replace("level: C", "level: C\n    levle: C"), r"test\.yaml:13: evidence\.levle: unknown field"),
    "unknown marker": (GOOD.replace("marker: LDH", "marker: LDHX"), r"test\.yaml:6: evidence\.marker: unknown marker 'LDHX'"),
    "unknown disease": (GOOD.replace("disease: B-ALL", "disease: melanoma"), r"test\.yaml:9: evidence\.disease: unknown disease 'melanoma'"),
    "bad rule": (GOOD.replace("level: C", "level: C\n    rule: {operator: '>', unit: U/L}"), r"test\.yaml:13: evidence\.rule: operator '>' needs a numeric value"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_curation_file(case, seeds_copy, tmp_path, runner):
    text, pattern = CASES[case]
    db = tmp_path / "kb.duckdb"
    build(seeds_copy, db)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    (seeds_copy / "curation" / "test.yaml").write_text(text)
    result = runner.invoke(app, ["build", "--seeds", str(seeds_copy), "--db", str(db)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    import re

    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in result.output
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_good_file_builds(seeds_copy, tmp_path, runner):
    (seeds_copy / "curation" / "test.yaml").write_text(GOOD)
    result = runner.invoke(app, ["build", "--seeds", str(seeds_copy), "--db", str(tmp_path / "kb.duckdb"), "-f", "json"])
    assert result.exit_code == 0, result.output


def test_db_in_missing_directory(runner, tmp_path):
    result = runner.invoke(app, ["build", "--db", str(tmp_path / "missing" / "kb.duckdb")])
    assert result.exit_code == 2
    assert "directory" in result.stderr and "does not exist" in result.stderr
    result = runner.invoke(app, ["query", "--marker", "LDH", "--db", str(tmp_path / "missing" / "kb.duckdb")])
    assert result.exit_code == 2 and "does not exist" in result.stderr
