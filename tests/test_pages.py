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
    assert "10^{0}" in svg or ">10<" in svg or "log scale" in svg
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
