"""Writing captioner's update into the photo file itself: EXIF, IPTC-IIM and XMP, through exiv2.

The photo's bytes are edited in memory by exiv2, the image data is checked to be byte-identical (``containers``),
and the new file replaces the old one crash-safely, keeping its links, permissions, owner, atime and mtime
(``files``). JPEG, PNG and WebP are supported; TIFF is not (exiv2 rewrites a TIFF's whole structure), nor is any
other type. A hand-written description in an existing sidecar counts as well, so that the embedded caption never
contradicts what sidecar-reading tools show.
"""

from __future__ import annotations

from pathlib import Path

from captioner.errors import CaptionerError
from captioner.photos.metadata.containers import check_image_data, refresh_iptc_digest
from captioner.photos.metadata.exiv import EMBED_FORMATS, Embedded, UnknownImageType
from captioner.photos.metadata.files import commit
from captioner.photos.metadata.folders import own_change
from captioner.photos.metadata.model import MetadataUpdate, WriteResult
from captioner.photos.metadata.photo import open_photo
from captioner.photos.metadata.rules import plan
from captioner.photos.metadata.sidecar import existing_sidecars, sidecar_fields
from captioner.photos.metadata.text import display
from captioner.photos.metadata.xmp_fields import apply_plan

SUPPORTED = ", ".join(EMBED_FORMATS.values())


def embed(photo: Path, update: MetadataUpdate) -> WriteResult:
    """Merge ``update`` into ``photo``'s embedded metadata; a symlink's target is written, a hard link keeps its inode.

    Raises:
        CaptionerError: the file cannot be read or written, is not a supported type, or its metadata is damaged;
            the file is then unchanged.
    """
    photo = Path(photo)
    original = open_photo(photo)
    context = [sidecar_fields(s) for s in existing_sidecars(photo)]
    try:
        with Embedded(original.data) as meta:
            if meta.format is None:
                raise CaptionerError(f"{display(photo)}: --embed supports {SUPPORTED}, not {meta.mime}")
            result = plan(update, meta.fields(), context)
            if not result.changed:
                return WriteResult(original.path, result.kept_description, False)
            apply_plan(meta.xmp, result)
            data = meta.rewrite(result, meta.xmp.to_bytes())
            fmt = meta.format
    except UnknownImageType:
        raise CaptionerError(f"{display(photo)}: --embed supports {SUPPORTED}; this is no image exiv2 knows") from None
    except ValueError as e:
        raise CaptionerError(f"{display(photo)}: {e}; left untouched") from None
    if fmt == "JPEG":
        data = refresh_iptc_digest(original.data, data)
    problem = check_image_data(original.data, data, fmt)
    if problem:
        raise CaptionerError(f"{display(photo)}: not embedding, {problem}; left untouched")
    with own_change(original.path.parent):
        commit(original.path, data, original.stat, keep_times=True)
    return WriteResult(original.path, result.kept_description, True)
