"""`kb curate add-paper`: register a new paper text in a seeds directory, ready for curation.

Three steps, all checked before any is taken, and undone if a later one fails:
1. copy the text, byte for byte, to ``<seeds>/papers/<id><ext>`` (it must be UTF-8; the build slices quotes
   out of the decoded text, so another encoding would be an error later anyway);
2. append the source and its document (path, original_name, sha256, format) to ``<seeds>/sources.yaml`` as
   text, so the curators' comments and layout survive;
3. create ``<seeds>/curation/<id>.yaml`` with ``evidence: []``.

Bibliographic fields come from the caller only; a field not given stays empty (never guessed).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ingest.manifest import document_id
from ingest.seedfiles import CURATION_DIR, MANIFEST, PAPERS_DIR
from kb.core.errors import InputError
from kb.core.escape import clip
from kb.core.safeparse import ParseProblem, yaml_load
from schemas.curation import SLUG, SourceIn
from schemas.enums import DOCUMENT_FORMATS, SOURCE_KINDS

EXTENSIONS = {"pdf-text": ".pdf.txt", "markdown": ".md", "text": ".txt"}
DEFAULT_CURATOR = "biomarker-kb curation team"


@dataclass
class Bibliography:
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    journal: str | None = None
    year: int | None = None
    doi: str | None = None
    pmid: str | None = None
    license: str | None = None
    note: str | None = None


@dataclass
class Added:
    source_id: str
    paper: Path  # relative to the seeds directory
    curation: Path  # relative to the seeds directory
    sha256: str
    n_chars: int
    format: str
    kind: str


def default_seeds(explicit: Path | None, cwd: Path | None = None) -> Path:
    """--seeds if given, else ./seeds when it holds a sources.yaml; never the installed package's copy."""
    if explicit is not None:
        if not (explicit / MANIFEST).is_file():
            raise InputError(f"--seeds: {explicit} has no {MANIFEST}; expected a seeds directory")
        return explicit
    here = cwd / "seeds" if cwd is not None else Path("seeds")
    if (here / MANIFEST).is_file():
        return here
    raise InputError(f"no seeds directory here (./seeds/{MANIFEST} does not exist); pass --seeds DIR")


def seeds_of_file(file: Path, explicit: Path | None = None, cwd: Path | None = None) -> Path:
    """The seeds a curation file is checked against: --seeds, else the seeds whose curation/ holds it,
    else ./seeds, else the bundled seeds."""
    if explicit is not None:
        return explicit
    parent = file.resolve().parent
    if parent.name == CURATION_DIR and (parent.parent / MANIFEST).is_file():
        return parent.parent
    here = (cwd or Path.cwd()) / "seeds"
    if (here / MANIFEST).is_file():
        return here
    from kb.core.paths import bundled_seeds

    return bundled_seeds()


def guess_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".pdf.txt"):
        return "pdf-text"
    if name.endswith((".md", ".markdown")):
        return "markdown"
    return "text"


