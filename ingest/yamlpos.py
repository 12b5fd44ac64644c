"""YAML loading that remembers the line of every value, so errors can say `file:line: field: problem`."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kb.core.errors import CurationError
from kb.core.safeparse import ParseProblem, compose
from kb.core.escape import clip

Path_ = tuple[Any, ...]


def load(path: Path, display: str | None = None) -> tuple[Any, dict[Path_, int]]:
    """Parse a YAML file into plain Python objects and a map from key path to 1-based line number."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CurationError(f"{name}:1: file: expected UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise CurationError(f"{name}: cannot read: {exc.strerror}") from None
    if "\x00" in text:
        raise CurationError(f"{name}:1: file: expected YAML text; got a NUL byte") from None
    lines: dict[Path_, int] = {}
    try:
        # hostile shapes (alias bombs, cycles, deep nesting, complex keys) are refused while composing
        with compose(text) as (loader, node):
            data = _walk(loader, node, (), lines, name) if node is not None else None
    except ParseProblem as exc:
        raise CurationError(f"{name}:{exc.line}: yaml: {exc.problem}") from None
    except (yaml.YAMLError, ValueError) as exc:  # a constructor's own refusal (e.g. an over-long integer)
        raise CurationError(f"{name}:1: yaml: invalid value: {clip(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)}") from None
    return data, lines


def _walk(loader, node: yaml.Node, path: Path_, lines: dict[Path_, int], name: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in out:
                raise CurationError(f"{name}:{key_node.start_mark.line + 1}: {clip(key)}: duplicate key")
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


def validation_error(display: str, lines: dict[Path_, int], exc: Any, prefix: Path_ = ()) -> CurationError:
    """Turn the first pydantic error into one `file:line: field: problem` message."""
    err = exc.errors()[0]
    loc = prefix + tuple(err["loc"])
    line = line_of(lines, loc)
    field = ".".join(str(p) for p in loc if not isinstance(p, int)) or "file"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        msg = "required field is missing"
    elif err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] == "literal_error":
        msg = f"unknown value {clip(err.get('input'))}; {msg.lower()}"
    return CurationError(f"{display}:{line}: {field}: {msg}")
