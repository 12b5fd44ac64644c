"""Issue 12, items 3 and 4: driver errors as one line naming the file; nothing overwritten or lost silently."""
from __future__ import annotations

import os
import shutil
import stat

import duckdb
import pytest

from cli.main import app
from ingest.build import build


def _one_line(result, code=2, *words):
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture()
def db_copy(built_db, tmp_path):
    target = tmp_path / "kb.duckdb"
    shutil.copyfile(built_db, target)
    return target


def test_build_refuses_a_foreign_duckdb_database(runner, tmp_path):
    mine = tmp_path / "mine.duckdb"
    con = duckdb.connect(str(mine))
    con.execute("CREATE TABLE precious (x INTEGER)")
    con.execute("INSERT INTO precious VALUES (42)")
    con.close()
    before = mine.read_bytes()
    line = _one_line(runner.invoke(app, ["build", "--db", str(mine)]), 2, "refusing to replace", "mine.duckdb")
    assert "kb_meta" in line
    assert mine.read_bytes() == before
    other = tmp_path / "notes.txt"
    other.write_text("not a database")
    _one_line(runner.invoke(app, ["build", "--db", str(other)]), 2, "not a DuckDB database")
    assert other.read_text() == "not a database"


def test_symlink_is_written_through_and_mode_kept(db_copy, tmp_path, seeds_dir):
    os.chmod(db_copy, 0o640)
    link = tmp_path / "link.duckdb"
    link.symlink_to(db_copy)
    build(seeds_dir, link)
    assert link.is_symlink() and os.readlink(link) == str(db_copy)
    assert stat.S_IMODE(db_copy.stat().st_mode) == 0o640


def test_stale_building_files_are_removed(db_copy, seeds_dir):
    stale = db_copy.with_name(f".{db_copy.name}.999999.building")
    stale.write_bytes(b"half a database")
    stale.with_name(stale.name + ".wal").write_bytes(b"x")
    build(seeds_dir, db_copy)
    assert sorted(p.name for p in db_copy.parent.iterdir()) == ["kb.duckdb"]


def test_concurrent_build_loser_gets_one_line(runner, db_copy):
    from ingest.write import build_lock

    with build_lock(db_copy):
        line = _one_line(runner.invoke(app, ["build", "--db", str(db_copy)]), 2, "another kb build")
    assert str(db_copy) in line
    assert runner.invoke(app, ["build", "--db", str(db_copy)]).exit_code == 0


def test_a_reader_during_a_build_is_never_locked_out(db_copy, seeds_dir):
    from kb.query.database import connect

    reader = connect(db_copy)
    try:
        build(seeds_dir, db_copy)  # the live file is only ever opened read-only by the build
        assert reader.execute("SELECT count(*) FROM evidence").fetchone()[0] > 0
    finally:
        reader.close()


def test_managed_database_built_from_other_seeds_is_not_rebuilt(runner, seeds_copy, tmp_path):
    paper = tmp_path / "smith.md"
    paper.write_text("# Smith 2026\n\nLDH above the upper limit of normal predicted relapse after CAR-T in 12 patients.\n")
    added = runner.invoke(app, ["curate", "add-paper", str(paper), "--id", "smith2026", "--kind", "primary study",
                                "--seeds", str(seeds_copy)])
    assert added.exit_code == 0, added.output
    assert runner.invoke(app, ["build", "--seeds", str(seeds_copy)]).exit_code == 0
    result = runner.invoke(app, ["sources", "-f", "json"])
    assert result.exit_code == 0, result.output
    assert "smith2026" in result.stdout  # the new paper is still there
    assert "not the bundled seeds" in result.stderr and "building" not in result.stderr


def _set_meta(db, key, value):
    con = duckdb.connect(str(db))
    con.execute("UPDATE kb_meta SET value = ? WHERE key = ?", [value, key])
    con.close()


def test_database_of_another_schema_version_is_refused(runner, db_copy):
    _set_meta(db_copy, "schema_version", "1")
    _one_line(runner.invoke(app, ["query", "--marker", "LDH", "--db", str(db_copy)]), 2, "schema version 1",
              "rebuild it with")


def test_fifo_as_database_does_not_hang(runner, tmp_path, monkeypatch):
    fifo = tmp_path / "kb.fifo"
    os.mkfifo(fifo)
    monkeypatch.setenv("KB_DB", str(fifo))
    _one_line(runner.invoke(app, ["query", "--marker", "LDH"]), 2, "not a regular file")
    _one_line(runner.invoke(app, ["build"]), 2, "not a regular file")


