"""Library exceptions; the CLI maps each to a one-line message and exit code 2."""


class KBError(Exception):
    """Base class of every error the library raises on purpose."""


class InputError(KBError, ValueError):
    """The caller's data is not what was expected; the message says what and where."""


class CurationError(InputError):
    """A seed or curation file is invalid: the message is `file:line: field: problem`."""


class StoreError(KBError):
    """The database cannot be opened or written (locked, missing directory, corrupt)."""


class NotFound(KBError):
    """Nothing matched (an unknown marker, evidence id or model): exit code 1."""
