"""The one exception type the library raises for problems a user can fix, and the exit codes of the CLI."""

from __future__ import annotations

import enum


class CaptionerError(Exception):
    """A user-facing error: bad input, a missing file, an incompatible checkpoint.

    The CLI prints it as a one-line ``Error: ...`` and exits with status 1; anything else is a bug.
    """


class ExitCode(enum.IntEnum):
    """Exit statuses of every ``captioner`` command."""

    OK = 0  # everything asked for was done
    FAILED = 1  # an error, or some files of a batch failed (the rest were done)
    USAGE = 2  # bad options or arguments (Click's own status for usage errors)
    INTERRUPTED = 130  # Ctrl-C or SIGTERM: what was done is saved; run again with --resume to continue (128 + SIGINT)


EXIT_CODES_HELP = (
    "Exit status: 0 done; 1 an error, or some files failed (the rest were done); 2 usage error; "
    "130 interrupted (what was done is saved; --resume continues)."
)
