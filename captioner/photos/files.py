"""Finding the images to caption: a streaming, sorted, loop-safe walk that skips what is not a photo."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

IMAGE_EXTENSIONS = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".gif",
        ".bmp",
        ".dib",
        ".tif",
        ".tiff",
        ".webp",
        ".ppm",
        ".pgm",
        ".pbm",
        ".pnm",
        ".tga",
        ".ico",
    }
)


def is_image_name(name: str) -> bool:
    """True for names with an image extension (any case); hidden files and sidecars are never images."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def iter_images(
    paths: Iterable[str | os.PathLike], recursive: bool = True, exclude: Iterable[str | os.PathLike] = ()
) -> Iterator[Path]:
    """Yield images under ``paths`` in a deterministic order, one directory listing in memory at a time.

    A file named on the command line is yielded as given (whatever its extension, so a bad file gets an error
    line rather than silence); folders are walked in sorted order, skipping hidden entries and non-image names,
    following symlinks but never into a folder already visited (no loops). ``exclude`` (output files) is skipped.
    """
    excluded = {_identity(p) for p in exclude}
    excluded.discard(None)
    for p in paths:
        p = Path(p)
        if p.is_dir():
            yield from _walk(p, recursive, excluded, set())
        elif _identity(p) not in excluded or _identity(p) is None:
            yield p


def _identity(path: str | os.PathLike) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _walk(folder: Path, recursive: bool, excluded: set, seen: set) -> Iterator[Path]:
    ident = _identity(folder)
    if ident is None or ident in seen:
        return
    seen.add(ident)
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return  # an unreadable folder has nothing we can caption
    subdirs = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir()  # follows symlinks
        except OSError:
            is_dir = False
        if is_dir:
            if recursive:
                subdirs.append(Path(entry.path))
        elif is_image_name(entry.name):
            path = Path(entry.path)
            if not excluded or _identity(path) not in excluded:
                yield path
    for sub in subdirs:
        yield from _walk(sub, recursive, excluded, seen)


def shard(paths: Iterable[Path], index: int, count: int) -> Iterator[Path]:
    """The ``index``-th (0-based) of ``count`` interleaved slices: items index, index+count, index+2*count, ...

    Over the same deterministic walk, the ``count`` shards partition the input exactly, each streams, and each
    gets a fair mix of every folder (a contiguous split would hand one machine all the large files of one shoot).
    """
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} outside 0..{count - 1}")
    for i, p in enumerate(paths):
        if i % count == index:
            yield p


def env_shard() -> tuple[int, int] | None:
    """(index, count) from torchrun's RANK/WORLD_SIZE when there is more than one process, else None."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    return (int(os.environ.get("RANK", "0")), size) if size > 1 else None


def shard_output(path: Path, index: int, count: int) -> Path:
    """``captions.jsonl`` -> ``captions.2-of-4.jsonl`` for the second of four torchrun processes."""
    return path.with_name(f"{path.stem}.{index + 1}-of-{count}{path.suffix}")
