"""The HTTP skin of biomarker-kb: the /v1 API and the server-rendered pages (`kb serve`). Imports kb, never the reverse."""
