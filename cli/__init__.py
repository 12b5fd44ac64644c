"""The `kb` command: thin typer wrappers over the library in `kb/` and `ingest/`."""
