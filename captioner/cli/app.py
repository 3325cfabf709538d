"""The ``captioner`` command group: turns the library's ``CaptionerError`` into one-line errors and exit codes."""

from __future__ import annotations

import sys

import click

from captioner import __version__
from captioner.errors import EXIT_CODES_HELP, CaptionerError


class _Group(click.Group):
    """Turns the library's ``CaptionerError`` into Click's one-line ``Error: ...`` with exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CaptionerError as e:
            raise click.ClickException(str(e)) from None


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    epilog=EXIT_CODES_HELP,
)
@click.version_option(__version__, prog_name="captioner")
def main() -> None:
    """Caption photos with a CNN encoder and an attention LSTM decoder.

    Example:

    \b
        captioner caption photo.jpg
    """


def progress_enabled(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()
