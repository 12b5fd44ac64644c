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


def test_paper_text_is_escaped_and_keeps_every_character():
    html = str(paper(HOSTILE))
    assert "<script>" not in html and "<p>" not in html and "</b>" not in html
    assert 'data-cp="U+0007"' in html and 'data-cp="U+001B"' in html
    assert "".join(_parse(html).text) == HOSTILE


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
    assert "".join(parsed.text) == text
    for s in ordered:
        assert "".join(parsed.pieces[s.key]) == text[s.start:s.end]
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
