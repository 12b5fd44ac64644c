"""`kb query` and friends: the JSON contracts of docs/design.md, filters, exit codes, the Python API."""
from __future__ import annotations

import json
import re
import shutil

import duckdb
import pytest

from cli.main import app
from kb import query
from schemas.enums import SCHEMA_VERSION

EVIDENCE_KEYS = {"id", "marker", "marker_id", "evidence_type", "direction", "context", "disease", "therapy",
                 "therapy_class", "timepoint", "specimen", "outcome", "rule", "effect", "n_patients", "level",
                 "cited_reference", "cited_works", "statement", "note", "status", "curator", "curated_at", "source",
                 "links"}
CITED_WORK_KEYS = {"number", "id", "in_text", "authors", "title", "journal", "year", "volume", "issue", "pages", "doi",
                   "pmid", "partial", "citation"}


def run_json(runner, db, *args):
    result = runner.invoke(app, [*args, "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_query_json_shape(runner, built_db):
    out = run_json(runner, built_db, "query", "--marker", "lactate dehydrogenase")
    assert set(out) == {"kb_version", "query", "evidence"}
    assert out["kb_version"]["schema"] == SCHEMA_VERSION and re.fullmatch(r"[0-9a-f]{16}", out["kb_version"]["content"])
    assert out["query"]["resolved"]["id"] == "ldh" and out["query"]["resolved"]["name"] == "LDH"
    assert out["query"]["resolved"]["score"] == 100.0
    assert len(out["evidence"]) >= 5
    for item in out["evidence"]:
        assert set(item) == EVIDENCE_KEYS
        assert item["marker"] == "LDH" and item["marker_id"] == "ldh"
        assert set(item["source"]) == {"id", "title", "doi", "year", "license"}
        assert item["context"] in ("clinical", "preclinical", "background")
        for work in item["cited_works"]:
            assert set(work) == CITED_WORK_KEYS
        assert item["links"], item["id"]
        for link in item["links"]:
            assert set(link) >= {"document", "sha256", "start", "end", "quote"}
            assert link["document"].startswith("papers/") and link["end"] > link["start"]
        if item["rule"]:
            assert set(item["rule"]) == {"operator", "value", "value_high", "unit", "reference", "category"}


def test_link_quotes_are_the_document_text(runner, built_db, seeds_dir):
    out = run_json(runner, built_db, "query", "--marker", "TMTV")
    for item in out["evidence"]:
        for link in item["links"]:
            text = (seeds_dir / link["document"]).read_text(encoding="utf-8")
            assert text[link["start"]:link["end"]] == link["quote"]


def test_strongest_first(con):
    items = query.evidence("LDH", con=con)["evidence"]
    keys = [("ABCDE".index(i["level"]), -(i["n_patients"] or -1)) for i in items]
    assert keys == sorted(keys)


def test_filters(con):
    everything = query.evidence("LDH", con=con)["evidence"]
    lbcl = query.evidence("LDH", disease="large B-cell lymphoma", con=con)["evidence"]
    assert lbcl and all(i["disease"] in {"LBCL", "DLBCL", "PMBCL", "tFL", "HGBL"} for i in lbcl)  # subtypes included
    assert len(lbcl) < len(everything)
    car_t = query.evidence("LDH", therapy="CD19 CAR-T", con=con)["evidence"]
    assert car_t and all(i["therapy_class"] == "CD19 CAR-T" for i in car_t)
    unfav = query.evidence("LDH", direction="unfavorable", con=con)["evidence"]
    assert unfav and all(i["direction"] == "unfavorable" for i in unfav)
    prog = query.evidence("LDH", evidence_type="prognostic", con=con)["evidence"]
    assert all(i["evidence_type"] == "prognostic" for i in prog)
    blina = query.evidence("CD19 ex2part", therapy="blinatumomab", con=con)["evidence"]
    assert blina and all(i["therapy"] == "blinatumomab" for i in blina)


def test_unknown_filter_values_are_bad_input(runner, built_db):
    result = runner.invoke(app, ["query", "--marker", "LDH", "--disease", "melanoma", "--db", str(built_db)])
    assert result.exit_code == 2 and "unknown disease 'melanoma'" in result.stderr
    result = runner.invoke(app, ["query", "--marker", "LDH", "--direction", "worse", "--db", str(built_db)])
    assert result.exit_code == 2 and "--direction" in result.stderr


def test_unresolvable_marker_exits_1_with_nearest(runner, built_db):
    result = runner.invoke(app, ["query", "--marker", "lactate dehydrogenaze isoenzyme 5", "--db", str(built_db)])
    assert result.exit_code == 1
    assert "no marker matches" in result.stderr and "LDH" in result.stderr
    assert "Traceback" not in result.output


def test_status_filter(tmp_path, seeds_copy, runner):
    from ingest.build import build

    curation = seeds_copy / "curation" / "shao2022.yaml"
    text = curation.read_text()
    first = "shao2022-ldh-efs-adult-all"
    start = text.index(f"- id: {first}")
    end = text.index("quotes:", start)
    curation.write_text(text[:start] + text[start:end].replace("    level:", "    status: submitted\n    level:", 1) + text[end:])
    db = tmp_path / "kb.duckdb"
    build(seeds_copy, db)
    shown = {i["id"] for i in run_json(runner, db, "query", "--marker", "LDH")["evidence"]}
    assert first not in shown and shown
    every = run_json(runner, db, "query", "--marker", "LDH", "--status", "all")["evidence"]
    assert first in {i["id"] for i in every}
    assert {i["id"]: i["status"] for i in every}[first] == "submitted"
    submitted = run_json(runner, db, "query", "--marker", "LDH", "--status", "submitted")["evidence"]
    assert [i["id"] for i in submitted] == [first]


def test_read_model_equals_the_tables(con, built_db):
    """`kb query` for a marker reads the build's rendered items; the SQL path must give the same answer."""
    from kb.core.items import fetch_evidence
    from kb.query.filters import resolve_filters

    for marker in ["LDH", "TMTV", "CD19 ex2part", "IL-6", "14-gene signature"]:
        for kwargs in ({}, {"disease": "LBCL"}, {"therapy": "CD19 CAR-T"}, {"direction": "unfavorable"},
                       {"evidence_type": "prognostic"}, {"status": "all"}):
            fast = query.evidence(marker, con=con, **kwargs)
            resolved = fast["query"]["resolved"]
            slow = fetch_evidence(con, *resolve_filters(con, resolved["id"], **kwargs).sql())
            assert fast["evidence"] == slow, (marker, kwargs)


def test_check_detects_a_stale_read_model(runner, built_db, tmp_path):
    db = tmp_path / "kb.duckdb"
    shutil.copy(built_db, db)
    con = duckdb.connect(str(db))
    con.execute("UPDATE evidence SET status = 'submitted' WHERE id = 'shao2022-ldh-efs-adult-all'")
    con.close()
    result = runner.invoke(app, ["check", "--db", str(db), "--format", "json"])
    assert result.exit_code == 1
    assert any("read model of marker ldh" in p for p in json.loads(result.stdout)["problems"])


def test_markers_json(runner, built_db):
    out = run_json(runner, built_db, "markers")
    assert set(out) == {"kb_version", "markers"}
    by_name = {m["name"]: m for m in out["markers"]}
    for name in ["14-gene signature", "CD19 ex2part", "LDH", "TMTV", "TP53", "CAR-T Cmax", "IL-6", "CRP", "IFN-γ", "IL-10", "TNF-α"]:
        assert set(by_name[name]) == {"id", "name", "full_name", "kind", "unit", "aliases", "n_evidence", "loinc", "hgnc_symbol", "hgnc_id", "codes"}
        assert by_name[name]["n_evidence"] >= 1, name
    assert by_name["LDH"]["loinc"] == "2532-0" and "lactate dehydrogenase" in by_name["LDH"]["aliases"]
    assert by_name["CRP"]["loinc"] == "1988-5" and by_name["IL-6"]["loinc"] == "26881-3"
    assert "LDH" not in by_name["LDH"]["aliases"]  # the display name is not repeated as an alias


def test_sources_json(runner, built_db):
    out = run_json(runner, built_db, "sources")
    ids = {s["id"]: s for s in out["sources"]}
    assert set(ids) == {"shao2022", "xu2023", "cart19-ball-cases", "blina-ball-2021"}
    assert len(ids["shao2022"]["documents"]) == 2
    assert ids["cart19-ball-cases"]["title"] is None and ids["cart19-ball-cases"]["doi"] is None  # not in the text
    # a licence only with the sentence of the text that states it
    assert ids["xu2023"]["license"] == "CC BY 4.0" and "Creative Commons Attribution" in ids["xu2023"]["license_link"]["quote"]
    assert ids["blina-ball-2021"]["license"] is None and ids["blina-ball-2021"]["license_link"] is None
    assert ids["xu2023"]["n_cited_works"] == 104 and ids["cart19-ball-cases"]["n_cited_works"] == 0


def test_show_highlights_quote_with_its_window(runner, built_db):
    item = run_json(runner, built_db, "query", "--marker", "TMTV")["evidence"][0]
    out = run_json(runner, built_db, "show", item["id"])["evidence"]
    for link in out["links"]:
        assert len(link["before"]) == 200 and len(link["after"]) <= 200
    narrow = run_json(runner, built_db, "show", item["id"], "--window", "20")["evidence"]
    assert all(len(link["before"]) == 20 for link in narrow["links"])
    assert narrow["links"][0]["before"] == out["links"][0]["before"][-20:]
    text = runner.invoke(app, ["show", item["id"], "--db", str(built_db), "--format", "table"]).stdout
    assert f"»{out['links'][0]['quote']}«".split()[0] in text
    assert "Vercellino et al., 2020, Blood Adv (ref. 59 in xu2023)" in text and "context" in text
    old = runner.invoke(app, ["show", item["id"], "--context", "20", "--db", str(built_db)])
    assert old.exit_code == 2 and "--context" in old.output  # renamed to --window (CHANGELOG)
    missing = runner.invoke(app, ["show", "no-such-item", "--db", str(built_db)])
    assert missing.exit_code == 1 and "nearest ids" in missing.stderr


def test_context_filter(con, runner, built_db):
    everything = query.evidence("LDH", con=con)["evidence"]
    by_context = {c: query.evidence("LDH", context=c, con=con)["evidence"] for c in ("clinical", "background")}
    assert by_context["clinical"] and by_context["background"]
    assert sorted(i["id"] for i in everything) == sorted(i["id"] for items in by_context.values() for i in items)
    assert all(i["context"] == "background" for i in by_context["background"])
    # the TLS background statement names no population, and no direction the text does not give
    tls = next(i for i in by_context["background"] if i["id"] == "cart19-ball-cases-ldh-tls")
    assert tls["disease"] is None and tls["therapy"] is None and tls["direction"] is None and tls["level"] == "E"
    out = run_json(runner, built_db, "query", "--marker", "LDH", "--context", "clinical")
    assert [i["id"] for i in out["evidence"]] == [i["id"] for i in by_context["clinical"]]
    bad = runner.invoke(app, ["query", "--marker", "LDH", "--context", "mice", "--db", str(built_db)])
    assert bad.exit_code == 2 and "--context: expected one of clinical, preclinical, background" in bad.stderr


def test_cited_works_of_an_item(con):
    (item,) = [i for i in query.evidence("LDH", con=con)["evidence"] if i["id"] == "xu2023-ldh-cr12-nastoupil"]
    (work,) = item["cited_works"]
    assert work["citation"] == "Nastoupil et al., 2020, J Clin Oncol (ref. 53 in xu2023)"
    assert work["doi"] == "10.1200/JCO.19.02104" and work["in_text"] and work["partial"] is False
    # the blinatumomab text holds only the end of its reference list: ref 6 is partial, 5 is not in the text
    (pdl1,) = [i for i in query.evidence("PD-L1", con=con)["evidence"] if i["id"] == "blina-ball-2021-pdl1-poor-response-cited"]
    five, six = pdl1["cited_works"]
    assert (five["number"], five["in_text"], five["id"]) == (5, False, None)
    assert five["citation"] == "ref. 5 in blina-ball-2021: not in the text's reference list"
    assert six["partial"] is True and six["authors"] is None and six["year"] == 2015
    assert six["citation"] == "2015, J Hematol Oncol (ref. 6 in blina-ball-2021; the beginning of the entry is not in the text)"


def test_cited_works_api(con):
    works = query.cited_works("xu2023", con=con)["cited_works"]
    assert [w["number"] for w in works] == list(range(1, 105))
    text = {d: t for d, t in con.execute("SELECT id, text FROM document").fetchall()}
    for w in works:
        assert w["links"] and all(text[k["document_id"]][k["start"]:k["end"]] == k["quote"] for k in w["links"])
    split = {w["number"]: w for w in works if len(w["links"]) > 1}
    assert set(split) == {20, 66}  # interrupted by the Funding section and by a page break
    assert split[20]["title"].endswith("expressed on leukemic b cells in chronic lymphocytic leukemia")
    with pytest.raises(Exception, match="no source 'nope'"):
        query.cited_works("nope", con=con)


def test_check_passes_then_detects_tampering(runner, built_db, tmp_path):
    result = runner.invoke(app, ["check", "--db", str(built_db), "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["ok"] is True
    db = tmp_path / "kb.duckdb"
    shutil.copy(built_db, db)
    con = duckdb.connect(str(db))
    con.execute('UPDATE evidence_link SET "end" = "end" + 1 WHERE evidence_id = (SELECT min(evidence_id) FROM evidence_link)')
    con.close()
    result = runner.invoke(app, ["check", "--db", str(db), "--format", "table"])
    assert result.exit_code == 1 and "MISMATCH" in result.stdout and "quote differs" in result.stdout


@pytest.mark.parametrize("fmt", ["table", "csv", "md"])
def test_text_formats(runner, built_db, fmt):
    result = runner.invoke(app, ["query", "--marker", "LDH", "--db", str(built_db), "--format", fmt])
    assert result.exit_code == 0
    first = result.stdout.splitlines()[0]
    header = "\n".join(result.stdout.split("─")[0].splitlines())  # a table's header may wrap onto two lines
    assert {"table": "evidence" in header and "outcome: statement" in header, "csv": first.startswith("id,marker,"), "md": first.startswith("| id |")}[fmt]


def test_bad_format_is_refused(runner, built_db):
    result = runner.invoke(app, ["markers", "--db", str(built_db), "--format", "xml"])
    assert result.exit_code == 2 and "--format" in result.stderr


def test_default_db_is_built_on_first_use_and_rebuilt_on_change(runner, tmp_path, monkeypatch, seeds_copy):
    import kb.core.paths

    monkeypatch.setattr(kb.core.paths, "bundled_seeds", lambda: seeds_copy)
    import kb.query.database

    monkeypatch.setattr(kb.query.database, "bundled_seeds", lambda: seeds_copy)
    first = runner.invoke(app, ["query", "--marker", "LDH", "--format", "json"])
    assert first.exit_code == 0 and "no database yet" in first.stderr
    db = tmp_path / "xdg" / "biomarker-kb" / "kb.duckdb"
    assert db.exists()
    again = runner.invoke(app, ["query", "--marker", "LDH", "--format", "json"])
    assert "building" not in again.stderr
    (seeds_copy / "curation" / "shao2022.yaml").write_text((seeds_copy / "curation" / "shao2022.yaml").read_text() + "\n# edited\n")
    changed = runner.invoke(app, ["query", "--marker", "LDH", "--format", "json"])
    assert "seeds changed" in changed.stderr
    assert json.loads(changed.stdout)["kb_version"]["content"] != json.loads(again.stdout)["kb_version"]["content"]
