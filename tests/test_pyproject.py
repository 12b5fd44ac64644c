"""Dependencies are pinned to tested ranges: every requirement is closed above."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _requirements() -> list[str]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    return project["dependencies"] + [r for group in project["optional-dependencies"].values() for r in group]


def test_every_requirement_has_a_lower_and_an_upper_bound():
    reqs = _requirements()
    assert len(reqs) > 20
    for req in reqs:
        spec = req.split(";")[0]
        assert re.search(r">=\s*\d", spec) and re.search(r"<\s*\d", spec), f"{req!r}: expected a range >=A,<B"
