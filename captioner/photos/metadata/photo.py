"""Opening a photo for metadata work: follow a symlink, finish an interrupted rewrite, read its bytes once."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from captioner.errors import CaptionerError
from captioner.photos.metadata.exiv import Embedded, UnknownImageType
from captioner.photos.metadata.files import recover, resolve
from captioner.photos.metadata.rules import Fields
from captioner.photos.metadata.text import display


@dataclass
class PhotoFile:
    path: Path  # the real file: the photo, or the final target of a symlink
    stat: os.stat_result  # as it was when read
    data: bytes


def open_photo(photo: Path) -> PhotoFile:
    """The photo's real path, status and bytes; a ``CaptionerError`` names the photo when that fails."""
    path = resolve(photo)
    recover(path)
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise CaptionerError(f"{display(photo)}: not a regular file")
            data = f.read()
    except OSError as e:
        raise CaptionerError(f"{display(photo)}: cannot read ({e.strerror or e})") from None
    return PhotoFile(path, st, data)


def embedded_fields(photo: PhotoFile, name: Path) -> Fields | None:
    """What the photo's own EXIF, IPTC and XMP say; None for a file type exiv2 does not know."""
    try:
        with Embedded(photo.data) as meta:
            return meta.fields()
    except UnknownImageType:
        return None
    except ValueError as e:
        raise CaptionerError(f"{display(name)}: {e}; left untouched") from None
