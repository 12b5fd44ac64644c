"""Which model a command uses: a model file (`kb pam train` wrote it) or a knowledge-base model id."""
from __future__ import annotations

from pathlib import Path

from kb.pam.model import PamModel, describe, load_published
from kb.pam.model_file import load_model_file


def open_model(spec: str | None = None, *, con=None, db=None, files: bool = True) -> tuple[PamModel, dict | None]:
    """(model, kb_version): a model file when ``spec`` names a file or ends in .json, else a knowledge-base
    model id (None: the default published model). kb_version is None for a model file.

    ``files=False`` (the HTTP API): ``spec`` is a knowledge-base model id and nothing else; the file system
    is never looked at, so a request can neither read a file on the server nor learn whether one exists."""
    if files and spec is not None and (Path(spec).is_file() or str(spec).lower().endswith(".json")):
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


def show(spec: str | None = None, *, con=None, db=None, files: bool = True) -> dict:
    """The `kb pam show` payload of a model id or model file."""
    model, version = open_model(spec, con=con, db=db, files=files)
    return {"kb_version": version, **describe(model)}


def models(*, con) -> dict:
    """The knowledge base's models, by id: id, name, kind, source, marker, classes and genes."""
    from kb.core import store

    listed = []
    for row in store.pam_models(con):
        model = load_published(con, row["id"])
        listed.append({"id": model.id, "name": model.name, "kind": model.kind, "source": model.source,
                       "marker_id": model.marker_id, "classes": list(model.classes), "n_genes": model.n_genes,
                       "genes": list(model.genes)})
    return {"kb_version": store.kb_version(con), "models": listed}


def genes_payload(spec=None, *, db=None) -> dict:
    """The `kb pam genes [MODEL]` payload: a model file's or a knowledge-base model's genes, ranked."""
    from kb.pam.genes import model_genes

    model, version = open_model(spec, db=db)
    ranked, reference = model_genes(model)
    return {"kb_version": version,
            "model": {"id": model.id, "name": model.name, "kind": model.kind, "classes": list(model.classes),
                      "n_genes": model.n_genes, "threshold": model.threshold,
                      "validation_statement": model.validation_statement},
            "scores_from": reference, "genes": [g.as_dict() for g in ranked]}
