"""`kb build`: every quote resolves, Table 1 is parsed from both renditions, builds are idempotent and atomic."""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys

import duckdb
import pytest

from ingest.build import build, load_seeds
from kb.core.errors import CurationError, StoreError


def test_every_quote_resolves_exactly(seeds_dir):
    bundle = load_seeds(seeds_dir)
    texts = {d.id: d.text for d in bundle.groups["document"]}
    linked = {link.evidence_id for link in bundle.groups["evidence_link"]}
    assert {e.id for e in bundle.groups["evidence"]} == linked  # no evidence item without a link
    for link in bundle.groups["evidence_link"]:
        assert link.quote == texts[link.document_id][link.start:link.end]


def test_documents_are_the_seed_papers_byte_for_byte(seeds_dir):
    bundle = load_seeds(seeds_dir)
    for doc in bundle.groups["document"]:
        data = (seeds_dir / doc.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == doc.sha256
        assert data.decode("utf-8") == doc.text


def test_table1_parsed_from_both_renditions(con):
    model = con.execute("SELECT classes, n_per_class, priors, performance, provenance, validation FROM pam_model").fetchone()
    classes, sizes, priors, performance, provenance, validation = model
    assert json.loads(classes) == ["CR", "NR"]
    assert json.loads(sizes) == {"CR": 22, "NR": 9}
    assert json.loads(priors) == pytest.approx({"CR": 22 / 31, "NR": 9 / 31})
    perf = {p["metric"]: (p["numerator"], p["denominator"]) for p in json.loads(performance)}
    assert perf == {"accuracy": (28, 31), "sensitivity": (22, 22), "specificity": (6, 9)}
    assert validation == "LOOCV"
    tables = [p for p in json.loads(provenance) if p["what"] == "table"]
    assert {t["document_id"] for t in tables} == {"shao2022.pdf", "shao2022.md"}
    genes = con.execute("SELECT symbol, centroids, sd FROM pam_gene ORDER BY position").fetchall()
    assert len(genes) == 14
    assert genes[0][0] == "IGF2BP1" and json.loads(genes[0][1]) == {"CR": 4.44, "NR": 6.43} and genes[0][2] == 3.62
    assert genes[-1][0] == "CCDC155" and json.loads(genes[-1][1]) == {"CR": 4.55, "NR": 4.56} and genes[-1][2] == 2.53


def _resha(seeds, rel):
    """Record the new sha256 of an edited paper in the manifest copy."""
    manifest = seeds / "sources.yaml"
    text = manifest.read_text()
    old = hashlib.sha256  # noqa: F841
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.strip() == f"- path: {rel}":
            j = next(k for k in range(i, len(lines)) if "sha256:" in lines[k])
            new = hashlib.sha256((seeds / rel).read_bytes()).hexdigest()
            lines[j] = re.sub(r"[0-9a-f]{64}", new, lines[j])
    manifest.write_text("".join(lines))


def test_table1_disagreement_between_renditions_is_a_build_error(seeds_copy):
    md = seeds_copy / "papers" / "shao2022.md"
    md.write_text(md.read_text().replace("KCNK3\t4.92\t6.23\t3.28", "KCNK3\t4.92\t6.32\t3.28"))
    _resha(seeds_copy, "papers/shao2022.md")
    with pytest.raises(CurationError, match=r"sources\.yaml:\d+: .*Table 1 differs .*KCNK3"):
        load_seeds(seeds_copy)


def test_edited_paper_without_new_sha_is_refused(seeds_copy):
    pdf = seeds_copy / "papers" / "shao2022.pdf.txt"
    pdf.write_text(pdf.read_text() + "\n")
    with pytest.raises(CurationError, match=r"sources\.yaml:\d+: sources\[0\]\.documents\[0\]\.sha256: papers/shao2022\.pdf\.txt has sha256"):
        load_seeds(seeds_copy)


def _dump(db):
    con = duckdb.connect(str(db), read_only=True)
    tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()]
    out = {}
    for table in tables:
        rows = con.execute(f'SELECT * FROM "{table}"').fetchall()
        if table == "kb_meta":
            rows = [r for r in rows if r[0] != "built_at"]
        out[table] = sorted(map(repr, rows))
    con.close()
    return out


def test_rebuild_is_idempotent(tmp_path, seeds_dir):
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    ra, rb = build(seeds_dir, a), build(seeds_dir, b)
    assert ra.content == rb.content
    assert _dump(a) == _dump(b)
    build(seeds_dir, a)  # rebuilding in place gives the same rows again
    assert _dump(a) == _dump(b)


def test_failure_mid_build_leaves_previous_database_intact(tmp_path, seeds_dir, monkeypatch):
    db = tmp_path / "kb.duckdb"
    build(seeds_dir, db)
    before = _dump(db)
    import ingest.write

    calls = {"n": 0}
    real_insert = ingest.write.insert_rows

    def flaky_insert(con, rows):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("disk full (injected)")
        return real_insert(con, rows)

    monkeypatch.setattr(ingest.write, "insert_rows", flaky_insert)
    with pytest.raises(RuntimeError, match="injected"):
        build(seeds_dir, db)
    assert calls["n"] == 5  # the failure really happened mid-write, after four tables
    assert _dump(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kb.duckdb"]  # no temporary file left


def test_missing_directory_is_a_store_error(tmp_path, seeds_dir):
    with pytest.raises(StoreError, match="does not exist"):
        build(seeds_dir, tmp_path / "nope" / "kb.duckdb")


def test_locked_database_is_a_store_error(tmp_path, seeds_dir):
    db = tmp_path / "kb.duckdb"
    build(seeds_dir, db)
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys, time; c = duckdb.connect({str(db)!r}); print('ready', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreError, match="locked by another process"):
            build(seeds_dir, db)
        from kb.query.database import connect

        with pytest.raises(StoreError, match="locked by another process"):
            connect(db)
    finally:
        holder.kill()
        holder.wait()