def add_paper(path: Path, source_id: str, seeds: Path, fmt: str | None = None, kind: str = "primary study",
              bib: Bibliography | None = None, curator: str = DEFAULT_CURATOR,
              today: dt.date | None = None) -> Added:
    """Copy the paper into `seeds`, append its source to the manifest, create its empty curation file."""
    bib = bib or Bibliography()
    fmt = fmt or guess_format(path)
    if fmt not in DOCUMENT_FORMATS:
        raise InputError(f"--format: expected one of {', '.join(DOCUMENT_FORMATS)}, got {fmt!r}")
    if kind not in SOURCE_KINDS:
        raise InputError(f"--kind: expected one of {', '.join(SOURCE_KINDS)}, got {kind!r}")
    if not SLUG.match(source_id):
        raise InputError(f"--id: expected a lower-case slug (letters, digits, '.', '_', '-'), got {source_id!r}")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                         "convert it to UTF-8 first (e.g. iconv -f latin1 -t utf-8)") from None
    if not text.strip():
        raise InputError(f"{path}: the file is empty")
    if "\x00" in text:
        raise InputError(f"{path}: contains NUL bytes at offset {text.index(chr(0))}; expected the paper as text "
                         "(a binary file is not a rendition)")

    manifest = seeds / MANIFEST
    manifest_text = manifest.read_text(encoding="utf-8")
    existing = _manifest_data(manifest_text, MANIFEST)
    sources = existing.get("sources") or []
    if any(s.get("id") == source_id for s in sources):
        raise InputError(f"{MANIFEST}: a source with id {source_id!r} exists already; choose another --id")
    rel_paper = Path(PAPERS_DIR) / f"{source_id}{EXTENSIONS[fmt]}"
    rel_curation = Path(CURATION_DIR) / f"{source_id}.yaml"
    doc_ids = {document_id(d.get("path", "")) for s in sources for d in (s.get("documents") or [])}
    for rel in (rel_paper, rel_curation):
        if (seeds / rel).exists():
            raise InputError(f"{seeds / rel} exists already; refusing to overwrite it")
    if document_id(rel_paper.as_posix()) in doc_ids:
        raise InputError(f"a document with id {document_id(rel_paper.as_posix())!r} is in {MANIFEST} already")

    sha = hashlib.sha256(data).hexdigest()
    entry = _entry(source_id, kind, bib, rel_paper.as_posix(), path.name, sha, fmt, _indent(manifest_text))
    _validate_entry(entry)  # the new entry is valid before anything is written
    curation_text = (f"source: {source_id}\ncurator: {_scalar(curator)}\n"
                     f"curated_at: {(today or dt.date.today()).isoformat()}\nevidence: []\n")

    written: list[Path] = []
    appended = False
    try:
        (seeds / PAPERS_DIR).mkdir(exist_ok=True)
        (seeds / CURATION_DIR).mkdir(exist_ok=True)
        shutil.copyfile(path, seeds / rel_paper)
        written.append(seeds / rel_paper)
        with (seeds / rel_curation).open("x", encoding="utf-8") as fh:
            fh.write(curation_text)
        written.append(seeds / rel_curation)
        separator = "" if manifest_text.endswith("\n") or not manifest_text else "\n"
        appended = True
        manifest.write_text(manifest_text + separator + entry, encoding="utf-8")
        after = _manifest_data(manifest.read_text(encoding="utf-8"), MANIFEST).get("sources") or []
        if len(after) != len(sources) + 1 or after[-1].get("id") != source_id:
            raise InputError(f"{MANIFEST}: the sources list is not the last thing in the file; "
                             "appending a source there would not add it (left unchanged)")
    except BaseException:
        if appended:
            manifest.write_text(manifest_text, encoding="utf-8")
        for p in written:
            p.unlink(missing_ok=True)
        raise
    return Added(source_id, rel_paper, rel_curation, sha, len(text), fmt, kind)


def _manifest_data(text: str, name: str) -> dict:
    try:
        data = yaml_load(text) or {}
    except ParseProblem as exc:
        raise InputError(f"{name}:{exc.line}: yaml: {exc.problem}") from None
    if not isinstance(data, dict):
        raise InputError(f"{name}:1: file: expected a YAML mapping with a sources list")
    return data


_OPTIONS = {"year": "--year", "title": "--title", "doi": "--doi", "pmid": "--pmid", "journal": "--journal",
            "authors": "--author", "license": "--license", "note": "--note", "id": "--id"}


def _validate_entry(entry: str) -> None:
    """The new manifest entry against SourceIn; a bad option is one line naming it (never a ValidationError)."""
    from pydantic import ValidationError

    try:
        SourceIn.model_validate(yaml_load(entry)[0])
        return
    except ValidationError as exc:
        err = exc.errors()[0]
    field = str(err["loc"][0]) if err["loc"] else "entry"
    raise InputError(f"{_OPTIONS.get(field, field)}: {err['msg'].removeprefix('Value error, ')}, got {clip(err.get('input'))}")


def _indent(manifest_text: str) -> str:
    """The indentation of the existing source entries ('  ' for '  - id: ...')."""
    m = re.search(r"^([ \t]*)- id:", manifest_text, re.MULTILINE)
    return m.group(1) if m else "  "


def _scalar(value) -> str:
    """A YAML scalar on one line ('' for None): plain when safe, quoted otherwise."""
    if value is None:
        return ""
    dumped = yaml.safe_dump(value, allow_unicode=True, width=10**9, default_flow_style=True)
    dumped = dumped.removesuffix("\n").removesuffix("\n...")
    return dumped.strip()


def _entry(source_id: str, kind: str, bib: Bibliography, paper: str, original: str, sha: str, fmt: str,
           indent: str) -> str:
    item = indent + "  "
    fields = [
        ("title", bib.title), ("authors", bib.authors), ("journal", bib.journal), ("year", bib.year),
        ("doi", bib.doi), ("pmid", bib.pmid), ("kind", kind), ("license", bib.license), ("note", bib.note),
    ]
    lines = [f"{indent}- id: {_scalar(source_id)}"]
    lines += [f"{item}{key}: {_scalar(value)}".rstrip() for key, value in fields]
    lines += [f"{item}documents:", f"{item}  - path: {_scalar(paper)}", f"{item}    original_name: {_scalar(original)}",
              f"{item}    sha256: {sha}", f"{item}    format: {fmt}"]
    return "\n".join(lines) + "\n"
