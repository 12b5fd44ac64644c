"""The server-rendered pages over HTTP (a real uvicorn on loopback) and their HTML building blocks:
escaping of hostile text, highlighted spans (nested and crossing), the forest plot."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest
from hypothesis import given, settings, strategies as st

from web.pages.render import CSP, paper
from web.pages.spans import Span, highlighted


class _Text(HTMLParser):
    """The text content of an HTML fragment, and the text inside each element carrying id / data-part-of."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text, self.open, self.pieces = [], [], {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.open.append(attrs.get("id") or attrs.get("data-part-of"))

    def handle_endtag(self, tag):
        self.open.pop()

    def handle_data(self, data):
        self.text.append(data)
        for key in set(k for k in self.open if k):
            self.pieces.setdefault(key, []).append(data)


def _parse(html: str) -> _Text:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return parser


HOSTILE = "Quote <p>with</p> </b>tags</b> & $\\frac{a}{b}$ \x07bell\x1b[0m <script>alert(1)</script>"


_RAW_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def test_paper_text_is_escaped_and_shows_control_characters_visibly():
    from kb.core.escape import printable

    html = str(paper(HOSTILE))
    assert "<script>" not in html and "<p>" not in html and "</b>" not in html
    assert 'data-cp="U+0007"' in html and 'data-cp="U+001B"' in html
    assert not _RAW_CONTROL.search(html)
    assert "".join(_parse(html).text) == printable(HOSTILE)  # each control as its escape, every other character kept


def _shown(text: str) -> str:
    from kb.core.escape import printable

    return printable(text, keep="\n\t\r")


def _span(start, end, eid="e1"):
    return Span(start, end, [(eid, "LDH", "unfavorable", "accepted")])


def test_crossing_spans_are_split_and_their_pieces_hold_exactly_their_text():
    text = "0123456789abcdefghij"
    spans = sorted([_span(2, 10), _span(6, 15, "e2"), _span(3, 5, "e3")], key=lambda s: (s.start, -s.end))
    parsed = _parse(str(highlighted(text, spans)))
    assert "".join(parsed.text) == text
    for s in spans:
        assert "".join(parsed.pieces[s.key]) == text[s.start:s.end]


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab <>&\n\x07é", min_size=1, max_size=40),
       st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), max_size=6))
def test_any_spans_render_as_well_formed_html_with_exact_pieces(text, ranges):
    spans = {}
    for a, b in ranges:
        a, b = sorted((min(a, len(text)), min(b, len(text))))
        if a < b:
            spans[(a, b)] = _span(a, b, f"e{a}-{b}")
    ordered = sorted(spans.values(), key=lambda s: (s.start, -s.end))
    html = str(highlighted(text, ordered))
    assert html.count("<mark") == html.count("</mark>")
    parsed = _parse(html)
    shown = _shown(text)  # a control character is shown as its escape, every other character as it is
    assert "".join(parsed.text) == shown
    for s in ordered:
        assert "".join(parsed.pieces[s.key]) == _shown(text[s.start:s.end])
        assert html.count(f'id="{s.key}"') == 1


def test_forest_plot_draws_ratios_on_a_log_scale_with_and_without_ci():
    from kb.figures.forest import forest_svg, ratio_items

    items = [{"id": "a", "direction": "unfavorable", "effect": {"measure": "HR", "value": 2.5, "ci": [1.2, 5.1]}},
             {"id": "b", "direction": "favorable", "effect": {"measure": "OR", "value": 0.4, "ci": None}},
             {"id": "c", "direction": "none", "effect": {"measure": "rate_pair", "value": None, "ci": None}}]
    assert [i["id"] for i in ratio_items(items)] == ["a", "b"]
    svg = forest_svg(items)
    assert svg.startswith("<svg ") and 'role="img"' in svg and "HR · a" in svg and "OR · b" in svg
    assert "log scale" in svg and ">0.5<" in svg and ">1<" in svg and ">2<" in svg  # plain labels, 1-2-5 steps
    assert forest_svg(items[2:]) is None


