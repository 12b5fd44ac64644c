"""Validate one YAML seed file against its pydantic model, reporting `file:line: field: problem`."""
from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ingest import yamlpos
from kb.core.errors import CurationError, Problem, field_path

M = TypeVar("M", bound=BaseModel)


class Located:
    """A parsed file with the line of every value, for error messages that point at the right line.

    `problems`: None (the build) raises the first problem reported; a list (`kb curate validate`) collects
    every problem and lets the checks go on."""

    def __init__(self, path: Path, display: str, problems: list[Problem] | None = None):
        self.path = path
        self.display = display
        self.problems = problems
        self.data, self.lines = yamlpos.load(path, display)

    @property
    def collecting(self) -> bool:
        return self.problems is not None

    def line(self, *loc: Any) -> int:
        return yamlpos.line_of(self.lines, tuple(loc))

    def problem(self, loc: tuple[Any, ...], problem: str, detail: tuple[str, ...] = (), passage: dict | None = None) -> Problem:
        return Problem(self.display, self.line(*loc), field_path(loc), problem, detail, passage)

    def error(self, loc: tuple[Any, ...], problem: str) -> CurationError:
        where = self.problem(loc, problem)
        return CurationError.at(where.file, where.line, where.field, where.problem)

    def report(self, loc: tuple[Any, ...], problem: str, detail: tuple[str, ...] = (), passage: dict | None = None) -> None:
        """Raise the problem (the build), or record it and return (a validation that reports every problem)."""
        if self.problems is None:
            raise self.error(loc, problem)
        self.problems.append(self.problem(loc, problem, detail, passage))

    def parse(self, model: type[M]) -> M:
        if not isinstance(self.data, dict):
            raise CurationError.at(self.display, 1, "file", "expected a YAML mapping at the top level")
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            error = yamlpos.validation_error(self.display, self.lines, exc, data=self.data)
        raise error  # outside the except block, so the pydantic error and its frames are not kept as context

    def validation_problems(self, exc: ValidationError) -> list[Problem]:
        return yamlpos.validation_problems(self.display, self.lines, exc, data=self.data)
