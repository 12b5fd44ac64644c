"""YAML loading that remembers the line of every value, so errors can say `file:line: field: problem`."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kb.core.errors import CurationError, Problem, field_path
from kb.core.safeparse import ParseProblem, compose
from kb.core.escape import clip

Path_ = tuple[Any, ...]


def load(path: Path, display: str | None = None) -> tuple[Any, dict[Path_, int]]:
    """Parse a YAML file into plain Python objects and a map from key path to 1-based line number."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CurationError.at(name, 1, "file", f"expected UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise CurationError(f"{name}: cannot read: {exc.strerror}") from None
    if "\x00" in text:
        raise CurationError.at(name, 1, "file", "expected YAML text; got a NUL byte") from None
    lines: dict[Path_, int] = {}
    try:
        # hostile shapes (alias bombs, cycles, deep nesting, complex keys) are refused while composing
        with compose(text) as (loader, node):
            data = _walk(loader, node, (), lines, name) if node is not None else None
    except ParseProblem as exc:
        raise CurationError.at(name, exc.line, "yaml", exc.problem) from None
    except (yaml.YAMLError, ValueError) as exc:  # a constructor's own refusal (e.g. an over-long integer)
        raise CurationError.at(name, 1, "yaml", f"invalid value: {clip(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)}") from None
    return data, lines


def _walk(loader, node: yaml.Node, path: Path_, lines: dict[Path_, int], name: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in out:
                raise CurationError.at(name, key_node.start_mark.line + 1, clip(key), "duplicate key")
            out[key] = _walk(loader, value_node, path + (key,), lines, name)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(loader, item, path + (i,), lines, name) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def line_of(lines: dict[Path_, int], loc: Path_) -> int:
    """The line of the deepest known prefix of `loc` (pydantic locations may go deeper than the YAML)."""
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return 1


def validation_error(display: str, lines: dict[Path_, int], exc: Any, prefix: Path_ = (), data: Any = None) -> CurationError:
    """The first pydantic error as one `file:line: field: problem` message."""
    first = validation_problems(display, lines, exc, prefix, data)[0]
    return CurationError.at(first.file, first.line, first.field, first.problem)


def validation_problems(display: str, lines: dict[Path_, int], exc: Any, prefix: Path_ = (), data: Any = None) -> list[Problem]:
    """Every pydantic error as a Problem, in pydantic's order. Where a value may take one of several forms
    (a quote is a string or {text, occurrence}), the form the value has speaks: the other forms' "expected
    a string" errors are dropped, and the union's member names are dropped from the path."""
    errors = [(_real_loc(prefix + tuple(err["loc"]), data, prefix), err) for err in exc.errors()]
    # errors under one union, keyed by where the union sits: type mismatches there are noise when another
    # member has a real complaint
    substantive = {union for (_, union), err in errors if union is not None and not err["type"].endswith("_type")}
    out: list[Problem] = []
    seen: set[tuple] = set()
    for (loc, union), err in errors:
        if union is not None and union in substantive and err["type"].endswith("_type"):
            continue
        key = (loc, union if union is not None and union not in substantive else None)
        if key in seen:
            continue
        seen.add(key)
        msg = err["msg"].removeprefix("Value error, ")
        if union is not None and union not in substantive:  # no member fits: say what each expects
            msg = " or ".join(dict.fromkeys(e["msg"].lower() for (l, u), e in errors if u == union))
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "literal_error":
            msg = f"unknown value {clip(err.get('input'))}; {msg.lower()}"
        out.append(Problem(display, line_of(lines, loc), field_path(loc), msg))
    return out


def _real_loc(loc: Path_, data: Any, prefix: Path_) -> tuple[Path_, Path_ | None]:
    """`loc` without pydantic's union-member tags, found by walking the data (a tag is a step the data does
    not have), and the location of the first union passed (None: no union on the way)."""
    if data is None:
        return tuple(p for p in loc if isinstance(p, int) or not _looks_like_tag(p)), None
    out: list = []
    union = None
    node = data
    for i, part in enumerate(loc):
        if i < len(prefix):
            out.append(part)
            continue
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            out.append(part)
        elif isinstance(node, dict) and part in node:
            node = node[part]
            out.append(part)
        elif isinstance(node, dict) and i == len(loc) - 1:  # a missing field (or a tag-free leaf)
            out.append(part)
        elif isinstance(part, str) and (_looks_like_tag(part) or not isinstance(node, dict) or i < len(loc) - 1):
            if union is None:
                union = tuple(out)
        else:
            out.append(part)
    return tuple(out), union


def _looks_like_tag(part) -> bool:
    return isinstance(part, str) and ("[" in part or part[:1].isupper())
