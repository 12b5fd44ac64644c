"""`kb diff OLD NEW`: items added, removed and changed field by field between two builds."""
from __future__ import annotations

import json

import pytest

from cli.main import app


@pytest.fixture(scope="module")
def changed_db(tmp_path_factory, seeds_dir):
    """A build of the seeds with one item edited, one removed and one added."""
    import shutil

    from ingest.build import build

    seeds = tmp_path_factory.mktemp("seeds") / "seeds"
    shutil.copytree(seeds_dir, seeds, ignore=shutil.ignore_patterns("__pycache__"))
    path = seeds / "curation" / "xu2023.yaml"
    text = path.read_text(encoding="utf-8")
    head, item, rest = text.partition("  - id: xu2023-tmtv-early-progression\n")
    body, sep, tail = rest.partition("\n  - id: ")
    body = body.replace("    level: B\n", "    level: C\n").replace('      value: 4.35\n', '      value: 4.36\n')
    text = head + item + body + sep + tail
    start = text.index("  - id: xu2023-ipi-prognostic-ho\n")  # removed
    end = text.index("  - id: ", start + 10)
    text = text[:start] + text[end:]
    text = text.replace("evidence:\n", "evidence:\n  - id: xu2023-zz-new-item\n    marker: TMTV\n    evidence_type: prognostic\n"
                        "    context: background\n    outcome: test\n    level: E\n    statement: A new test item.\n"
                        "    quotes: [\"TMTV exceeding 80 mL at the time of treatment\"]\n\n", 1)
    path.write_text(text, encoding="utf-8")
    db = tmp_path_factory.mktemp("changed") / "kb.duckdb"
    build(seeds, db)
    return db


def test_diff_lists_added_removed_and_changed_fields(built_db, changed_db):
    from kb.curate.diff import diff

    out = diff(built_db, changed_db)
    assert out["counts"]["added"] == 1 and out["counts"]["removed"] == 1 and out["counts"]["changed"] == 1
    assert out["added"][0]["id"] == "xu2023-zz-new-item" and out["added"][0]["context"] == "background"
    assert out["removed"][0]["id"] == "xu2023-ipi-prognostic-ho"
    (changed,) = out["changed"]
    assert changed["id"] == "xu2023-tmtv-early-progression"
    assert {(c["field"], c["old"], c["new"]) for c in changed["changes"]} == {("level", "B", "C"), ("effect.value", 4.35, 4.36)}
    assert out["counts"]["unchanged"] == out["old"]["items"] - 2
    assert out["counts"]["fields"] == {"effect": 1, "level": 1}
    same = diff(built_db, built_db)
    assert same["counts"] == {"added": 0, "removed": 0, "changed": 0, "unchanged": same["old"]["items"], "fields": {}}


def test_a_field_an_older_build_lacks_changes_only_where_the_newer_gives_it_a_value(built_db, tmp_path):
    import shutil

    import duckdb

    from kb.curate.diff import ABSENT, diff

    old = tmp_path / "old.duckdb"
    shutil.copy(built_db, old)
    with duckdb.connect(str(old)) as con:  # an older schema: no note, no cited works, no context
        rows = con.execute("SELECT marker_id, items FROM marker_evidence").fetchall()
        for marker_id, blob in rows:
            items = [{k: v for k, v in item.items() if k not in ("note", "cited_works", "context")}
                     for item in json.loads(blob)]
            con.execute("UPDATE marker_evidence SET items = ? WHERE marker_id = ?", [json.dumps(items), marker_id])
    out = diff(old, built_db)
    fields = out["counts"]["fields"]
    assert fields["context"] == out["new"]["items"]  # every item gained a context
    con = duckdb.connect(str(built_db), read_only=True)
    n_notes = con.execute("SELECT count(*) FROM evidence WHERE note IS NOT NULL").fetchone()[0]
    n_cited = con.execute("SELECT count(DISTINCT evidence_id) FROM evidence_citation").fetchone()[0]
    con.close()
    assert fields["note"] == n_notes and fields["cited_works"] == n_cited
    assert all(c["old"] == ABSENT for item in out["changed"] for c in item["changes"])


@pytest.mark.parametrize("fmt", ["table", "md", "json"])
def test_diff_command(runner, built_db, changed_db, fmt):
    result = runner.invoke(app, ["diff", str(built_db), str(changed_db), "--format", fmt])
    assert result.exit_code == 0, result.output
    if fmt == "json":
        assert json.loads(result.stdout)["counts"]["changed"] == 1
    else:
        assert "1 added, 1 removed, 1 changed" in result.stdout
        assert "xu2023-tmtv-early-progression" in result.stdout and "effect.value" in result.stdout
    if fmt == "md":
        assert "| level | B | C |" in result.stdout


def test_diff_refuses_what_is_not_a_build(runner, built_db, tmp_path):
    missing = runner.invoke(app, ["diff", str(built_db), str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 2 and "NEW: no database file" in missing.stderr
    other = tmp_path / "other.duckdb"
    import duckdb

    duckdb.connect(str(other)).close()
    result = runner.invoke(app, ["diff", str(other), str(built_db)])
    assert result.exit_code == 2 and "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1
