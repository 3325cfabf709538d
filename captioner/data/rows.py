"""Caption rows to a ``CaptionSet``: what every reader (CSV, JSON Lines, imagefolder, sidecars) has in common.

A reader yields ``CaptionRow``s (one photo, one caption, where it came from) and reports malformed rows to a
``RowErrors``; ``caption_set_from_rows`` groups the rows by photo, refuses paths that leave the image root, and
drops empty captions with a note. ``check_photos`` applies the missing-photo rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from captioner.data.coco import CaptionedImage, CaptionSet, safe_relative
from captioner.errors import CaptionerError
from captioner.model.vocab import tokenize

SHOW = 3  # how many offending entries a message lists
# the photo formats a caption dataset holds (the caption command's list is wider, with scanner and icon formats)
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
MIN_FOUND_SHARE = 0.5  # a run stops when fewer than this share of the listed photos exist


@dataclass(frozen=True)
class CaptionRow:
    file_name: str  # relative to the image root, "/"-separated
    caption: str
    where: str  # "file:line", for messages


def few(items: list) -> str:
    """The first few of ``items`` for a message, with "..." when there are more."""
    shown = ", ".join(str(x) for x in items[:SHOW])
    return shown + (", ..." if len(items) > SHOW else "")


class RowErrors:
    """Collects malformed rows; ``raise_if_any`` turns them into one line naming the first and counting the rest."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []  # (where, what)

    def add(self, where: str, what: str) -> None:
        self.problems.append((where, what))

    def raise_if_any(self) -> None:
        if not self.problems:
            return
        where, what = self.problems[0]
        rest = self.problems[1:]
        more = f" (and {len(rest)} more malformed rows: {few([w for w, _ in rest])})" if rest else ""
        raise CaptionerError(f"{where}: {what}{more}")


def normalise_name(name: str) -> str:
    """``./a\\b.jpg`` -> ``a/b.jpg``: one spelling per photo, so rows of the same photo group together."""
    posix = name.strip().replace("\\", "/")
    parts = [p for p in PurePosixPath(posix).parts if p != "."] if posix else []
    return "/".join(parts) if not posix.startswith("/") else posix


def caption_set_from_rows(source: Path, root: Path, rows: Iterable[CaptionRow]) -> CaptionSet:
    """Group ``rows`` by photo (first-seen order, ids 1..N); empty captions and exact repeats are dropped.

    A file name that leaves ``root`` (absolute, ``..``, a drive) is an error naming its row.
    """
    captions: dict[str, list[str]] = {}
    errors, empty, repeats = RowErrors(), 0, 0
    for row in rows:
        if not safe_relative(row.file_name):
            errors.add(row.where, f"{row.file_name!r} points outside the image root, refused")
            continue
        caps = captions.setdefault(row.file_name, [])
        if not tokenize(row.caption):
            empty += 1
        elif row.caption.strip() in caps:
            repeats += 1
        else:
            caps.append(row.caption.strip())
    errors.raise_if_any()
    notes = []
    if empty:
        notes.append(f"{source}: skipped {empty} empty caption(s)")
    if repeats:
        notes.append(f"{source}: dropped {repeats} caption(s) repeated word for word for the same photo")
    uncaptioned = [name for name, caps in captions.items() if not caps]
    if uncaptioned:
        notes.append(f"{source}: skipped {len(uncaptioned)} photo(s) with no caption ({few(uncaptioned)})")
    images = [
        CaptionedImage(i, name, root / name, caps)
        for i, (name, caps) in enumerate(((n, c) for n, c in captions.items() if c), 1)
    ]
    if not images:
        raise CaptionerError(f"{source}: no captioned images")
    return CaptionSet(source, images, notes)


def check_photos(captions: CaptionSet, root: Path, option: str = "--train-images") -> CaptionSet:
    """The missing-photo rule: missing photos are counted, listed (the first few) and dropped; fewer than half of
    the listed photos found (most likely the wrong image folder) is an error."""
    missing = [im.file_name for im in captions.images if not im.path.is_file()]
    if not missing:
        return captions
    total, found = len(captions.images), len(captions.images) - len(missing)
    what = f"{captions.source}: {len(missing)} of {total} photos are missing under {root} ({few(missing)})"
    if found == 0 or found < MIN_FOUND_SHARE * total:
        raise CaptionerError(f"{what}; fewer than half were found: is {option} the right folder?")
    kept = [im for im in captions.images if im.path.is_file()]
    return replace(captions, images=kept, notes=[*captions.notes, f"{what}; using the other {found}"])
