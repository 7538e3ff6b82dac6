"""Errors that reach the user as one line, never as a traceback."""


class UserError(Exception):
    """Bad input or environment the user can fix (missing file, busy camera, bad setting).

    The CLI prints ``error: <message>`` and exits with :attr:`exit_code`."""

    exit_code = 2


class SourceError(UserError):
    """A frame source cannot be opened or decoded."""


class LogError(UserError):
    """The alert log cannot be opened or written."""
