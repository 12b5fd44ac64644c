"""Quote -> span resolution: tolerant of extraction damage, exact in what it returns."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from ingest.spans import find, fold
from kb.core.paths import bundled_seeds

PAPERS = bundled_seeds() / "papers"
PDF = (PAPERS / "shao2022.pdf.txt").read_text(encoding="utf-8")
MD = (PAPERS / "shao2022.md").read_text(encoding="utf-8")
CASES = (PAPERS / "cart19-ball-cases.pdf.txt").read_text(encoding="utf-8")


def locate(quote: str, text: str):
    span = find(quote, fold(text), text)
    assert span is not None, quote
    return span, text[span.start:span.end]


def test_whitespace_runs_and_line_breaks():
    span, stored = locate("We found that the accuracy, sensitivity, and specificity of this model is 90.3%", PDF)
    assert "model \nis 90.3%" in stored  # the document's own line break is what is stored
    assert stored.startswith("We found") and stored.endswith("90.3%")


def test_hyphenation_across_line_breaks():
    span, stored = locate("Long-term and discontinuous increases in serum cytokines", CASES)
    assert "discontin-\nuous" in stored


def test_markup_in_one_rendition_only():
    _, pdf = locate("hematological tumors1–3. Multiple clinical trials", PDF)
    _, md = locate("hematological tumors1–3. Multiple clinical trials", MD)
    assert "<sup>1–3</sup>" in md and "tumors1–3" in pdf


def test_nonbreaking_hyphens_match_plain_hyphens():
    _, stored = locate("a 14-gene signature was identified as a remission-marker", PDF)
    assert stored == "a 14\u2011gene signature was identified as a remission\u2011marker"


def test_page_furniture_inside_a_sentence_is_skipped():
    quote = "we also saw that CR patient bone marrows are enriched in gene expression profiles involved in early memory cell differentiation"
    span, stored = locate(quote, PDF)
    assert span.gaps == 1 and "Table 1." in stored  # the flattened table sits inside the stored span


def test_altered_words_are_not_found():
    assert find("We found that the accuracy of this model is 95.3%", fold(PDF), PDF) is None
    assert find("a 14-gene signature was identified as a relapse-marker", fold(PDF), PDF) is None


def test_gap_must_be_whole_lines():
    # Dropping words inside one line is an edit, not furniture: refused.
    quote = "We found that the accuracy, sensitivity, and specificity is 90.3%, 100%, and 66.7%, respectively."
    assert find(quote, fold(MD), MD) is None


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=len(MD) - 200), st.integers(min_value=40, max_value=200))
def test_any_slice_resolves_to_an_equivalent_span(start, length):
    # Cut at whitespace, as a curator selecting words does (a cut through '<sup>' is not a quote).
    start = start + len(MD[start:]) - len(MD[start:].lstrip()) if MD[start - 1:start].isspace() else MD.find(" ", start) + 1
    end = MD.rfind(" ", start, start + length)
    piece = MD[start:end]
    if len(fold(piece).text) < 16:
        return
    span = find(piece, fold(MD), MD)
    assert span is not None
    assert fold(MD[span.start:span.end]).text == fold(piece).text
