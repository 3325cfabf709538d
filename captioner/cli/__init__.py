"""The command line: a thin Click layer over the library (it is the top floor: nothing in the library imports it).

Heavy imports happen inside the commands, so ``--help`` is instant.
"""

from captioner.cli import caption, score, tools, train  # noqa: F401  (registers the commands)
from captioner.cli.app import main

__all__ = ["main"]
