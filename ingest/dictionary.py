"""The marker dictionary (markers/*.yaml) and the controlled vocabularies (vocabulary.yaml)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ingest.models import Located
from ingest.seedfiles import MARKERS_DIR, VOCABULARY
from kb.core.normalize import norm
from schemas.curation import MarkerFile, VocabularyFile
import json

from schemas.tables import Marker, MarkerAlias, MarkerCode, Term, TermAlias


EXACT_ONLY_LENGTH = 3  # normalised characters: 'LD', 'DS', 'CRS' are too short to be fuzzy targets


@dataclass
class Dictionary:
    markers: list[Marker] = field(default_factory=list)
    aliases: list[MarkerAlias] = field(default_factory=list)
    codes: list[MarkerCode] = field(default_factory=list)
    terms: list[Term] = field(default_factory=list)
    term_aliases: list[TermAlias] = field(default_factory=list)

    def marker_ids(self) -> set[str]:
        return {m.id for m in self.markers}

    @property
    def marker_units(self) -> dict[str, str | None]:
        return {m.id: m.unit for m in self.markers}

    def term(self, vocabulary: str, spelling: str) -> Term | None:
        key = norm(spelling)
        for alias in self.term_aliases:
            if alias.vocabulary == vocabulary and alias.norm == key:
                return next(t for t in self.terms if t.vocabulary == vocabulary and t.name == alias.name)
        return None

    def term_names(self, vocabulary: str) -> list[str]:
        return [t.name for t in self.terms if t.vocabulary == vocabulary]


def load_markers(seeds: Path, dictionary: Dictionary) -> None:
    owner: dict[str, tuple[str, str]] = {}  # normalized spelling -> (marker id, file:line)
    loinc_owner: dict[str, tuple[str, str]] = {}  # LOINC code -> (marker id, file): one quantity, one marker
    for path in sorted((seeds / MARKERS_DIR).glob("*.yaml")):
        display = f"{MARKERS_DIR}/{path.name}"
        located = Located(path, display)
        parsed = located.parse(MarkerFile)
        for mi, m in enumerate(parsed.markers):
            if m.id in dictionary.marker_ids():
                raise located.error(("markers", mi, "id"), f"duplicate marker id {m.id!r}")
            dictionary.markers.append(Marker(**m.model_dump(exclude={"aliases", "loinc_alt", "exact_aliases"})))
            for i, code in enumerate([m.loinc, *m.loinc_alt] if m.loinc else []):
                if code in loinc_owner and loinc_owner[code][0] != m.id:
                    raise located.error(("markers", mi, "loinc" if i == 0 else "loinc_alt"),
                                        f"LOINC {code} of {m.id!r} is also a code of {loinc_owner[code][0]!r} ({loinc_owner[code][1]})")
                loinc_owner[code] = (m.id, display)
                dictionary.codes.append(MarkerCode(system="LOINC", code=code, marker_id=m.id, primary_code=i == 0))
            if m.hgnc_id:  # several markers may concern one gene (CD19 mutation, CD19 expression, ...)
                dictionary.codes.append(MarkerCode(system="HGNC", code=m.hgnc_id, marker_id=m.id, primary_code=True))
            exact = {norm(a) for a in m.exact_aliases}
            spellings = dict.fromkeys([m.name, m.id, *m.aliases, *m.exact_aliases])
            for ai, spelling in enumerate(spellings):
                key = norm(spelling)
                where = f"{display}:{located.line('markers', mi, 'aliases', max(ai - 2, 0))}"
                if not key:
                    raise located.error(("markers", mi, "aliases"), f"alias {spelling!r} has no letters or digits")
                if key in owner and owner[key][0] != m.id:
                    other, other_where = owner[key]
                    raise located.error(("markers", mi, "aliases"),
                                        f"alias {spelling!r} of {m.id!r} is also a spelling of {other!r} ({other_where})")
                owner[key] = (m.id, where)
                dictionary.aliases.append(MarkerAlias(marker_id=m.id, alias=spelling, norm=key,
                                                      exact_only=key in exact or len(key) <= EXACT_ONLY_LENGTH))


def load_vocabulary(seeds: Path, dictionary: Dictionary) -> None:
    located = Located(seeds / VOCABULARY, VOCABULARY)
    vocab = located.parse(VocabularyFile)
    groups = {
        "disease": [(d.name, d.aliases, dict(full_name=d.full_name, parent=(d.parents or [None])[0],
                                             parents=json.dumps(d.parents), doid=d.doid, ncit=d.ncit,
                                             icd10=json.dumps(d.icd10), snomed=d.snomed)) for d in vocab.diseases],
        "therapy": [(t.name, t.aliases, dict(full_name=t.full_name, therapy_class=t.class_,
                                             rxnorm=json.dumps(t.rxnorm), ncit=t.ncit))
                    for t in vocab.therapies],
        "timepoint": [(t.name, t.aliases, dict(phase=t.phase)) for t in vocab.timepoints],
    }
    section = {"disease": "diseases", "therapy": "therapies", "timepoint": "timepoints"}
    for vocabulary, entries in groups.items():
        owner: dict[str, str] = {}
        names: set[str] = set()
        for i, (name, aliases, extra) in enumerate(entries):
            if name in names:
                raise located.error((section[vocabulary], i, "name"), f"duplicate {vocabulary} {name!r}")
            names.add(name)
            dictionary.terms.append(Term(vocabulary=vocabulary, name=name, **extra))
            for spelling in dict.fromkeys([name, *aliases]):
                key = norm(spelling)
                if key in owner and owner[key] != name:
                    raise located.error((section[vocabulary], i, "aliases"),
                                        f"{spelling!r} names both {owner[key]!r} and {name!r}")
                if key not in owner:
                    owner[key] = name
                    dictionary.term_aliases.append(TermAlias(vocabulary=vocabulary, norm=key, name=name, alias=spelling))
    diseases = set(dictionary.term_names("disease"))
    code_owner: dict[str, str] = {}
    parents = {d.name: d.parents for d in vocab.diseases}
    for i, d in enumerate(vocab.diseases):
        for parent in d.parents:
            if parent not in diseases:
                raise located.error(("diseases", i, "parent"), f"unknown parent disease {parent!r}")
        cycle = _cycle(d.name, parents)
        if cycle:  # every line of ancestors must end at a root, or ancestry (and applicability) never ends
            raise located.error(("diseases", i, "parent"), f"the disease hierarchy has a cycle: {' -> '.join(cycle)}")
        for field_name, codes in (("doid", [d.doid]), ("ncit", [d.ncit]), ("icd10", d.icd10), ("snomed", [d.snomed])):
            for code in filter(None, codes):
                if code in code_owner:
                    raise located.error(("diseases", i, field_name), f"{code} names both {code_owner[code]!r} and {d.name!r}")
                code_owner[code] = d.name


def _cycle(start: str, parents: dict[str, list[str]]) -> list[str] | None:
    """A path start -> ... -> start through the parent links, or None (depth-first, each term once)."""
    stack, done = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for parent in parents.get(node, []):
            if parent == start:
                return path + [parent]
            if parent not in done:
                done.add(parent)
                stack.append((parent, path + [parent]))
    return None
