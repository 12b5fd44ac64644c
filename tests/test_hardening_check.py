"""Issue 12, item 5: `kb check` verifies everything the database says, against the seeds it was built from."""
from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from cli.main import app

TAMPER = {
    "PAM centroid": "UPDATE pam_gene SET centroids = regexp_replace(centroids, '[.]', '9.') WHERE position = 0",
    "s_i + s0": "UPDATE pam_gene SET sd = sd * 1.01 WHERE position = 0",
    "priors": "UPDATE pam_model SET priors = replace(priors, '0.7', '0.3')",
    "performance": "UPDATE pam_model SET performance = replace(performance, '7', '9')",
    "term parent": "UPDATE term SET parent = NULL WHERE parent IS NOT NULL",
    "marker alias": "UPDATE marker_alias SET marker_id = 'tp53' WHERE alias = 'LDH'",
    "evidence and read model": None,  # edited consistently, digest recomputed: only the seeds can tell
    "content hash": "UPDATE kb_meta SET value = 'abc' WHERE key = 'content_hash'",
}


@pytest.fixture(scope="module")
def clean(tmp_path_factory, seeds_dir):
    from ingest.build import build

    db = tmp_path_factory.mktemp("check") / "kb.duckdb"
    build(seeds_dir, db)
    return db


def test_clean_database_checks_ok(runner, clean):
    result = runner.invoke(app, ["check", "--db", str(clean), "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True


@pytest.mark.parametrize("case", sorted(TAMPER))
def test_tampering_is_found(runner, clean, tmp_path, case):
    db = tmp_path / "kb.duckdb"
    shutil.copyfile(clean, db)
    con = duckdb.connect(str(db))
    if TAMPER[case] is None:
        from kb.core import store
        from kb.core.items import marker_items

        con.execute("UPDATE evidence SET n_patients = 99999 WHERE marker_id = 'ldh'")
        con.execute("DELETE FROM marker_evidence WHERE marker_id = 'ldh'")
        items = marker_items(con, "ldh", store.marker_name(con, "ldh"))
        con.execute("INSERT INTO marker_evidence VALUES ('ldh', ?, ?)", [len(items), json.dumps(items)])
        con.execute("UPDATE kb_meta SET value = ? WHERE key = 'rows_hash'", [store.rows_digest(con)])
    else:
        con.execute(TAMPER[case])
    con.close()
    result = runner.invoke(app, ["check", "--db", str(db), "-f", "json"])
    assert result.exit_code == 1, result.output
    problems = json.loads(result.stdout)["problems"]
    assert problems, case


def test_checked_against_the_seeds_it_was_built_from(runner, seeds_copy, tmp_path):
    from ingest.build import build

    text = (seeds_copy / "vocabulary.yaml").read_text()
    (seeds_copy / "vocabulary.yaml").write_text(text + "\n# a comment changes the content hash only\n")
    db = tmp_path / "kb.duckdb"
    build(seeds_copy, db)
    ok = runner.invoke(app, ["check", "--db", str(db), "-f", "json"])
    assert ok.exit_code == 0, ok.output  # not compared with the bundled seeds
    shutil.rmtree(seeds_copy)
    gone = runner.invoke(app, ["check", "--db", str(db), "-f", "json"])
    assert gone.exit_code == 1 and "missing" in gone.stdout
