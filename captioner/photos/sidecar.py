"""XMP sidecar files beside the photos: where they go and how captioner merges into them."""

from __future__ import annotations

import os
from pathlib import Path

from captioner.atomic import atomic_write
from captioner.errors import CaptionerError
from captioner.paths import display_path


def sidecar_path(image: str | os.PathLike, style: str = "photo.xmp") -> Path:
    """``photo.jpg`` -> ``photo.xmp`` (Lightroom, darktable's default is the other) or ``photo.jpg.xmp``."""
    image = Path(image)
    return image.with_suffix(".xmp") if style == "photo.xmp" else image.with_name(image.name + ".xmp")


def write_sidecar(
    image: str | os.PathLike, caption: str, tags: list[str], model: str, *, score: float | None, style: str
) -> bool:
    """Merge caption and tags into the image's XMP sidecar (atomically). True if a hand-written description stayed."""
    from captioner.photos.xmp import update_xmp

    path = sidecar_path(image, style)
    try:
        existing = path.read_bytes() if path.exists() else None
    except OSError as e:
        raise CaptionerError(f"{display_path(path)}: cannot read sidecar ({e.strerror or e})") from None
    update = update_xmp(existing, caption, tags, model, score, display_path(path))
    with atomic_write(path, "wb") as f:
        f.write(update.packet)
    return update.kept_description
