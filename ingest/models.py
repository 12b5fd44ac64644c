"""Validate one YAML seed file against its pydantic model, reporting `file:line: field: problem`."""
from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ingest import yamlpos
from kb.core.errors import CurationError

M = TypeVar("M", bound=BaseModel)


class Located:
    """A parsed file with the line of every value, for error messages that point at the right line."""

    def __init__(self, path: Path, display: str):
        self.path = path
        self.display = display
        self.data, self.lines = yamlpos.load(path, display)

    def line(self, *loc: Any) -> int:
        return yamlpos.line_of(self.lines, tuple(loc))

    def error(self, loc: tuple[Any, ...], problem: str) -> CurationError:
        field = ".".join(str(p) for p in loc if not isinstance(p, int)) or "file"
        return CurationError(f"{self.display}:{self.line(*loc)}: {field}: {problem}")

    def parse(self, model: type[M]) -> M:
        if not isinstance(self.data, dict):
            raise CurationError(f"{self.display}:1: file: expected a YAML mapping at the top level")
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            error = yamlpos.validation_error(self.display, self.lines, exc)
        raise error  # outside the except block, so the pydantic error and its frames are not kept as context
