"""The per-connection memo of small lookups: only for read-only connections, bounded, and invisible in
results (the same answers as the statements it saves)."""
from __future__ import annotations

import shutil

import duckdb

from kb.core import store
from kb.query import api
from kb.query.database import connect


def test_read_only_connections_and_their_cursors_are_memoised_and_answer_the_same(built_db):
    con = connect(built_db)
    cur = store.cursor(con)
    assert con in store._memos and cur in store._memos
    first = api.evidence("LDH", disease="DLBCL", con=cur)
    again = api.evidence("LDH", disease="DLBCL", con=cur)
    plain = duckdb.connect(str(built_db), read_only=True)  # never registered: every lookup is a statement
    assert plain not in store._memos
    assert first == again == api.evidence("LDH", disease="DLBCL", con=plain)
    again["evidence"].clear()  # a caller changing its result does not change the next answer
    again["kb_version"]["schema"] = -1
    assert api.evidence("LDH", disease="DLBCL", con=cur) == first
    for c in (plain, cur, con):
        c.close()


def test_a_writable_connection_is_never_memoised(built_db, tmp_path):
    db = tmp_path / "kb.duckdb"
    shutil.copyfile(built_db, db)
    con = duckdb.connect(str(db))
    assert "extra" not in store.meta(con)
    store.write_meta(con, "extra", "1")
    assert store.meta(con)["extra"] == "1"  # the write shows at once: nothing was kept
    con.close()


def test_the_memo_is_bounded(built_db, monkeypatch):
    monkeypatch.setattr(store, "_MEMO_SIZE", 3)
    con = connect(built_db)
    ids = [r[0] for r in con.execute("SELECT id FROM marker ORDER BY id LIMIT 6").fetchall()]
    names = [store.marker_name(con, mid) for mid in ids]
    assert len(store._memos[con]) == 3
    assert names == [store.marker_name(con, mid) for mid in ids]
    con.close()
