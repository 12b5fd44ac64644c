"""Where the bundled seeds and the default database live."""
from __future__ import annotations

import os
from pathlib import Path


def bundled_seeds() -> Path:
    """The seeds directory shipped inside the package (the repo's seeds/ in a development install)."""
    import seeds

    return Path(seeds.__file__).resolve().parent


def default_db() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "biomarker-kb" / "kb.duckdb"


def resolve_db(explicit: str | os.PathLike | None) -> tuple[Path, bool]:
    """The database path to use and whether it is the managed default (built and refreshed on demand)."""
    if explicit:
        return Path(explicit).expanduser(), False
    env = os.environ.get("KB_DB")
    if env:
        return Path(env).expanduser(), False
    return default_db(), True
