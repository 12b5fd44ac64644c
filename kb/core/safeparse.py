"""Parsing untrusted text: YAML and JSON whose shape cannot be the attack.

Every YAML file the project reads (patient records, seeds, curation files, the manifest) is composed by
`compose`, and every JSON input by `json_loads`. What they refuse, each with a `ParseProblem` carrying
the line and what was expected:

- alias bombs: aliases are resolved to shared nodes, and the size the document would have once every
  alias is expanded is computed with one memo entry per node, so a 1 KB billion-laughs file is refused
  in microseconds instead of being expanded (MAX_NODES);
- self-referencing anchors (`x: &a [*a]`) and nesting deeper than MAX_DEPTH (no RecursionError later);
- complex keys (`? [a, b]: 1`): only scalar keys are data;
- timestamps are not resolved (`2026-02-30` stays a string, which the schema then checks as a date, so
  an impossible date is a validation message, not a ValueError from the constructor);
- JSON `NaN`, `Infinity`, numbers that overflow to infinity and integers too long to convert.
"""
from __future__ import annotations

import json
import math
from contextlib import contextmanager
from typing import Any, Iterator

import yaml

from kb.core.errors import InputError

MAX_DEPTH = 100
MAX_NODES = 1_000_000  # the expanded document; the largest seed file has about 20,000

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser is ~10x faster, same marks


class Loader(_Base):  # type: ignore[misc, valid-type]
    """The safe loader without implicit timestamps (dates stay text for the schema to check)."""


Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _Base.yaml_implicit_resolvers.items()
}


class ParseProblem(InputError):
    """Text that cannot be read as data; `line` (1-based) and `problem` let callers format their message."""

    def __init__(self, line: int, problem: str):
        super().__init__(f"line {line}: {problem}")
        self.line, self.problem = line, problem


@contextmanager
def compose(text: str) -> Iterator[tuple[Loader, yaml.Node | None]]:
    """The checked node graph of one YAML document, with the loader that constructs its scalars."""
    loader = Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise ParseProblem(mark.line + 1 if mark else 1,
                               "invalid YAML: " + (exc.problem or exc.context or "syntax error").strip()) from None
        except yaml.YAMLError as exc:
            raise ParseProblem(1, f"invalid YAML: {str(exc).splitlines()[0] if str(exc) else 'syntax error'}") from None
        if node is not None:
            check_nodes(node)
        yield loader, node
    finally:
        loader.dispose()


def yaml_load(text: str) -> Any:
    """Plain Python objects of a YAML document (aliases become shared objects, never copies)."""
    with compose(text) as (loader, node):
        if node is None:
            return None
        try:
            return loader.construct_document(node)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise ParseProblem(mark.line + 1 if mark else 1, f"invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
        except ValueError as exc:  # a constructor's own check (e.g. an int too long to convert)
            raise ParseProblem(node.start_mark.line + 1, f"invalid value: {str(exc)[:80]}") from None


def check_nodes(root: yaml.Node) -> None:
    """Refuse cycles, complex keys, nesting deeper than MAX_DEPTH and an expanded size above MAX_NODES."""
    memo: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)
    open_: set[int] = set()

    def visit(node: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in memo:
            size, height = memo[key]
        elif key in open_:
            raise ParseProblem(node.start_mark.line + 1, "an alias refers to its own anchor (a recursive structure); "
                                                         "expected a tree")
        elif isinstance(node, yaml.ScalarNode):
            size, height = 1, 0
        else:
            if depth > MAX_DEPTH:
                raise ParseProblem(node.start_mark.line + 1, f"nested deeper than {MAX_DEPTH} levels")
            open_.add(key)
            size, height = 1, 0
            if isinstance(node, yaml.MappingNode):
                children = []
                for k, v in node.value:
                    if not isinstance(k, yaml.ScalarNode):
                        raise ParseProblem(k.start_mark.line + 1, "a complex mapping key (a list or mapping used as "
                                                                  "a key); expected a plain key")
                    children.append(v)
                size += len(node.value)
            else:
                children = node.value
            for child in children:
                s, h = visit(child, depth + 1)
                size, height = size + s, max(height, h + 1)
                if size > MAX_NODES:
                    raise ParseProblem(node.start_mark.line + 1, f"more than {MAX_NODES:,} values once its aliases "
                                                                 "are expanded (an alias bomb?)")
            open_.discard(key)
            memo[key] = (size, height)
        if depth + height > MAX_DEPTH + 1:
            raise ParseProblem(node.start_mark.line + 1, f"nested deeper than {MAX_DEPTH} levels")
        return size, height

    visit(root, 0)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number; expected a finite number")


def json_loads(text: str, keep_out_of_range: bool = False) -> Any:
    """`json.loads`, refusing NaN, Infinity, 1e400 (read as infinity) and over-long integers or nesting.

    `keep_out_of_range`: NaN, Infinity and 1e400 are kept as `schemas.numbers.OutOfRange` instead, for a
    reader that checks every number itself and names its place in the document (FHIR, Phenopacket)."""
    from schemas.numbers import OutOfRange

    def finite_float(s: str) -> float:
        value = float(s)
        if not math.isfinite(value):
            if keep_out_of_range:
                return OutOfRange(s)  # type: ignore[return-value]
            raise ValueError(f"{s[:40]} is out of range; expected a finite number")
        return value

    constant = OutOfRange if keep_out_of_range else _refuse_constant
    try:
        return json.loads(text, parse_constant=constant, parse_float=finite_float)
    except json.JSONDecodeError as exc:
        raise ParseProblem(exc.lineno, f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise ParseProblem(1, "invalid JSON: nested too deeply") from None
    except ValueError as exc:  # from the hooks, or an integer with more than 4300 digits
        raise ParseProblem(1, f"invalid JSON: {str(exc)[:120]}") from None
