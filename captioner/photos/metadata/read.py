"""Reading a photo's metadata back, reconciled across its sidecar, embedded XMP, IPTC-IIM and EXIF.

Precedence, per language, for descriptions: the sidecar's XMP, then the embedded XMP, then (for the default language)
IPTC Caption-Abstract, then EXIF ImageDescription. Keywords and hierarchical keywords are the union of every place,
in that order. captioner's own record comes from the sidecar when it has one, else from the photo.
"""

from __future__ import annotations

from pathlib import Path

from captioner.photos.metadata.model import PhotoMetadata
from captioner.photos.metadata.namespace import CaptionerRecord
from captioner.photos.metadata.photo import embedded_fields, open_photo
from captioner.photos.metadata.rules import iptc_keyword, is_hand_written
from captioner.photos.metadata.sidecar import sidecar_fields


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def read_metadata(photo: Path, sidecar: Path | None = None) -> PhotoMetadata:
    """What ``photo`` (and ``sidecar``, when given and present) say; pass ``sidecar_path(photo)`` to include it."""
    photo = Path(photo)
    sources = [sidecar_fields(Path(sidecar))] if sidecar is not None else []
    embedded = embedded_fields(open_photo(photo), photo)
    if embedded is not None:
        sources.append(embedded)
    descriptions: dict[str, str] = {}
    for f in sources:
        for lang, text in f.descriptions.items():
            descriptions.setdefault(lang, text)
    fallback = [f.iptc_caption for f in sources] + [f.exif_description for f in sources]
    default = next((t for t in fallback if t and t.strip()), None)
    if default is not None:
        descriptions.setdefault("x-default", default)
    keywords = [k for f in sources for k in f.subject]
    covered = {iptc_keyword(k).casefold() for k in keywords}
    keywords += [k for f in sources for k in f.iptc_keywords if k.casefold() not in covered]
    paths = [p.replace("|", "/") for f in sources for p in f.lr_paths] + [p for f in sources for p in f.tags_list]
    record = next((f.record for f in sources if f.record != CaptionerRecord()), CaptionerRecord())
    return PhotoMetadata(
        descriptions=descriptions,
        keywords=_unique(keywords),
        hierarchical=_unique(paths),
        captioner=record,
        hand_written=is_hand_written(sources),
    )