@pytest.mark.parametrize("damage", ["truncated", "empty", "dropped table", "zeroed blocks"])
def test_damaged_databases_are_one_line(runner, db_copy, damage):
    data = db_copy.read_bytes()
    if damage == "truncated":
        db_copy.write_bytes(data[: len(data) // 3])
    elif damage == "empty":
        db_copy.write_bytes(b"")
    elif damage == "dropped table":
        con = duckdb.connect(str(db_copy))
        con.execute("DROP TABLE evidence_link")
        con.close()
    else:
        db_copy.write_bytes(data[:8192] + b"\0" * (len(data) // 2 - 8192) + data[len(data) // 2:])
    for args in (["query", "--marker", "LDH"], ["check"], ["markers"]):
        result = runner.invoke(app, [*args, "--db", str(db_copy)])
        # a query may still be answered from the read model; `kb check` must not pass
        assert result.exit_code in ((1, 2) if args == ["check"] else (0, 1, 2)), (args, result.output)
        assert "Traceback" not in result.output
        if result.exit_code == 2:
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_disk_full_during_build_is_one_line(runner, db_copy, monkeypatch):
    import ingest.write

    before = db_copy.read_bytes()

    def full(con, rows):
        raise duckdb.IOException("Could not write file: No space left on device")

    monkeypatch.setattr(ingest.write, "insert_rows", full)
    _one_line(runner.invoke(app, ["build", "--db", str(db_copy)]), 2, "No space left", "unchanged")
    assert db_copy.read_bytes() == before
    assert sorted(p.name for p in db_copy.parent.iterdir()) == ["kb.duckdb"]


def test_add_paper_bad_year_and_slug_and_nul(runner, seeds_copy, tmp_path):
    paper = tmp_path / "p.md"
    paper.write_text("A paper about LDH and CAR-T response in lymphoma.\n")
    args = ["curate", "add-paper", str(paper), "--kind", "primary study", "--seeds", str(seeds_copy)]
    _one_line(runner.invoke(app, [*args, "--id", "abc", "--year", "99999999999"]), 2, "--year")
    _one_line(runner.invoke(app, [*args, "--id", "abc\n"]), 2, "--id")
    paper.write_bytes(b"text\x00with a NUL byte\n")
    _one_line(runner.invoke(app, [*args, "--id", "abc"]), 2, "NUL")
    assert not (seeds_copy / "curation" / "abc.yaml").exists()


def test_evaluate_out_is_all_or_nothing(runner, built_db, tmp_path):
    import json

    records = tmp_path / "records"
    records.mkdir()
    for pid in ("A1", "B2"):
        (records / f"{pid}.json").write_text(json.dumps({
            "id": pid, "disease": "DLBCL", "therapy": "axi-cel", "timepoint": "at conditioning",
            "observations": [{"marker": "LDH", "value": 410, "unit": "U/L", "upper_limit_normal": 250}]}))
    out = tmp_path / "out"
    out.mkdir()
    (out / "B2.json").mkdir()  # the second summary cannot be written
    result = runner.invoke(app, ["evaluate", str(records), "--out", str(out), "-f", "json", "--db", str(built_db)])
    assert result.exit_code == 2, result.output
    assert sorted(p.name for p in out.iterdir()) == ["B2.json"]  # nothing else written, no staging left
    shutil.rmtree(out / "B2.json")
    assert runner.invoke(app, ["evaluate", str(records), "--out", str(out), "-f", "json", "--db", str(built_db)]).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["A1.json", "B2.json"]


def test_score_out_of_memory_is_not_blamed_on_the_file():
    from kb.core.errors import InputError, KBError
    from kb.pam.cohort import _duck, default_memory_mb

    def oom():
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block of size 256.0 KiB")

    with pytest.raises(KBError) as err:
        _duck(oom, "c.parquet")
    assert not isinstance(err.value, InputError) and "ran out of memory" in str(err.value)
    assert "cannot read" not in str(err.value)
    assert default_memory_mb() >= 1024


def test_a_waiting_build_takes_the_new_lock_file_after_the_holder_removed_its_own(tmp_path, monkeypatch):
    """The holder unlinks its lock file as it finishes; a build that was waiting on that (now nameless)
    file must not count it as held, or two builds could write at once: it locks the lock file anew."""
    import fcntl
    import threading

    from ingest.write import build_lock
    from kb.core.errors import StoreError

    db = tmp_path / "kb.duckdb"
    lock = tmp_path / ".kb.duckdb.lock"
    real_flock = fcntl.flock
    waiting, inside, done = threading.Event(), threading.Event(), threading.Event()
    waiter_inodes = []

    def flock(fd, op):
        if threading.current_thread().name == "waiter":
            waiter_inodes.append(os.fstat(fd).st_ino)
            waiting.set()  # the waiter has opened the holder's lock file and now blocks on it
        return real_flock(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock)

    def waiter():
        with build_lock(db, wait=True):
            inside.set()
            done.wait(10)

    with build_lock(db):
        held = os.stat(lock).st_ino
        thread = threading.Thread(target=waiter, name="waiter")
        thread.start()
        assert waiting.wait(10)
    assert inside.wait(10)
    try:
        assert len(waiter_inodes) >= 2 and waiter_inodes[0] == held  # it retried after the first file went
        assert os.stat(lock).st_ino == waiter_inodes[-1]  # and holds the file that now has the name
        with pytest.raises(StoreError, match="another kb build"):
            with build_lock(db):
                pass
    finally:
        done.set()
        thread.join(10)
    assert not lock.exists()
