"""Which image files in a folder share a name stem (and so would share a ``photo.xmp`` sidecar), cached per folder.

Listing a folder of 10,000 photos for each of its photos would cost seconds per photo, so each folder's listing is
kept until the folder's mtime moves. captioner's own writes (sidecars, temp files renamed over photos) move it too;
``own_change`` brackets them so the cached listing stays valid, since they never add or remove an image file. A
change by another program in the same instant as captioner's own write could be missed until the next one.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from captioner.errors import CaptionerError
from captioner.photos.metadata.text import display

IMAGE_EXTENSIONS = frozenset(
    "jpg jpeg jpe jfif png webp tif tiff gif bmp heic heif avif jxl jp2 psd "  # images
    "3fr ari arw bay cr2 cr3 crw dcr dcs dng erf fff iiq k25 kdc mef mos mrw nef nrw orf pef raf raw rw2 rwl "
    "sr2 srf srw x3f".split()  # camera RAW
)
_MAX_FOLDERS = 64
_LOCK = threading.Lock()


@dataclass
class _Listing:
    stamp: int  # the folder's mtime_ns when listed
    stems: dict[str, list[str]]  # case-folded stem -> names of the image files with it


_CACHE: OrderedDict[str, _Listing] = OrderedDict()


def _key(folder: Path) -> str:
    return os.fsdecode(os.path.abspath(folder))


def _split(name: str) -> tuple[str, str]:
    stem, ext = os.path.splitext(name)
    return stem.casefold(), ext[1:].lower()


def _listing(folder: Path) -> _Listing:
    stamp = folder.stat().st_mtime_ns
    key = _key(folder)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached.stamp == stamp:
            _CACHE.move_to_end(key)
            return cached
    stems: dict[str, list[str]] = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            stem, ext = _split(entry.name)
            if ext in IMAGE_EXTENSIONS:
                stems.setdefault(stem, []).append(entry.name)
    listing = _Listing(stamp, stems)
    with _LOCK:
        _CACHE[key] = listing
        _CACHE.move_to_end(key)
        while len(_CACHE) > _MAX_FOLDERS:
            _CACHE.popitem(last=False)
    return listing


def same_stem_images(photo: Path) -> list[str]:
    """Names of the other image or RAW files beside ``photo`` with its stem (compared case-insensitively)."""
    stem, _ = _split(photo.name)
    try:
        listing = _listing(photo.parent)
    except OSError as e:
        raise CaptionerError(f"{display(photo.parent)}: cannot list the folder ({e.strerror or e})") from None
    return sorted(n for n in listing.stems.get(stem, []) if n != photo.name)


@contextlib.contextmanager
def own_change(folder: Path) -> Iterator[None]:
    """Bracket a write captioner makes in ``folder`` (one that adds or removes no image file)."""
    try:
        before = folder.stat().st_mtime_ns
    except OSError:
        before = None
    yield
    with contextlib.suppress(OSError), _LOCK:
        cached = _CACHE.get(_key(folder))
        if cached is not None and cached.stamp == before:
            cached.stamp = folder.stat().st_mtime_ns
