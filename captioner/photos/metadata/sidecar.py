"""XMP sidecars: which file is a photo's sidecar, and writing captioner's update into it.

Two namings are in use: ``photo.jpg.xmp`` (darktable, digiKam, Immich; one sidecar per file) and ``photo.xmp``
(Lightroom/Camera Raw, Capture One; one per name stem). An existing sidecar of either name is respected. A
``photo.xmp`` is never shared: when another image or RAW file in the folder has the same stem (``pair.jpg`` and
``pair.png``, ``IMG_1.CR2`` and ``IMG_1.JPG``), the ``photo.xmp`` naming is refused with a ``CaptionerError``, and
an existing stem sidecar is left to the other file. Merging two photos' metadata into one sidecar is not safe
(whose caption wins? whose keywords are whose?), so captioner does not do it.

A sidecar write also reads the photo's embedded EXIF, IPTC and XMP: a hand caption in the photo is kept (most tools
prefer the sidecar and would otherwise show captioner's instead), and the user's embedded keywords are carried into
the sidecar so that it does not hide them.
"""

from __future__ import annotations

import os
from pathlib import Path

from captioner.errors import CaptionerError
from captioner.photos.metadata.files import commit, recover, resolve
from captioner.photos.metadata.folders import own_change, same_stem_images
from captioner.photos.metadata.model import MetadataUpdate, WriteResult
from captioner.photos.metadata.photo import embedded_fields, open_photo
from captioner.photos.metadata.rules import Fields, plan
from captioner.photos.metadata.text import display
from captioner.photos.metadata.xmp_fields import apply_plan, xmp_fields
from captioner.photos.metadata.xmp_packet import XmpError, XmpPacket

SIDECAR_NAMINGS = ("photo.jpg.xmp", "photo.xmp")  # default first


def _named(folder: Path, base: str) -> tuple[Path, bool]:
    """``base.xmp`` in ``folder``, or an existing ``base.XMP``; and whether it exists."""
    for ext in (".xmp", ".XMP"):
        if os.path.lexists(folder / (base + ext)):
            return folder / (base + ext), True
    return folder / (base + ".xmp"), False


def sidecar_path(photo: Path, naming: str = "photo.jpg.xmp") -> Path:
    """The sidecar to write for ``photo``: an existing one of either naming, else one named by ``naming``."""
    if naming not in SIDECAR_NAMINGS:
        raise CaptionerError(f"unknown sidecar naming {naming!r}; use one of {', '.join(SIDECAR_NAMINGS)}")
    photo = Path(photo)
    full, full_exists = _named(photo.parent, photo.name)
    stem_name = os.path.splitext(photo.name)[0]
    if stem_name == photo.name:  # no extension: both namings are the same file
        return full
    stem, stem_exists = _named(photo.parent, stem_name)
    if naming == "photo.jpg.xmp":
        if full_exists or not stem_exists or same_stem_images(photo):
            return full
        return stem
    others = same_stem_images(photo)
    if full_exists and (others or not stem_exists):
        return full
    if others:
        raise CaptionerError(
            f"{display(photo)}: its sidecar {display(stem.name)} would be shared with {display(others[0])}; "
            "use --xmp-name photo.jpg.xmp to give each file its own sidecar"
        )
    return stem


def existing_sidecars(photo: Path) -> list[Path]:
    """The sidecars that belong to ``photo`` and exist (an unshared stem sidecar included)."""
    photo = Path(photo)
    full, full_exists = _named(photo.parent, photo.name)
    found = [full] if full_exists else []
    stem_name = os.path.splitext(photo.name)[0]
    if stem_name != photo.name:
        stem, stem_exists = _named(photo.parent, stem_name)
        if stem_exists and not same_stem_images(photo):
            found.append(stem)
    return found


def read_sidecar(sidecar: Path) -> tuple[XmpPacket, os.stat_result | None]:
    """A sidecar's packet (empty when it does not exist yet) and its status."""
    recover(sidecar)
    try:
        with open(sidecar, "rb") as f:
            st = os.fstat(f.fileno())
            data = f.read()
    except FileNotFoundError:
        return XmpPacket(None), None
    except OSError as e:
        raise CaptionerError(f"{display(sidecar)}: cannot read ({e.strerror or e})") from None
    try:
        return XmpPacket(data), st
    except XmpError as e:
        raise CaptionerError(f"{display(sidecar)}: {e}; left untouched") from None


def sidecar_fields(sidecar: Path) -> Fields:
    return xmp_fields(read_sidecar(sidecar)[0])


def write_sidecar(photo: Path, update: MetadataUpdate, naming: str = "photo.jpg.xmp") -> WriteResult:
    """Merge ``update`` into ``photo``'s XMP sidecar (created when missing); the photo itself is only read."""
    photo = Path(photo)
    sidecar = sidecar_path(photo, naming)
    embedded = embedded_fields(open_photo(photo), photo)
    target = resolve(sidecar) if sidecar.is_symlink() else sidecar
    packet, st = read_sidecar(target)
    result = plan(update, xmp_fields(packet), [embedded] if embedded else [], import_keywords=True)
    if not result.changed:
        return WriteResult(target, result.kept_description, False)
    apply_plan(packet, result)
    with own_change(target.parent):
        commit(target, packet.to_bytes(), st, keep_times=False)
    return WriteResult(target, result.kept_description, True)
