"""Caption sidecars: ``photo.jpg`` with ``photo.txt`` (or ``photo.caption``) beside it, in a folder tree.

This is the layout kohya's scripts, TagGUI and most dataset tools write. Each non-empty line of a sidecar is one
caption, so a file may hold several. Photos without a sidecar and sidecars without a photo are counted in a note;
hidden files and folders are skipped; the walk is sorted, so the order is the same on every machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from captioner.data.rows import PHOTO_SUFFIXES, CaptionRow, few
from captioner.errors import CaptionerError
from captioner.jsonl import read_text

SIDECAR_SUFFIXES = (".txt", ".caption")


def _walk(root: Path) -> Iterator[tuple[Path, list[str]]]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        yield Path(folder), sorted(f for f in files if not f.startswith("."))


def sidecar_rows(root: Path, notes: list[str]) -> Iterator[CaptionRow]:
    """Rows of every photo under ``root`` that has a sidecar; what did not pair up goes into ``notes``."""
    if not root.is_dir():
        raise CaptionerError(f"{root}: not a folder (caption sidecars are read from a folder of photos)")
    lonely_photos: list[str] = []
    used: set[Path] = set()
    sidecars: list[Path] = []
    yielded = 0
    for folder, files in _walk(root):
        stems: dict[str, list[Path]] = {}
        for name in files:
            path = folder / name
            if path.suffix.lower() in SIDECAR_SUFFIXES:
                sidecars.append(path)
            elif path.suffix.lower() in PHOTO_SUFFIXES:
                stems.setdefault(path.stem, []).append(path)
        for stem, photos in stems.items():
            mine = [folder / f"{stem}{s}" for s in SIDECAR_SUFFIXES if (folder / f"{stem}{s}").is_file()]
            for photo in photos:
                rel = photo.relative_to(root).as_posix()
                if not mine:
                    lonely_photos.append(rel)
                    continue
                for sidecar in mine:
                    used.add(sidecar)
                    for n, line in enumerate(read_text(sidecar, "caption sidecar").splitlines(), 1):
                        if line.strip():
                            yielded += 1
                            yield CaptionRow(rel, line.strip(), f"{sidecar}:{n}")
    if not yielded:
        which = f"none of its {len(lonely_photos)} photos has" if lonely_photos else "no photos with"
        raise CaptionerError(f"{root}: {which} a caption in a .txt or .caption file of the same name")
    if lonely_photos:
        notes.append(
            f"{root}: skipped {len(lonely_photos)} photo(s) without a .txt or .caption file ({few(lonely_photos)})"
        )
    orphans = [p.relative_to(root).as_posix() for p in sidecars if p not in used]
    if orphans:
        notes.append(f"{root}: ignored {len(orphans)} text file(s) with no photo of the same name ({few(orphans)})")
