"""How paths are spelled in records, messages and outputs.

Two spellings, because a file name on Linux is bytes and need not be valid UTF-8:

- ``record_path``: lossless, for records (what ``--resume``, ``merge`` and ``score --predictions`` read back). A name
  that is valid UTF-8 stays as it is; each byte that is not becomes a surrogate escape (U+DC80..U+DCFF), as
  ``os.fsdecode`` does, so ``os.fsencode(record_path(p)) == os.fsencode(p)``. How each output format writes these
  characters is in ``captioner.photos.records``.
- ``display_path``: printable anywhere, for messages: such bytes show as ``\\xNN``.
"""

from __future__ import annotations

import os


def record_path(path: str | os.PathLike) -> str:
    """``path`` as records spell it: its exact bytes, undecodable ones as surrogate escapes (``os.fsdecode``)."""
    return os.fsdecode(path)


def display_path(path: str | os.PathLike) -> str:
    """A printable form of ``path``: undecodable bytes in file names show as ``\\xNN`` instead of crashing output."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")
