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
    context: clinical
    disease: B-ALL
    therapy: CD19 CAR-T unspecified
    outcome: complete response
    level: C
    statement: test
    quotes:
      - "Of the 31 patients 22 achieved a clinical outcome of complete response"
"""

CASES = {
    "missing field": (GOOD.replace("    outcome: complete response\n", ""), r"test\.yaml:5: evidence\[0\]\.outcome: required field is missing"),
    "unknown enum": (GOOD.replace("direction: unfavorable", "direction: worse"), r"test\.yaml:8: evidence\[0\]\.direction: unknown value 'worse'"),
    "quote not in text": (GOOD.replace("Of the 31 patients 22", "Of the 32 patients 22"), r"test\.yaml:16: evidence\[0\]\.quotes\[0\]: quote not found in any rendition of shao2022: 'Of the 32"),
    "duplicate id": (GOOD + textwrap.indent(GOOD.split("evidence:\n", 1)[1], ""), r"test\.yaml:17: evidence\[1\]\.id: duplicate evidence id 'test-item' \(first at curation/test\.yaml:5\)"),
    "invalid yaml": (GOOD.replace("level: C", "level: [C"), r"test\.yaml:\d+: yaml: invalid YAML"),
    "unknown field": (GOOD.replace("level: C", "level: C\n    levle: C"), r"test\.yaml:14: evidence\[0\]\.levle: unknown field"),
    "unknown marker": (GOOD.replace("marker: LDH", "marker: LDHX"), r"test\.yaml:6: evidence\[0\]\.marker: unknown marker 'LDHX'"),
    "unknown disease": (GOOD.replace("disease: B-ALL", "disease: melanoma"), r"test\.yaml:10: evidence\[0\]\.disease: unknown disease 'melanoma'"),
    "bad rule": (GOOD.replace("level: C", "level: C\n    rule: {operator: '>', unit: U/L}"), r"test\.yaml:14: evidence\[0\]\.rule: operator '>' needs a numeric value"),
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


# Curated numbers and references that are not sane: each is refused by `kb curate validate` (the same checks
# as the build, without writing a database), with the file, line and field.
SANITY = {
    "NaN rule value": (GOOD.replace("level: C", "level: C\n    rule: {operator: '>', value: .nan, unit: U/L}"),
                       r"test\.yaml:14: evidence\[0\]\.rule\.value: .*finite number"),
    "infinite effect": (GOOD.replace("level: C", "level: C\n    effect: {measure: HR, value: .inf}"),
                        r"test\.yaml:14: evidence\[0\]\.effect\.value: .*finite number"),
    "rule unit of another dimension": (GOOD.replace("level: C", "level: C\n    rule: {operator: '>', value: 80, unit: mL}"),
                                       r"test\.yaml:14: evidence\[0\]\.rule\.unit: 'mL' \(volume\) does not fit marker 'LDH' \(catalytic"),
    "fractional n_patients": (GOOD.replace("level: C", "level: C\n    n_patients: 12.5"),
                              r"test\.yaml:14: evidence\[0\]\.n_patients: .*integer"),
    "n_patients out of range": (GOOD.replace("level: C", "level: C\n    n_patients: 0"),
                                r"test\.yaml:14: evidence\[0\]\.n_patients: .*greater than or equal to 1"),
    "not a real date": (GOOD.replace("curated_at: 2026-11-21", "curated_at: 2026-02-30"),
                        r"test\.yaml:3: curated_at: .*day value is outside expected range"),
    "quote stated twice": (GOOD.replace("Of the 31 patients 22 achieved a clinical outcome of complete response",
                                        "CR patient bone marrows"),
                           r"test\.yaml:16: evidence\[0\]\.quotes\[0\]: quote occurs more than once in papers/shao2022\.pdf\.txt; say which"),
    "occurrence nobody needs": (GOOD.replace('- "Of the 31 patients 22 achieved a clinical outcome of complete response"',
                                             '- {text: "Of the 31 patients 22 achieved a clinical outcome of complete response", occurrence: 1}'),
                                r"test\.yaml:16: evidence\[0\]\.quotes\[0\]: occurrence given, but every rendition states the quote once"),
    "cited reference not in the list": (GOOD.replace("level: C", "level: C\n    cited_reference: '34'"),
                                        r"test\.yaml:14: evidence\[0\]\.cited_reference: reference 34 is not in the reference list of shao2022 \(entries 1-33\)"),
    "cited reference that is no number": (GOOD.replace("level: C", "level: C\n    cited_reference: Hay et al."),
                                          r"test\.yaml:14: evidence\[0\]\.cited_reference: expected reference numbers"),
    "dismissal quote not in the text": (GOOD + 'dismissed:\n  - {quote: "a sentence no paper contains", reason: "none at all"}\n',
                                        r"test\.yaml:18: dismissed\[0\]\.quote: quote not found in any rendition of shao2022"),
    "missing context": (GOOD.replace("    context: clinical\n", ""), r"test\.yaml:5: evidence\[0\]\.context: required field is missing"),
}


@pytest.mark.parametrize("case", sorted(SANITY))
def test_insane_curation_is_refused(case, seeds_copy):
    import re

    from ingest.validate import validate_file
    from kb.core.errors import CurationError

    text, pattern = SANITY[case]
    path = seeds_copy / "curation" / "test.yaml"
    path.write_text(text)
    with pytest.raises(CurationError) as info:
        validate_file(path, seeds_copy)
    assert re.search(pattern, str(info.value)), str(info.value)


def test_author_year_citation_must_be_stated(seeds_copy):
    """A source without a numbered reference list cites by name, and the name must be in its text."""
    from ingest.validate import validate_file
    from kb.core.errors import CurationError

    text = (GOOD.replace("source: shao2022", "source: cart19-ball-cases")
            .replace("Of the 31 patients 22 achieved a clinical outcome of complete response",
                     "Persistent B-cell aplasia suggests that the CAR-T-19 cells"))
    path = seeds_copy / "curation" / "test.yaml"
    path.write_text(text.replace("level: C", "level: C\n    cited_reference: Grupp et al., 2013"))
    assert validate_file(path, seeds_copy).evidence == 1
    path.write_text(text.replace("level: C", "level: C\n    cited_reference: Smith et al., 2099"))
    with pytest.raises(CurationError, match=r"'Smith et al., 2099' is not stated in the text of cart19-ball-cases"):
        validate_file(path, seeds_copy)


def test_disease_hierarchy_cycle_is_refused(seeds_copy):
    from ingest.build import load_seeds
    from kb.core.errors import CurationError

    vocab = seeds_copy / "vocabulary.yaml"
    text = vocab.read_text()
    # B-cell malignancy (the root) under DLBCL: DLBCL -> LBCL -> B-NHL -> B-cell malignancy -> DLBCL
    vocab.write_text(text.replace("  - name: B-cell malignancy\n", "  - name: B-cell malignancy\n    parent: DLBCL\n", 1))
    with pytest.raises(CurationError, match=r"vocabulary\.yaml:\d+: diseases\[\d+\]\.parent: the disease hierarchy has a cycle: "):
        load_seeds(seeds_copy)


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
