"""Which model a command uses: a model file (`kb pam train` wrote it) or a knowledge-base model id."""
from __future__ import annotations

from pathlib import Path

from kb.pam.model import PamModel, describe, load_published
from kb.pam.model_file import load_model_file


def open_model(spec: str | None = None, *, con=None, db=None) -> tuple[PamModel, dict | None]:
    """(model, kb_version): a model file when ``spec`` names a file or ends in .json, else a knowledge-base
    model id (None: the default published model). kb_version is None for a model file."""
    if spec is not None and (Path(spec).is_file() or str(spec).lower().endswith(".json")):
        return load_model_file(spec), None
    from kb.core import store
    from kb.query.database import connect

    own = con is None
    con = connect(db) if own else con
    try:
        return load_published(con, spec), store.kb_version(con)
    finally:
        if own:
            con.close()


def show(spec: str | None = None, *, db=None) -> dict:
    """The `kb pam show` payload of a model id or model file."""
    model, version = open_model(spec, db=db)
    return {"kb_version": version, **describe(model)}
