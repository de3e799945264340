"""The project's user-error types, kept apart from bugs.

Anything a user can fix (a missing file, a bad option, a corrupt input, an unusable checkpoint)
raises a subclass of `UserError`; the CLI entry point turns exactly these into one line
`dnd: error: ...` and exit code 2, and lets every other exception (a bug) keep its traceback.
The concrete types live next to the code that raises them (DataFileError, InputError,
CheckpointError, ...) and also derive from the builtin type callers already catch.
"""

from __future__ import annotations


class UserError(Exception):
    """Base of every error the user can fix; its message names the file, row or option."""


class UsageError(UserError, ValueError):
    """A command-line option or config value is unusable (wrong type, unknown name, conflict)."""


class UnknownNameError(UsageError, KeyError):
    """An unknown task / target / preset name (also a KeyError for callers that look names up)."""

    __str__ = Exception.__str__  # KeyError would quote the whole message
