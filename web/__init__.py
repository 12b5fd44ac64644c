"""The HTTP skin: a FastAPI app (`web.app.create_app`) served by uvicorn through `kb serve`.

Like `cli/`, it is thin: each route parses the request, calls one function of `kb/` (the same one whose
JSON the CLI prints) and returns its body. May import: `kb`, `schemas`. Nothing below imports it.
"""
