"""JSON Lines: the one reader of the line-per-object files captioner writes (caption records, training metrics), and
the line writer of caption records."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

from captioner.errors import CaptionerError

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def read_text(path: str | os.PathLike, what: str = "file") -> str:
    """The UTF-8 text of ``path``; unreadable or undecodable files are one ``CaptionerError`` naming the file."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise CaptionerError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise CaptionerError(f"{path}: cannot read {what} ({e.strerror or e})") from None


def iter_jsonl(text: str, source: str | os.PathLike) -> Iterator[tuple[int, object]]:
    """``(line number, value)`` for every non-blank line of ``text``; a line that is not JSON is an error."""
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as e:
            raise CaptionerError(f"{source}:{n}: not JSON ({e.msg})") from None


def complete_lines(data: bytes) -> tuple[bytes, bool]:
    """``data`` without a cut-off last line (a run killed mid-write), and whether one was cut."""
    if not data or data.endswith(b"\n"):
        return data, False
    return data[: data.rfind(b"\n") + 1], True


def json_line(value: object) -> str:
    """``value`` as one JSON Lines line, valid UTF-8 whatever its strings hold.

    Non-ASCII characters are written as they are (readable), except lone surrogates (how ``os.fsdecode`` spells the
    bytes of a file name that is not UTF-8), which no UTF-8 file can hold: they become ``\\udcXX`` escapes, which
    ``json.loads`` reads back as the same characters.
    """
    text = json.dumps(value, ensure_ascii=False)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"
