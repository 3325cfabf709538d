"""Text rules shared by every metadata field: what XML can carry, IPTC byte limits, legacy byte decoding, file names.

Captions come from a model and keywords from users, so anything may arrive: control characters, lone surrogates,
characters XML 1.0 forbids. Each field gets a form it can hold, and comparisons use that same form, so a re-run
recognises its own earlier value in every field.
"""

from __future__ import annotations

import os
import re

# XML 1.0 allows tab, LF, CR and everything from U+0020 except surrogates and U+FFFE/U+FFFF; DEL is dropped too
# (exiv2's XMP toolkit turns it into a space, so the fields would disagree).
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
IPTC_CAPTION_BYTES = 2000  # IIM 2:120 Caption-Abstract
IPTC_KEYWORD_BYTES = 64  # IIM 2:25 Keywords


def clean(text: str) -> str:
    """``text`` as every field can hold it: XML-forbidden characters dropped, line ends as ``\\n``."""
    return _XML_FORBIDDEN.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def truncate_utf8(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 encoding fits in ``limit`` bytes (never splits a character)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def decode_legacy(raw: bytes) -> str:
    """Bytes from an EXIF ASCII or unmarked IPTC field: UTF-8 when valid (MWG), else Windows-1252 / Latin-1."""
    raw = raw.rstrip(b"\x00")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            return raw.decode("latin-1")


def is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def same(a: str | None, b: str | None) -> bool:
    """Two field values say the same thing (surrounding white space aside)."""
    return (a or "").strip() == (b or "").strip()


def display(path: str | os.PathLike) -> str:
    """``path`` printable on any terminal: undecodable bytes of the file name shown as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def one_line(text: str) -> str:
    """A library's error message as one line."""
    return " ".join(str(text).split()) or "unknown error"
