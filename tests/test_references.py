"""Reference lists -> cited works: entries found and numbered, fields read as printed and never invented."""
from __future__ import annotations

import pytest

from ingest import references
from kb.core.paths import bundled_seeds

PAPERS = bundled_seeds() / "papers"


def _entries(name: str, start: str, end: str | None = None):
    text = (PAPERS / name).read_text(encoding="utf-8")
    lo = text.index(start)
    hi = text.index(end) if end else len(text)
    return text, references.entries(text, lo, hi)


@pytest.mark.parametrize("name, start, end, style, numbers", [
    ("shao2022.md", "## References", "## Acknowledgements", "nature", list(range(1, 34))),
    ("xu2023.md", "## References", None, "vancouver", list(range(1, 105))),
    ("blina-ball-2021.pdf.txt", "Subklewe M. Increase of PD-L1", None, "vancouver", [6, 7]),
])
def test_every_entry_is_found_and_read_from_its_own_text(name, start, end, style, numbers):
    text, found = _entries(name, start, end)
    assert [e.number for e in found] == numbers
    for entry in found:
        cleaned = references.clean(entry.raw(text), name.endswith(".pdf.txt"))
        parsed = references.parse(cleaned, style, entry.partial)
        assert references.check_fields(parsed, cleaned) is None, entry.number  # every field is a piece of its entry
        assert parsed.title and parsed.journal and parsed.year, entry.number
        assert entry.partial or parsed.authors, entry.number


def test_fields_as_printed():
    text, found = _entries("xu2023.md", "## References")
    by_number = {e.number: references.parse(references.clean(e.raw(text), False), "vancouver", e.partial) for e in found}
    nastoupil = by_number[53]
    assert nastoupil.authors == "Nastoupil LJ, Jain MD, Feng L, Spiegel JY, Ghobadi A, Lin Y, et al."
    assert nastoupil.short_authors == "Nastoupil et al."
    assert (nastoupil.journal, nastoupil.year, nastoupil.volume, nastoupil.issue, nastoupil.pages, nastoupil.doi) == \
        ("J Clin Oncol", 2020, "38", "27", "3119–28", "10.1200/JCO.19.02104")
    assert by_number[57].volume is None and by_number[57].pages is None  # the entry prints neither
    assert by_number[101].doi is None  # nor a DOI
    text, found = _entries("shao2022.md", "## References", "## Acknowledgements")
    nature = {e.number: references.parse(references.clean(e.raw(text), False), "nature", False) for e in found}
    assert (nature[1].authors, nature[1].journal, nature[1].volume, nature[1].pages, nature[1].year) == \
        ("Raje, N. et al.", "N. Engl. J. Med.", "380", "1726–1737", 2019)
    assert (nature[17].year, nature[17].volume, nature[17].pages) == (2012, "16", "284–287")  # '**2012**, 16:284–287'
    assert nature[16].short_authors == "Haas Bueno and Recamonde-Mendoza"


def test_an_interrupted_entry_has_two_spans_and_a_whole_title():
    text, found = _entries("xu2023.md", "## References")
    (twenty,) = [e for e in found if e.number == 20]
    assert len(twenty.pieces) == 2
    assert "## Funding" in text[twenty.pieces[0][1]:twenty.pieces[1][0]]  # the sections in between are not its text
    parsed = references.parse(references.clean(twenty.raw(text), False), "vancouver", False)
    assert parsed.title == ("Programmed death-1 and its ligand are novel immunotolerant molecules expressed on "
                            "leukemic b cells in chronic lymphocytic leukemia")


def test_a_truncated_list_starts_with_a_partial_entry():
    text, found = _entries("blina-ball-2021.pdf.txt", "Subklewe M. Increase of PD-L1")
    six, seven = found
    assert six.partial and not six.printed and seven.printed
    parsed = references.parse(references.clean(six.raw(text), True), "vancouver", True)
    assert parsed.authors is None  # its author list began before the text does
    # a word split at a line end is joined in PDF text: "an-\ntibody" -> "antibody"
    assert parsed.title.endswith("bispecific T cell engager antibody blinatumomab")


@pytest.mark.parametrize("lines, message", [
    ("1. A B. T. *J* (2000) 1:1.\n3. C D. T. *J* (2001) 2:2.\n", "not numbered in sequence: 1 is followed by 3"),
    ("- A B. T. *J* (2000) 1:1.\n- C D. T. *J* (2001) 2:2.\n2. E F. T. *J* (2002) 3:3.\n", "their numbers would be below 1"),
])
def test_a_list_out_of_sequence_is_refused(lines, message):
    with pytest.raises(references.ReferenceListError, match=message):
        references.entries(lines, 0, len(lines))


def test_an_unlisted_bullet_continues_its_entry():
    text = "1. A B. First part\n\n## Funding\n\nSome money.\n\n- (+) second part. *J* (2000) 1:1.\n2. C D. T. *J* (2001) 2:2.\n"
    found = references.entries(text, 0, len(text))
    assert [e.number for e in found] == [1, 2] and len(found[0].pieces) == 2
    assert found[0].raw(text) == "1. A B. First part (+) second part. *J* (2000) 1:1."
