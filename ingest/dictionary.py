"""The marker dictionary (markers/*.yaml) and the controlled vocabularies (vocabulary.yaml)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ingest.models import Located
from ingest.seedfiles import MARKERS_DIR, VOCABULARY
from kb.core.normalize import norm
from schemas.curation import MarkerFile, VocabularyFile
from schemas.tables import Marker, MarkerAlias, Term, TermAlias


@dataclass
class Dictionary:
    markers: list[Marker] = field(default_factory=list)
    aliases: list[MarkerAlias] = field(default_factory=list)
    terms: list[Term] = field(default_factory=list)
    term_aliases: list[TermAlias] = field(default_factory=list)

    def marker_ids(self) -> set[str]:
        return {m.id for m in self.markers}

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
    for path in sorted((seeds / MARKERS_DIR).glob("*.yaml")):
        display = f"{MARKERS_DIR}/{path.name}"
        located = Located(path, display)
        parsed = located.parse(MarkerFile)
        for mi, m in enumerate(parsed.markers):
            if m.id in dictionary.marker_ids():
                raise located.error(("markers", mi, "id"), f"duplicate marker id {m.id!r}")
            dictionary.markers.append(Marker(**m.model_dump(exclude={"aliases"})))
            spellings = dict.fromkeys([m.name, m.id, *m.aliases])
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
                dictionary.aliases.append(MarkerAlias(marker_id=m.id, alias=spelling, norm=key))


def load_vocabulary(seeds: Path, dictionary: Dictionary) -> None:
    located = Located(seeds / VOCABULARY, VOCABULARY)
    vocab = located.parse(VocabularyFile)
    groups = {
        "disease": [(d.name, d.aliases, dict(full_name=d.full_name, parent=d.parent, doid=d.doid)) for d in vocab.diseases],
        "therapy": [(t.name, t.aliases, dict(full_name=t.full_name, therapy_class=t.class_)) for t in vocab.therapies],
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
                    dictionary.term_aliases.append(TermAlias(vocabulary=vocabulary, norm=key, name=name))
    diseases = set(dictionary.term_names("disease"))
    for i, d in enumerate(vocab.diseases):
        if d.parent is not None and d.parent not in diseases:
            raise located.error(("diseases", i, "parent"), f"unknown parent disease {d.parent!r}")