# ---- over HTTP ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(pages_server):
    with httpx.Client(base_url=pages_server, follow_redirects=False, timeout=30) as c:
        yield c


def test_search_redirects_a_fuzzy_name_to_the_marker_page_keeping_filters(client):
    r = client.get("/", params={"marker": "lactate dehydrogenase", "disease": "LBCL", "therapy": ""})
    assert r.status_code == 303 and r.headers["location"] == "/markers/ldh?disease=LBCL"
    r = client.get("/", params={"marker": "xylophone"})
    assert r.status_code == 404 and "no marker matches" in r.text


def test_marker_page_shows_every_item_as_a_card_grouped_by_disease(client, built_db):
    from kb.query import api

    expected = [e["id"] for e in api.evidence("ldh", db=built_db)["evidence"]]
    r = client.get("/markers/ldh")
    assert r.status_code == 200 and r.headers["content-security-policy"] == CSP
    cards = re.findall(r'<article class="card d-(\w+)" id="([^"]+)"', r.text)
    assert sorted(c[1] for c in cards) == sorted(expected)
    assert all(f'dir-{d}' in r.text for d, _ in cards)
    assert "<script>" not in r.text.split("</head>")[1]  # no inline scripts in the body
    filtered = client.get("/markers/ldh", params={"disease": "LBCL"})
    assert 0 < filtered.text.count('<article class="card') < len(expected)
    assert client.get("/markers/ldh", params={"direction": "sideways"}).status_code == 400
    assert client.get("/markers/LDH").headers["location"] == "/markers/ldh"


def test_document_page_marks_every_curated_span_exactly(client, built_db):
    from kb.core import store
    from kb.query.database import connect

    con = connect(built_db)
    links = [row for row in store.links(con) if row[1] == "xu2023.md"]
    text = con.execute("SELECT text FROM document WHERE id = 'xu2023.md'").fetchall()[0][0]
    con.close()
    r = client.get("/documents/xu2023.md")
    assert r.status_code == 200
    body = r.text.split('<div class="doc" id="text">', 1)[1].rsplit("</div>", 1)[0]
    parsed = _parse(body)
    assert "".join(parsed.text) == text
    for eid, _, start, end, quote in links:
        assert "".join(parsed.pieces[f"span-{start}-{end}"]) == quote
        assert f'href="/evidence/{eid}"' in body
    assert client.get("/documents/nope.md").status_code == 404


def test_evidence_page_and_unknown_ids(client):
    r = client.get("/evidence/xu2023-ldh-cr12-nastoupil")
    assert r.status_code == 200 and "/documents/xu2023.md#span-" in r.text
    r = client.get("/evidence/<b>x&amp;")
    assert r.status_code == 404 and "<b>x" not in r.text and "&lt;b&gt;x&amp;amp;" in r.text


def test_static_assets_are_a_fixed_list(client):
    assert client.get("/static/pages/style.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/pages/../../render.py").status_code == 404


# ---- the curator's endpoints ---------------------------------------------------------------------------

