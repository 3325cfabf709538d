"""How paths are spelled in records, messages and outputs."""

from __future__ import annotations

import os


def display_path(path: str | os.PathLike) -> str:
    """A printable form of ``path``: undecodable bytes in file names show as ``\\xNN`` instead of crashing output."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")
