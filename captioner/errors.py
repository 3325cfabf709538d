"""The one exception type the library raises for problems a user can fix."""


class CaptionerError(Exception):
    """A user-facing error: bad input, a missing file, an incompatible checkpoint.

    The CLI prints it as a one-line ``Error: ...`` and exits with status 1; anything else is a bug.
    """
