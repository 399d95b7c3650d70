"""Errors users see: each carries a message that is meant to be printed as it is."""


class KBError(Exception):
    """Base class; the CLI prints ``str(err)`` and exits with ``exit_code``."""

    exit_code = 1


class UsageError(KBError):
    exit_code = 2


class EmptyIndexError(UsageError):
    """Asked of an index that holds nothing yet (a briefing pack): the API answers 409."""


class UnknownIdError(UsageError):
    """An id (a document named in a filter) that the index does not hold: the API answers 404."""


class ExtractionError(KBError):
    """A file could not be read; the message is the one-line reason shown to the user."""


class ModelMismatchError(KBError):
    """The index was built with another embedding model."""

    exit_code = 3


class IndexMissingError(KBError):
    exit_code = 4


class IndexBusyError(KBError):
    """Another writer holds the index lock."""

    exit_code = 5


class NotPermittedError(KBError):
    """The system refuses what was asked: a folder this user cannot write, a port in use."""

    exit_code = 6


class IndexReadOnlyError(NotPermittedError):
    """The index (or the folder for a new one) cannot be written by this user."""
