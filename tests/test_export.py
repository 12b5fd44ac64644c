"""`kb export`: every format round-trips the number of evidence items and has its documented columns."""
from __future__ import annotations

import csv
import io
import json

import pytest
import yaml

from cli.main import app
from kb.curate.export import CIVIC_COLUMNS, CSV_COLUMNS, significance


@pytest.fixture(scope="module")
def n_items(built_db) -> int:
    from kb import query as q

    return sum(s["n_evidence"] for s in q.sources(db=built_db)["sources"])  # every status


def _export(runner, db, *args):
    result = runner.invoke(app, ["export", "--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result


def test_json(runner, built_db, n_items):
    out = json.loads(_export(runner, built_db, "--format", "json").stdout)
    assert set(out) == {"kb_version", "sources", "markers", "evidence"}
    assert len(out["evidence"]) == n_items > 0
    assert out["kb_version"]["schema"] >= 1 and out["kb_version"]["content"]
    query = json.loads(runner.invoke(app, ["query", "--marker", "LDH", "--db", str(built_db), "-f", "json"]).stdout)
    assert set(out["evidence"][0]) == set(query["evidence"][0])  # the `kb query` shape
    by_id = {e["id"]: e for e in out["evidence"]}
    for item in query["evidence"]:
        assert by_id[item["id"]] == item
    assert {e["source"]["id"] for e in out["evidence"]} <= {s["id"] for s in out["sources"]}
    assert {e["marker_id"] for e in out["evidence"]} <= {m["id"] for m in out["markers"]}
    assert all(link["quote"] for e in out["evidence"] for link in e["links"])


def test_csv(runner, built_db, n_items):
    text = _export(runner, built_db, "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == n_items
    assert list(rows[0]) == CSV_COLUMNS
    assert any(c.startswith("rule_") for c in CSV_COLUMNS) and any(c.startswith("effect_") for c in CSV_COLUMNS)
    for row in rows:
        links = json.loads(row["links"])
        assert isinstance(links, list)
        assert all({"document", "sha256", "start", "end", "quote"} <= set(link) for link in links)
        assert row["status"] in {"accepted", "submitted", "rejected"}
        assert row["context"] in {"clinical", "preclinical", "background"}
        assert all({"number", "citation", "title", "doi", "pmid"} == set(w) for w in json.loads(row["cited_works"]))
    by_id = {row["id"]: row for row in rows}
    assert json.loads(by_id["xu2023-ldh-cr12-nastoupil"]["cited_works"])[0]["citation"].startswith("Nastoupil et al., 2020")
    assert by_id["xu2023-ldh-cr12-nastoupil"]["source_license"] == "CC BY 4.0"
    assert by_id["shao2022-bm-t-cell-activation-genes-cr"]["note"].startswith("The legend of Figure 2 counts 360 DEGs")


def test_parquet(runner, built_db, n_items, tmp_path):
    import duckdb

    out = tmp_path / "evidence.parquet"
    result = _export(runner, built_db, "--format", "parquet", "--out", str(out))
    assert result.stdout == "" and f"wrote {n_items} evidence items" in result.stderr
    rel = duckdb.read_parquet(str(out))
    assert rel.columns == CSV_COLUMNS
    assert len(rel.fetchall()) == n_items
    types = dict(zip(rel.columns, map(str, rel.types)))
    assert types["rule_value"] == "DOUBLE" and types["n_patients"] == "INTEGER" and types["curated_at"] == "DATE"


def test_civic_tsv(runner, built_db, n_items):
    text = _export(runner, built_db, "--format", "civic-tsv").stdout
    lines = text.rstrip("\n").split("\n")
    assert lines[0].split("\t") == CIVIC_COLUMNS
    rows = [dict(zip(CIVIC_COLUMNS, line.split("\t"))) for line in lines[1:]]
    assert len(rows) == n_items
    assert all(len(line.split("\t")) == len(CIVIC_COLUMNS) for line in lines)
    items = {e["id"]: e for e in json.loads(_export(runner, built_db, "--format", "json").stdout)["evidence"]}
    for row in rows:
        e = items[row["evidence_id"]]
        assert row["marker"] == e["marker"] and row["evidence_status"] == e["status"]
        assert row["evidence_direction"] == {"none": "Does Not Support", None: ""}.get(e["direction"], "Supports")
        assert row["significance"] == significance(e["evidence_type"], e["direction"])
        assert row["rating"] == ""
        if e["disease"] == "B-ALL":
            assert row["doid"] == "0080638"
        works = e["cited_works"]
        if len(works) == 1 and works[0]["doi"]:  # the primary study, where its entry gives a DOI
            assert (row["citation_id"], row["source_type"], row["citation"]) == (works[0]["doi"], "DOI", works[0]["citation"])
            continue
        if e["source"]["id"] == "shao2022":  # its reference entries print no DOI: the paper itself
            assert (row["citation_id"], row["source_type"]) == ("10.1038/s41598-022-06830-3", "DOI")
            assert row["citation"].startswith("Shao et al., 2022")
        if not e["source"]["doi"]:
            assert row["citation_id"] == "" and row["source_type"] in ("", "PubMed")
    tmtv = next(r for r in rows if r["evidence_id"] == "xu2023-tmtv-early-progression")
    assert (tmtv["citation_id"], tmtv["citation"]) == ("10.1182/bloodadvances.2020003001",
                                                       "Vercellino et al., 2020, Blood Adv (ref. 59 in xu2023)")
    several = next(r for r in rows if r["evidence_id"] == "xu2023-ldh-pfs-os-nastoupil")  # refs 53 and 77: the review
    assert several["citation_id"] == "10.3389/fimmu.2023.1110028"


@pytest.mark.parametrize("evidence_type, direction, expected", [
    ("prognostic", "unfavorable", "Poor Outcome"), ("prognostic", "favorable", "Better Outcome"),
    ("predictive", "favorable", "Sensitivity/Response"), ("predictive", "unfavorable", "Resistance"),
    ("predictive", "none", "N/A"), ("safety", "unfavorable", "Adverse Response"), ("response", "mixed", "N/A"),
])
def test_significance_mapping(evidence_type, direction, expected):
    assert significance(evidence_type, direction) == expected


def test_out_file_equals_stdout(runner, built_db, tmp_path):
    out = tmp_path / "evidence.csv"
    result = _export(runner, built_db, "--format", "csv", "--out", str(out))
    assert result.stdout == ""
    assert out.read_text(encoding="utf-8") == _export(runner, built_db, "--format", "csv").stdout


@pytest.mark.parametrize("args, message", [
    (["--format", "xml"], "--format"),
    (["--format", "parquet"], "--out"),
    (["--format", "csv", "--out", "/nonexistent-dir/x.csv"], "cannot write"),
    (["--format", "json", "--status", "maybe"], "--status"),
])
def test_bad_input_exits_2_with_one_line(runner, built_db, args, message):
    result = runner.invoke(app, ["export", "--db", str(built_db), *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


def test_out_is_a_directory(runner, built_db, tmp_path):
    result = runner.invoke(app, ["export", "--db", str(built_db), "--format", "parquet", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "directory" in result.stderr


def test_status_is_exported(runner, seeds_copy, tmp_path):
    """A submitted item is exported with its status by default, and left out with --status accepted."""
    doc = {"source": "shao2022", "curator": "test", "curated_at": "2026-11-22", "evidence": [{
        "id": "zz-submitted-item", "marker": "14-gene-signature", "evidence_type": "predictive",
        "direction": "favorable", "context": "clinical", "disease": "B-ALL", "therapy": "CD19 CAR-T unspecified",
        "outcome": "complete response",
        "level": "B", "statement": "A submitted test item.", "status": "submitted",
        "quotes": ["Leave-one-out cross-validation method was used to evaluate the model performance"]}]}
    (seeds_copy / "curation" / "zz-test.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    db = tmp_path / "kb.duckdb"
    assert runner.invoke(app, ["build", "--seeds", str(seeds_copy), "--db", str(db), "-f", "json"]).exit_code == 0
    everything = json.loads(_export(runner, db, "--format", "json").stdout)["evidence"]
    accepted = json.loads(_export(runner, db, "--format", "json", "--status", "accepted").stdout)["evidence"]
    assert [e["status"] for e in everything if e["id"] == "zz-submitted-item"] == ["submitted"]
    assert "zz-submitted-item" not in {e["id"] for e in accepted}
    assert len(everything) == len(accepted) + sum(e["status"] != "accepted" for e in everything)
    tsv = _export(runner, db, "--format", "civic-tsv").stdout
    row = next(line.split("\t") for line in tsv.splitlines() if "\tzz-submitted-item\t" in line)
    assert row[CIVIC_COLUMNS.index("evidence_status")] == "submitted"
