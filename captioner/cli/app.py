"""The ``captioner`` command group: turns the library's ``CaptionerError`` into one-line errors and exit codes."""

from __future__ import annotations

import os
import sys

import click

from captioner import __version__
from captioner.errors import EXIT_CODES_HELP, CaptionerError

DEBUG_ENV = "CAPTIONER_DEBUG"  # set to 1 (or pass --debug anywhere on the command line) to see tracebacks


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


class _Group(click.Group):
    """Turns the library's ``CaptionerError`` into Click's one-line ``Error: ...`` with exit status 1, and any other
    exception (a bug) into one line too, unless debugging (``--debug`` or ``CAPTIONER_DEBUG=1``)."""

    def main(self, args=None, *rest, **kwargs):
        args = list(sys.argv[1:] if args is None else args)
        cut = args.index("--") if "--" in args else len(args)
        if "--debug" in args[:cut]:  # accepted anywhere before "--": captioner caption x.jpg --debug
            args = [a for a in args[:cut] if a != "--debug"] + args[cut:]
            os.environ[DEBUG_ENV] = "1"
        return super().main(args, *rest, **kwargs)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CaptionerError as e:
            raise click.ClickException(str(e)) from None
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:  # noqa: BLE001  a bug: one line for the user, the traceback only when debugging
            if debugging():
                raise
            command = ctx.invoked_subcommand or ctx.info_name
            message = " ".join(str(e).split())[:300] or "(no message)"
            raise click.ClickException(
                f"internal error in {command}: {type(e).__name__}: {message} (run with --debug for the traceback)"
            ) from None


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    epilog=EXIT_CODES_HELP,
)
@click.version_option(__version__, prog_name="captioner")
def main() -> None:
    """Caption photos with a CNN encoder and an attention LSTM decoder.

    Add --debug anywhere (or set CAPTIONER_DEBUG=1) to see the traceback of an internal error.

    Example:

    \b
        captioner caption photo.jpg
    """


def progress_enabled(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()