def test_curate_candidates_equal_the_cli_json(client, runner, built_db):
    import json

    from cli.main import app

    for source in (None, "shao2022"):
        args = ["curate", "candidates"] + ([source] if source else []) + ["--db", str(built_db), "--format", "json"]
        cli = json.loads(runner.invoke(app, args).stdout)
        r = client.get("/v1/curate/candidates", params={"source": source} if source else {})
        assert r.status_code == 200 and r.json() == cli
    r = client.get("/v1/curate/candidates", params={"source": "nope"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert "no source 'nope'" in r.json()["detail"]


ITEM = """id: xu2023-ldh-web-check
marker: ldh
evidence_type: prognostic
direction: unfavorable
context: clinical
disease: LBCL
therapy: axi-cel
outcome: progression-free and overall survival
level: B
statement: High LDH was related to shorter PFS and OS.
quotes:
  - "high LDH levels were related to shorter PFS and OS"
"""


def test_curate_validate_reports_like_the_cli_and_writes_nothing(client, seeds_dir):
    before = sorted((p.name, p.stat().st_mtime_ns) for p in (seeds_dir / "curation").iterdir())
    yaml = {"content-type": "application/yaml"}
    r = client.post("/v1/curate/validate", params={"source": "xu2023"}, content=ITEM, headers=yaml)
    assert r.status_code == 200 and r.json()["message"] == "ok: body: 1 evidence item, 1 link"
    bad = ITEM.replace("shorter PFS and OS\"", "longer PFS and OS\"")
    r = client.post("/v1/curate/validate", params={"source": "xu2023"}, content=bad, headers=yaml)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["detail"].startswith("body:12: evidence[0].quotes[0]: quote not found in any rendition of xu2023")
    (quote,) = body["problems"]
    assert (quote["file"], quote["line"], quote["field"]) == ("body", 12, "evidence[0].quotes[0]")
    assert "[-shorter-]{+longer+} PFS and OS" in quote["message"] and "[-shorter-]{+longer+}" in quote["closest"]["marked"]
    r = client.post("/v1/curate/validate", content=ITEM, headers=yaml)
    assert r.status_code == 422 and "source=ID" in r.json()["detail"]
    existing = ITEM.replace("xu2023-ldh-web-check", "xu2023-ldh-cr12-nastoupil")
    r = client.post("/v1/curate/validate", params={"source": "xu2023"}, content=existing, headers=yaml)
    assert r.status_code == 422 and "already exists" in r.json()["detail"]
    whole = (seeds_dir / "curation" / "shao2022.yaml").read_text(encoding="utf-8")
    r = client.post("/v1/curate/validate", content=whole, headers=yaml)
    assert r.status_code == 200 and r.json()["kind"] == "file"
    assert client.post("/v1/curate/validate", content=ITEM, headers={"content-type": "image/png"}).status_code == 415
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (seeds_dir / "curation").iterdir()) == before


def test_curate_validate_lists_every_problem_as_the_cli_reports_them(client, runner):
    """The same problems, lines and closest passage as `kb curate validate`; `detail` stays one line."""
    from pathlib import Path

    from cli.main import app

    draft = Path(__file__).resolve().parent.parent / "examples" / "bad" / "curation" / "draft.yaml"
    cli = runner.invoke(app, ["curate", "validate", str(draft)])
    assert cli.exit_code == 2
    r = client.post("/v1/curate/validate", params={"label": str(draft)}, content=draft.read_bytes(),
                    headers={"content-type": "application/yaml"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    printed = [line.removeprefix("kb: error: ") for line in cli.stderr.splitlines()[:-1]]  # the count line last
    assert "\n".join(p["message"] for p in body["problems"]) == "\n".join(printed)
    assert [(p["line"], p["field"]) for p in body["problems"]] == [(8, "evidence[0].context"), (12, "evidence[0].disease"),
                                                                    (21, "evidence[0].quotes[0]")]
    assert "\n" not in body["detail"] and body["detail"] == f"{printed[0]} (and 2 more problems: see `problems`)"
    closest = body["problems"][-1]["closest"]
    cited = client.get(f"/v1/documents/{closest['document_id']}", params={"start": closest["start"], "end": closest["end"]})
    assert cited.json()["document"]["text"] == closest["text"] and "31 patients" in closest["text"]
    # pasted items: lines are those of the body, not of the file they are wrapped in
    item = "\n".join(draft.read_text().split("  - ", 1)[1].splitlines()).replace("\n    ", "\n")
    r = client.post("/v1/curate/validate", params={"source": "shao2022"}, content=item,
                    headers={"content-type": "application/yaml"})
    assert [(p["line"], p["field"]) for p in r.json()["problems"]] == [(1, "evidence[0].context"), (5, "evidence[0].disease"),
                                                                        (14, "evidence[0].quotes[0]")]
    # the page's form shows the same problems, each on its line, the passage under its problem
    page = client.post("/curation", data={"yaml": item, "source": "shao2022"})
    assert page.status_code == 200 and 'class="problem lines"' in page.text
    shown = page.text.split('class="problem lines" role="alert">', 1)[1].split("</p>", 1)[0]
    assert [line.split(": ", 2)[1] for line in shown.splitlines() if line.startswith("pasted:")] == \
        ["evidence[0].context", "evidence[0].disease", "evidence[0].quotes[0]"]
    assert "Of the [-31-]{+32+} patients" in shown


def test_docs_is_the_vendored_swagger_ui(client):
    r = client.get("/docs")
    assert r.status_code == 200 and "/static/pages/swagger-ui/swagger-ui-bundle.js" in r.text
    assert "cdn" not in r.text.lower() and "unsafe-eval" not in r.headers["content-security-policy"]
    assert "<script>" not in r.text  # the initializer is an external script
    assert client.get("/static/pages/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert client.get("/redoc").status_code == 404


def test_patient_page_downloads_and_bad_records(client):
    from pathlib import Path

    record = (Path(__file__).resolve().parent.parent / "examples" / "B001.yaml").read_bytes()
    r = client.post("/patients", files={"record": ("B001.yaml", record, "application/yaml")})
    assert r.status_code == 200 and "Patient B001" in r.text and '<svg role="img"' in r.text
    assert r.text.index("For research use only") < r.text.index("Patient B001")
    md = client.post("/patients", data={"text": record.decode(), "download": "md"})
    assert md.headers["content-disposition"] == 'attachment; filename="B001.md"' and md.text.startswith("# Risk summary: B001")
    js = client.post("/patients", data={"text": record.decode(), "download": "json"})
    assert js.json()["patient"]["id"] == "B001" and js.json()["pam"]["call"] in ("CR", "NR")
    as_file = record.decode() + "model: /etc/passwd\n"  # a model names a knowledge-base model, never a server file
    refused = client.post("/patients", data={"text": as_file})
    assert 'class="problem"' in refused.text and "unknown PAM model" in refused.text and "root:" not in refused.text
    bad = client.post("/patients", data={"text": '{"id": "X", "disease": "<b>DLBCL</b>"}'})
    assert bad.status_code == 200 and 'class="problem"' in bad.text and "<b>DLBCL</b>" not in bad.text


def test_curation_page_lists_open_candidates_and_drafts_an_item_holding_the_exact_sentence(client, open_server):
    import html

    import yaml

    from kb.curate.candidates import candidates

    r = client.get("/curation", params={"source": "xu2023"})
    assert r.status_code == 200 and "draft an item" not in r.text  # the seeds cover or dismiss every sentence
    expected = candidates("xu2023", db=open_server.db)["candidates"]
    with httpx.Client(base_url=open_server.url, timeout=60) as other:
        page = other.get("/curation", params={"source": "xu2023"})
        assert page.status_code == 200 and page.text.count("draft an item") == len(expected) > 0
        c = expected[-1]
        r = other.get("/curation", params={"source": "xu2023", "draft": f"{c['document']}:{c['start']}"})
        assert r.status_code == 200
        draft = html.unescape(re.search(r'<pre class="yaml" id="draft-yaml">(.*?)</pre>', r.text, re.S).group(1))
        item = yaml.safe_load(draft)
        assert item["quotes"] == [c["sentence"]] and item["marker"] == c["marker_ids"][0]
        assert other.get("/curation", params={"source": "xu2023", "draft": "xu2023.md:1"}).status_code == 404
        checked = other.post("/curation", data={"yaml": draft, "source": "xu2023"})
        assert checked.status_code == 200 and 'class="problem lines"' in checked.text and "evidence_type" in checked.text


# ---- standard inputs on /patients ----------------------------------------------------------------------

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
_FINDING = re.compile(r'<article class="finding app-\w+" id="f-([^"]+)">\s*<p class="badges"><span class="verdict v-(\w+)"')


def _verdicts(html_text: str) -> dict[str, str]:
    return dict(_FINDING.findall(html_text))


def _without_label(where: str) -> str:
    return where.split(": ", 1)[1]  # kb evaluate names the path it read, the page the uploaded file's name


@pytest.mark.parametrize("path", ["examples/fhir/P002.cases.bundle.json", "tests/fixtures/fhir/P002.bundle.json",
                                  "tests/fixtures/phenopackets/P002.phenopacket.json", "examples/P001.json"])
def test_patient_page_reads_fhir_and_phenopackets_as_kb_evaluate_does(client, built_db, path):
    import html

    from kb.evaluate.evaluator import evaluate_path

    expected = evaluate_path(ROOT / path, db=built_db)[0][0]
    r = client.post("/patients", files={"record": (path.rsplit("/", 1)[-1], (ROOT / path).read_bytes(), "application/json")})
    assert r.status_code == 200 and f"Patient {expected['patient']['id']}" in r.text
    assert _verdicts(r.text) == {f["evidence_id"]: f["verdict"] for f in expected["findings"]}
    text = html.unescape(r.text)
    facts = expected["input"]
    if facts["format"] == "native":
        assert 'class="input-facts"' not in r.text
        return
    assert 'class="input-facts"' in r.text and f"<dd>{facts['format']}</dd>" in text
    for row in facts["unused"] + facts["conflicts"] + facts["superseded"]:
        assert _without_label(row["where"]) in text and row["why"] in text
    if "cases" in path:  # the fixture that holds unused resources and a code/display conflict
        assert facts["unused"] and facts["conflicts"]


def test_patient_page_reads_fhir_ndjson_uploaded_or_pasted(client, built_db, tmp_path):
    from kb.evaluate.evaluator import evaluate_path

    ndjson = tmp_path / "P002.ndjson"
    ndjson.write_text("".join(p.read_text() for p in sorted((ROOT / "tests/fixtures/fhir/bulk").glob("*.ndjson"))))
    expected = {f["evidence_id"]: f["verdict"] for f in evaluate_path(ndjson, db=built_db)[0][0]["findings"]}
    assert expected
    uploaded = client.post("/patients", files={"record": ("P002.ndjson", ndjson.read_bytes(), "application/x-ndjson")})
    pasted = client.post("/patients", data={"text": ndjson.read_text()})
    for r in (uploaded, pasted):
        assert r.status_code == 200 and "Patient P002" in r.text and "<dd>fhir</dd>" in r.text
        assert _verdicts(r.text) == expected


def test_bad_fhir_is_a_form_error_naming_the_fhirpath_location(client, built_db):
    import html

    from kb.core.errors import InputError
    from kb.evaluate.evaluator import evaluate_path

    bad = ROOT / "examples" / "bad" / "fhir-bad-value.json"
    with pytest.raises(InputError) as cli:
        evaluate_path(bad, db=built_db)
    r = client.post("/patients", files={"record": ("fhir-bad-value.json", bad.read_bytes(), "application/fhir+json")})
    assert r.status_code == 200 and 'class="problem" role="alert"' in r.text and 'class="patient-form"' in r.text
    shown = html.unescape(re.search(r'<p class="problem" role="alert">(.*?)</p>', r.text, re.S).group(1))
    assert shown == "fhir-bad-value.json: " + _without_label(str(cli.value))
    assert "Bundle.entry[3].resource.valueQuantity.value" in shown
    lone = (ROOT / "tests/fixtures/fhir/bulk/Observation.ndjson").read_text().splitlines()[0]  # no Condition: no disease
    r = client.post("/patients", files={"record": ("obs.json", lone.encode(), "application/fhir+json")})
    assert 'class="problem"' in r.text and "disease: expected a condition" in html.unescape(r.text)


def test_pam_validation_sentence_on_the_model_page_and_the_patient_panel(client, built_db):
    from kb.pam.model import load_published, validation_statement
    from kb.query.database import connect

    con = connect(built_db)
    sentence = validation_statement(load_published(con))
    con.close()
    assert sentence == ("The 14-gene model comes from 31 patients and was validated by leave-one-out CV only, "
                        "with no external validation.")
    assert f'<p class="statement-box validation">{sentence}</p>' in client.get("/pam").text
    record = (ROOT / "examples" / "B001.yaml").read_bytes()
    r = client.post("/patients", files={"record": ("B001.yaml", record, "application/yaml")})
    panel = r.text.split('<section aria-labelledby="pam-h" class="pam">', 1)[1]
    assert f'<p class="statement-box validation">{sentence}</p>' in panel.split("</section>", 1)[0]


def test_patient_layer_puts_the_points_where_the_whole_figure_does():
    from kb.figures.pam import patient_layer_svg, profile_svg

    genes, sd = ["A", "B", "C"], [0.5, 0.4, 0.3]
    centroids = {"CR": [0.1, -0.2, 0.3], "NR": [-0.1, 0.2, -0.3]}
    values = {"A": 0.4, "C": -0.5}
    points = re.findall(r'<use xlink:href="#[^"]+" x="([\d.]+)" y="([\d.]+)"',
                        patient_layer_svg(genes, centroids, sd, values, 2.5, "p"))
    whole = profile_svg(genes, centroids, sd, values, "p", limit=2.5)
    assert len(points) == 2 and all(f'x="{x}" y="{y}"' in whole for x, y in points)


def test_marker_header_shows_its_codes_and_never_an_absent_one_as_a_value(client, built_db):
    from kb.query import api

    markers = {m["id"]: m for m in api.markers(db=built_db)["markers"]}
    for mid in ("crp", "calcium", "ldh", "cd81-expression"):
        m = markers[mid]
        head = client.get(f"/markers/{mid}").text.split('<header class="marker">', 1)[1].split("</header>", 1)[0]
        loinc = [c for c in m["codes"] if c["system"] == "LOINC"]
        hgnc = [c for c in m["codes"] if c["system"] == "HGNC"]
        for c in loinc:
            assert f'<a href="https://loinc.org/{c["code"]}/" rel="noreferrer"><code>{c["code"]}</code></a>' + (
                " (primary)" if c["primary"] else "") in head
        assert ("no LOINC code recorded" in head) == (not loinc)
        for c in hgnc:
            assert f'<code>{c["code"]}</code>' in head
        if m["hgnc_symbol"]:
            assert f'<code>{m["hgnc_symbol"]}</code>' in head
        assert ("(no HGNC id recorded)" in head) == bool(m["hgnc_symbol"] and not hgnc)
        assert ("no gene recorded" in head) == (not m["hgnc_symbol"] and not hgnc)
    assert len([c for c in markers["calcium"]["codes"] if c["system"] == "LOINC"]) == 2  # an alternative code is shown


def test_evidence_cards_show_the_cited_primary_study_with_only_the_fields_it_has(client, built_db):
    import html

    from kb.query import api

    page = client.get("/markers/ldh").text
    items = api.evidence("ldh", db=built_db)["evidence"]
    works = [w for e in items for w in e["cited_works"]]
    assert any(w["doi"] for w in works) and any(w["in_text"] and not w["doi"] for w in works)  # both cases are tested
    for e in items:
        card = page.split(f'id="{e["id"]}"', 1)[1].split("</article>", 1)[0]
        cited = card.split('<ul class="cited">', 1)[1].split("</ul>", 1)[0] if e["cited_works"] else ""
        assert bool(cited) == bool(e["cited_works"])
        text = html.unescape(cited)
        for w in e["cited_works"]:
            assert f"ref. {w['number']}" in text
            for field in ("title", "journal", "authors"):
                if w[field]:
                    assert w[field] in text
            if w["doi"]:
                assert f'doi <a href="https://doi.org/{w["doi"]}" rel="noreferrer">{w["doi"]}</a>' in text
            if w["pmid"]:
                assert f'https://pubmed.ncbi.nlm.nih.gov/{w["pmid"]}/' in text
        if not any(w["doi"] for w in e["cited_works"]):
            assert "doi" not in cited
        if not any(w["pmid"] for w in e["cited_works"]):
            assert "PMID" not in cited
        assert "None" not in card and "none" not in cited.lower()


# ---- hostile text in every page ---------------------------------------------------------------------

OSC8 = "\x1b]8;;http://x\x07"
NASTY = f"<script>alert(1)</script>{OSC8}link{OSC8[:-1]}\x1b\\ \x1b[31mred\x07\x08\x0b\x0c\x7f\x85\x9b\u202e\u2028</b><p>$\\frac{{a}}{{b}}$"


def _clean(html_text: str) -> None:
    """No raw control character, and none of NASTY's markup unescaped."""
    assert not _RAW_CONTROL.search(html_text), repr(_RAW_CONTROL.findall(html_text)[:5])
    assert "<script>alert" not in html_text and "</b><p>" not in html_text
    assert "\r" not in html_text.replace("\r\n", "")


def test_uploaded_record_with_markup_and_control_characters_is_shown_escaped(client):
    import base64
    import html
    import json

    import yaml

    from kb.core.escape import printable

    record = yaml.safe_load((ROOT / "examples" / "B001.yaml").read_text())
    record["id"] = NASTY
    body = json.dumps(record)
    r = client.post("/patients", files={"record": (f"<i>{OSC8}.json", body.encode(), "application/json")})
    assert r.status_code == 200 and "Patient " in r.text and '<svg role="img"' in r.text  # the PAM panel is drawn
    _clean(r.text)
    assert html.escape(printable(NASTY), quote=False) in r.text  # the id, visibly escaped: \x1b]8;;http://x\x07 ...
    assert "\\x1b]8;;http://x\\x07" in r.text and "\\u202e" in r.text
    b64 = re.search(r'name="record_b64" value="([^"]+)"', r.text).group(1)
    assert json.loads(base64.b64decode(b64))["id"] == NASTY  # the download posts back the exact record
    for fmt in ("json", "md"):
        got = client.post("/patients", data={"record_b64": b64, "name": "x.json", "label": "x.json", "download": fmt})
        assert got.status_code == 200 and not _RAW_CONTROL.search(got.text)
    assert json.loads(client.post("/patients", data={"record_b64": b64, "name": "x.json", "download": "json"}).text)["patient"]["id"] == NASTY
    record["disease"] = NASTY  # an error message echoes it
    bad = client.post("/patients", data={"text": json.dumps(record)})
    assert 'class="problem"' in bad.text
    _clean(bad.text)


def test_every_page_escapes_hostile_text_in_its_inputs(client):
    from urllib.parse import quote

    path = quote(NASTY, safe="")
    pages = [client.get("/", params={"marker": NASTY}), client.get("/markers/ldh", params={"disease": NASTY}),
             client.get("/markers/ldh", params={"direction": NASTY}), client.get(f"/evidence/{path}"),
             client.get(f"/documents/{path}"), client.get("/curation", params={"source": NASTY}),
             client.get("/curation", params={"draft": NASTY}), client.get("/pam", params={"model": NASTY}),
             client.post("/curation", data={"yaml": f"id: {json_quote(NASTY)}\nmarker: ldh\n", "source": "xu2023"}),
             client.post("/curation", data={"yaml": "[" + NASTY, "source": "xu2023"})]
    for r in pages:
        assert r.status_code in (200, 400, 404), r.status_code
        _clean(r.text)


def json_quote(text: str) -> str:
    import json

    return json.dumps(text)


def test_one_evaluator_per_database_each_thread_on_its_own_cursor(built_db):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from web.database import Database

    db = Database(str(built_db))
    barrier = threading.Barrier(4)

    def work(_):
        barrier.wait(timeout=30)  # four threads at once
        return id(db.evaluator(None)), id(db.shared.execute("SELECT 1")), threading.get_ident()

    try:
        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(work, range(4)))
        assert len({g[0] for g in got}) == 1  # one Evaluator, shared
        assert len({g[2] for g in got}) == 4 and len({g[1] for g in got}) == 4  # a cursor per thread
    finally:
        db.close()


def test_concurrent_patient_requests_give_the_answers_of_one_request(pages_server):
    from concurrent.futures import ThreadPoolExecutor

    b001 = (ROOT / "examples" / "B001.yaml").read_bytes()
    p001 = (ROOT / "examples" / "P001.json").read_bytes()

    def page(_):
        with httpx.Client(base_url=pages_server, timeout=60) as c:
            return _verdicts(c.post("/patients", files={"record": ("B001.yaml", b001, "application/yaml")}).text)

    def api(_):
        with httpx.Client(base_url=pages_server, timeout=60) as c:
            return c.post("/v1/evaluate", content=p001, headers={"content-type": "application/json"}).json()

    alone = page(0), api(0)
    with ThreadPoolExecutor(6) as pool:  # pages and API calls at once, on the server's shared Evaluator
        futures = [(i % 2, pool.submit(page if i % 2 else api, i)) for i in range(24)]
        answers = [(kind, f.result()) for kind, f in futures]
    assert alone[0] and all(got == alone[0] for kind, got in answers if kind)
    assert all(got == alone[1] for kind, got in answers if not kind)


def test_a_record_near_the_size_limit_can_be_evaluated_and_downloaded(client):
    import base64
    import json

    import yaml

    record = yaml.safe_load((ROOT / "examples" / "B001.yaml").read_text())
    record["expression"]["genes"].update({f"G{i}": 1.0 for i in range(60_000)})  # genes the model ignores
    text = json.dumps(record)
    assert 800_000 < len(text) < 2_000_000  # its base64 is beyond a form field's default 1 MB
    r = client.post("/patients", data={"text": text})
    assert r.status_code == 200 and "Patient B001" in r.text
    b64 = re.search(r'name="record_b64" value="([^"]+)"', r.text).group(1)
    assert base64.b64decode(b64).decode() == text
    got = client.post("/patients", files={"none": ("", b"")}, data={"record_b64": b64, "download": "json"})
    assert got.status_code == 200 and got.json()["patient"]["id"] == "B001"


def test_a_trained_model_file_shows_its_cv_curve_and_bad_files_a_message(client, tmp_path, runner):
    import html
    import json

    from cli.main import app

    pamr = ROOT / "tests" / "fixtures" / "pamr"
    out = tmp_path / "m.json"
    trained = runner.invoke(app, ["pam", "train", str(pamr / "syn2_x.csv"), str(pamr / "syn2_y.csv"), "--out",
                                  str(out), "--format", "json"])
    assert trained.exit_code == 0, trained.output
    training = json.loads(out.read_text())["training"]
    r = client.post("/pam", files={"model_file": ("syn2 <model>.json", out.read_bytes(), "application/json")})
    assert r.status_code == 200
    text = html.unescape(r.text)
    assert "From the model file <code>syn2 <model>.json</code>, read in memory and not stored" in text
    assert "syn2 &lt;model&gt;.json" in r.text  # the file name is escaped
    curve = r.text.split("<h3>Cross-validation curve</h3>", 1)[1]
    assert '<svg role="img" aria-label="Cross-validated misclassification error' in curve.split("<table", 1)[0]
    rows = curve.split("<tbody>", 1)[1].split("</tbody>", 1)[0].count("<tr>")
    assert rows == len(training["thresholds"]) > 1
    assert "number of genes" in curve  # the genes kept, on the plot's top axis
    for bad, words in [(b"{not json", "bad.json: line 1 column 2: expected JSON; got invalid JSON"),
                       (b"[" * 100_000, "nested too deeply"),
                       (json.dumps({"format": "biomarker-kb PAM model"}).encode(), "bad.json"),
                       (b"\xff\xfe", "got binary data")]:
        r = client.post("/pam", files={"model_file": ("bad.json", bad, "application/json")})
        assert r.status_code == 200 and 'class="problem"' in r.text, r.text[:300]
        assert words in html.unescape(r.text)
        assert "Genes and shrunken centroids" in r.text  # the published model's page, with the message
    r = client.post("/pam", data={"x": "1"})
    assert "model_file: expected a model file written by kb pam train" in html.unescape(r.text)
