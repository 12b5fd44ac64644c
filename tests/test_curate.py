"""The curator's workflow: `kb curate validate`, `kb curate candidates` (coverage), `kb curate add-paper`."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from cli.main import app

QUOTE = "Leave-one-out cross-validation method was used to evaluate the model performance"

PAPER = (
    "# A small cohort\n\n"
    "In 40 patients with LBCL treated with axi-cel, serum LDH above the upper limit of normal at\n"
    "conditioning was associated with shorter progression-free survival (HR 2.1, P = 0.03).\n"
)
PAPER_QUOTE = ("serum LDH above the upper limit of normal at conditioning was associated with shorter "
               "progression-free survival (HR 2.1, P = 0.03)")


def _item(**overrides) -> dict:
    item = {
        "id": "test-item", "marker": "14-gene-signature", "evidence_type": "predictive", "direction": "favorable",
        "context": "clinical", "disease": "B-ALL", "therapy": "CD19 CAR-T unspecified", "timepoint": "before lymphodepletion",
        "specimen": "bone marrow", "outcome": "complete response", "level": "B",
        "statement": "A test item.", "quotes": [QUOTE],
    }
    item.update(overrides)
    return item


def _write_curation(path: Path, source: str, items: list[dict]) -> Path:
    doc = {"source": source, "curator": "test", "curated_at": "2026-11-22", "evidence": items}
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10**6), encoding="utf-8")
    return path


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# ---- validate ------------------------------------------------------------------------------------

def test_validate_ok(runner, seeds_copy):
    path = _write_curation(seeds_copy / "curation" / "zz-test.yaml", "shao2022", [_item()])
    result = runner.invoke(app, ["curate", "validate", str(path), "--seeds", str(seeds_copy)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"ok: {path}: 1 evidence item, 2 links"  # both renditions state it


def test_validate_finds_its_seeds_from_the_file(runner, seeds_copy):
    path = _write_curation(seeds_copy / "curation" / "zz-test.yaml", "shao2022", [_item()])
    result = runner.invoke(app, ["curate", "validate", str(path)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("field, value", [("disease", "Martian lymphoma"), ("therapy", "warp-cel"),
                                          ("timepoint", "next Tuesday")])
def test_validate_vocabulary_error(runner, seeds_copy, field, value):
    path = _write_curation(seeds_copy / "curation" / "zz-test.yaml", "shao2022", [_item(**{field: value})])
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text.strip().startswith(f"{field}:"))
    result = runner.invoke(app, ["curate", "validate", str(path), "--seeds", str(seeds_copy)])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[1] == f"kb: 1 problem in {path}"
    assert re.fullmatch(rf"kb: error: {re.escape(str(path))}:{line}: evidence\[0\]\.{field}: unknown {field} '{re.escape(value)}'.*", lines[0]), lines[0]


def test_validate_unfound_quote(runner, seeds_copy):
    path = _write_curation(seeds_copy / "curation" / "zz-test.yaml", "shao2022",
                           [_item(quotes=["this sentence is not in the paper at all"])])
    result = runner.invoke(app, ["curate", "validate", str(path), "--seeds", str(seeds_copy)])
    assert result.exit_code == 2
    assert re.match(rf"kb: error: {re.escape(str(path))}:\d+: evidence\[0\]\.quotes\[0\]: quote not found in any rendition "
                    rf"of shao2022: '[^']+'; no passage of its text is 70% alike\nkb: 1 problem in ", result.stderr), result.stderr


# ---- candidates and coverage ---------------------------------------------------------------------

def _coverage_is_consistent(out: dict) -> None:
    for row in out["coverage"]:
        assert row["covered"] + row["dismissed"] + row["open"] == row["sentences"]
        if row["sentences"]:
            assert row["coverage"] == pytest.approx((row["covered"] + row["dismissed"]) / row["sentences"], abs=1e-4)
        else:
            assert row["coverage"] is None
        assert len([c for c in out["candidates"] if c["source"] == row["source"]]) == row["open"]


def test_every_seed_paper_is_reviewed(runner, built_db):
    """Coverage means reviewed: every marker sentence of every seed paper is covered by an item or dismissed."""
    out = _json(runner.invoke(app, ["curate", "candidates", "--db", str(built_db), "-f", "json"]))
    assert set(out) == {"kb_version", "coverage", "candidates"}
    sources = [s["id"] for s in _json(runner.invoke(app, ["sources", "--db", str(built_db), "-f", "json"]))["sources"]]
    assert sorted(c["source"] for c in out["coverage"]) == sorted(sources)
    _coverage_is_consistent(out)
    assert {row["source"]: row["open"] for row in out["coverage"]} == {s: 0 for s in sources}
    assert all(row["covered"] and row["dismissed"] for row in out["coverage"])
    assert out["candidates"] == []


def test_candidates_open_covered_and_dismissed(runner, seeds_copy, tmp_path):
    from kb.core import store
    from kb.query.database import connect

    curation = seeds_copy / "curation" / "shao2022.yaml"
    text = curation.read_text(encoding="utf-8")
    curation.write_text(text.split("\ndismissed:", 1)[0] + "\n", encoding="utf-8")  # forget the dismissals
    db = tmp_path / "kb.duckdb"
    assert runner.invoke(app, ["build", "--seeds", str(seeds_copy), "--db", str(db), "-f", "json"]).exit_code == 0
    before = _json(runner.invoke(app, ["curate", "candidates", "--db", str(db), "-f", "json"]))
    _coverage_is_consistent(before)
    opened = [c for c in before["candidates"] if c["source"] == "shao2022"]
    assert len(opened) >= 2 and {c["source"] for c in before["candidates"]} == {"shao2022"}
    con = connect(db)
    texts = {path: text for _, _, path, text in store.document_texts(con)}
    paths = {doc_id: path for doc_id, _, path, _ in store.document_texts(con)}
    links = [(paths[d], s, e) for _, d, s, e, _ in store.links(con)]
    con.close()
    for c in opened:  # exact slices that no link overlaps
        assert texts[c["document"]][c["start"]:c["end"]] == c["sentence"]
        assert c["markers"] and len(c["markers"]) == len(c["marker_ids"])
        assert not any(d == c["document"] and s < c["end"] and c["start"] < e for d, s, e in links), c

    dismiss, cover = opened[0], next(c for c in opened if c["sentence"] != opened[0]["sentence"])
    item = _item(id="zz-test-covers-candidate", marker=cover["marker_ids"][0], quotes=[cover["sentence"]])
    _write_curation(seeds_copy / "curation" / "zz-test.yaml", "shao2022", [item])
    with curation.open("a", encoding="utf-8") as fh:
        fh.write(yaml.safe_dump({"dismissed": [{"quote": dismiss["sentence"], "reason": "No finding in it (test)."}]},
                                allow_unicode=True, width=10**6))
    assert runner.invoke(app, ["build", "--seeds", str(seeds_copy), "--db", str(db), "-f", "json"]).exit_code == 0
    after = _json(runner.invoke(app, ["curate", "candidates", "--db", str(db), "-f", "json"]))
    _coverage_is_consistent(after)
    key = lambda c: (c["document"], c["start"], c["end"])  # noqa: E731
    assert not {key(dismiss), key(cover)} & {key(c) for c in after["candidates"]}
    row = lambda out: next(r for r in out["coverage"] if r["source"] == "shao2022")  # noqa: E731
    assert row(after)["dismissed"] > row(before)["dismissed"] and row(after)["covered"] > row(before)["covered"]
    assert row(after)["sentences"] == row(before)["sentences"]


def test_candidates_one_source_and_formats(runner, built_db):
    out = _json(runner.invoke(app, ["curate", "candidates", "shao2022", "--db", str(built_db), "-f", "json"]))
    assert [c["source"] for c in out["coverage"]] == ["shao2022"]
    assert {c["source"] for c in out["candidates"]} <= {"shao2022"}
    csv_out = runner.invoke(app, ["curate", "candidates", "shao2022", "--db", str(built_db), "-f", "csv"])
    assert csv_out.exit_code == 0
    assert csv_out.stdout.splitlines()[0] == "source,document,start,end,markers,sentence"
    assert "dismissed" in csv_out.stderr and "open" in csv_out.stderr
    md = runner.invoke(app, ["curate", "candidates", "shao2022", "--db", str(built_db), "-f", "md"])
    assert md.exit_code == 0 and md.stdout.startswith("| source | sentences | covered | dismissed | open | coverage |")
    unknown = runner.invoke(app, ["curate", "candidates", "no-such-paper", "--db", str(built_db), "-f", "json"])
    assert unknown.exit_code == 1 and "shao2022" in unknown.stderr


def test_reference_lists_are_not_candidates(con):
    """The blinatumomab text ends inside its reference list; those lines are cited works, not sentences."""
    from kb.curate.candidates import candidates

    out = candidates("blina-ball-2021", con=con)
    assert not any("Subklewe" in c["sentence"] for c in out["candidates"])


# ---- add-paper -----------------------------------------------------------------------------------

def test_add_paper_end_to_end(runner, seeds_copy, tmp_path):
    paper = tmp_path / "smith-cohort.md"
    paper.write_text(PAPER, encoding="utf-8")
    manifest_before = (seeds_copy / "sources.yaml").read_text(encoding="utf-8")
    result = runner.invoke(app, ["curate", "add-paper", str(paper), "--id", "smith2024", "--seeds", str(seeds_copy),
                                 "--title", "A small cohort", "--year", "2024", "--author", "Ann Smith"])
    assert result.exit_code == 0, result.output
    assert (seeds_copy / "papers" / "smith2024.md").read_bytes() == paper.read_bytes()
    manifest = (seeds_copy / "sources.yaml").read_text(encoding="utf-8")
    assert manifest.startswith(manifest_before)  # appended: comments and layout kept
    source = yaml.safe_load(manifest)["sources"][-1]
    assert source["id"] == "smith2024" and source["title"] == "A small cohort" and source["year"] == 2024
    assert source["doi"] is None and source["journal"] is None  # nothing invented
    assert source["documents"][0]["original_name"] == "smith-cohort.md"
    assert source["documents"][0]["format"] == "markdown"
    curation = seeds_copy / "curation" / "smith2024.yaml"
    assert yaml.safe_load(curation.read_text())["evidence"] == []

    item = _item(id="smith2024-ldh-pfs", marker="ldh", evidence_type="prognostic", direction="unfavorable",
                 context="clinical", disease="LBCL", therapy="axi-cel", timepoint="at conditioning", specimen="serum",
                 outcome="progression-free survival", n_patients=40,
                 rule={"operator": ">", "value": 1, "unit": "ULN", "reference": "ULN"},
                 effect={"measure": "HR", "value": 2.1, "p": 0.03, "p_text": "P = 0.03"},
                 statement="LDH above ULN at conditioning: shorter PFS (HR 2.1).", quotes=[PAPER_QUOTE])
    _write_curation(curation, "smith2024", [item])
    assert runner.invoke(app, ["curate", "validate", str(curation)]).exit_code == 0
    db = tmp_path / "kb.duckdb"
    built = runner.invoke(app, ["build", "--seeds", str(seeds_copy), "--db", str(db), "-f", "json"])
    assert built.exit_code == 0, built.output

    out = _json(runner.invoke(app, ["query", "--marker", "LDH", "--db", str(db), "-f", "json"]))
    found = [e for e in out["evidence"] if e["id"] == "smith2024-ldh-pfs"]
    assert len(found) == 1 and found[0]["source"]["id"] == "smith2024"
    (link,) = found[0]["links"]
    assert link["document"] == "papers/smith2024.md"
    assert link["quote"] == PAPER[link["start"]:link["end"]]
    assert "\n" in link["quote"]  # the quote spans the paper's line break
    cov = _json(runner.invoke(app, ["curate", "candidates", "smith2024", "--db", str(db), "-f", "json"]))
    assert cov["coverage"] == [{"source": "smith2024", "sentences": 1, "covered": 1, "dismissed": 0, "open": 0,
                                "coverage": 1.0}]
    assert cov["candidates"] == []


def _unchanged(seeds: Path, manifest: bytes, source_id: str) -> None:
    assert (seeds / "sources.yaml").read_bytes() == manifest
    assert not list((seeds / "papers").glob(f"{source_id}*"))
    assert not (seeds / "curation" / f"{source_id}.yaml").exists() or source_id == "shao2022"


def test_add_paper_refuses_duplicate_id(runner, seeds_copy, tmp_path):
    paper = tmp_path / "paper.md"
    paper.write_text(PAPER, encoding="utf-8")
    manifest = (seeds_copy / "sources.yaml").read_bytes()
    result = runner.invoke(app, ["curate", "add-paper", str(paper), "--id", "shao2022", "--seeds", str(seeds_copy)])
    assert result.exit_code == 2
    assert "shao2022" in result.stderr and "exists already" in result.stderr
    assert (seeds_copy / "sources.yaml").read_bytes() == manifest

    assert runner.invoke(app, ["curate", "add-paper", str(paper), "--id", "new2024", "--seeds", str(seeds_copy)]).exit_code == 0
    manifest = (seeds_copy / "sources.yaml").read_bytes()
    again = runner.invoke(app, ["curate", "add-paper", str(paper), "--id", "new2024", "--seeds", str(seeds_copy)])
    assert again.exit_code == 2 and "new2024" in again.stderr
    assert (seeds_copy / "sources.yaml").read_bytes() == manifest


def test_add_paper_refuses_non_utf8(runner, seeds_copy, tmp_path):
    paper = tmp_path / "latin1.txt"
    paper.write_bytes("Lactate d\u00e9shydrog\u00e9nase \u00e9lev\u00e9e.\n".encode("latin-1"))
    manifest = (seeds_copy / "sources.yaml").read_bytes()
    result = runner.invoke(app, ["curate", "add-paper", str(paper), "--id", "latin2024", "--seeds", str(seeds_copy)])
    assert result.exit_code == 2
    assert "not UTF-8" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    _unchanged(seeds_copy, manifest, "latin2024")


def test_add_paper_needs_a_seeds_directory(runner, tmp_path, monkeypatch):
    paper = tmp_path / "paper.md"
    paper.write_text(PAPER, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["curate", "add-paper", str(paper), "--id", "x2024"])
    assert result.exit_code == 2 and "--seeds" in result.stderr


def test_add_paper_uses_dot_seeds(runner, seeds_copy, tmp_path, monkeypatch):
    paper = tmp_path / "paper.pdf.txt"
    paper.write_text(PAPER, encoding="utf-8")
    monkeypatch.chdir(seeds_copy.parent)
    result = runner.invoke(app, ["curate", "add-paper", str(paper), "--id", "y2024", "--kind", "review"])
    assert result.exit_code == 0, result.output
    source = yaml.safe_load((seeds_copy / "sources.yaml").read_text())["sources"][-1]
    assert source["kind"] == "review"
    assert source["documents"][0] == {"path": "papers/y2024.pdf.txt", "original_name": "paper.pdf.txt",
                                      "sha256": source["documents"][0]["sha256"], "format": "pdf-text"}
