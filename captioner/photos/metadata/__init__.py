"""captioner's metadata layer: captions and keywords into EXIF, IPTC-IIM and XMP, embedded or in XMP sidecars.

Writes go through exiv2 (pyexiv2) and keep everything that is not captioner's: other XMP properties, GPS, ICC
profile, EXIF thumbnail, MakerNotes, other IPTC datasets, unknown JPEG segments, PNG and WebP chunks. A hand-written
description wins unless ``overwrite``; user keywords are never removed; a second run with the same update writes
nothing. Module map:

- ``rules``: the reconciling rules (pure); ``model``: the public value types; ``namespace``: captioner's XMP record
- ``xmp_packet`` / ``xmp_fields``: XMP packets and the properties captioner owns in them
- ``exiv``: embedded metadata through pyexiv2; ``containers``: the image-data check and the IPTC digest
- ``files``: crash-safe, link-preserving writes; ``folders``: same-stem detection; ``photo``: opening a photo
- ``embed``, ``sidecar``, ``read``: the three entry points
"""

from captioner.photos.metadata.embed import embed
from captioner.photos.metadata.model import MetadataUpdate, PhotoMetadata, WriteResult
from captioner.photos.metadata.namespace import CAPTIONER as CAPTIONER_NS
from captioner.photos.metadata.namespace import CaptionerRecord
from captioner.photos.metadata.read import read_metadata
from captioner.photos.metadata.sidecar import SIDECAR_NAMINGS, sidecar_path, write_sidecar

__all__ = [
    "CAPTIONER_NS",
    "SIDECAR_NAMINGS",
    "CaptionerRecord",
    "MetadataUpdate",
    "PhotoMetadata",
    "WriteResult",
    "embed",
    "read_metadata",
    "sidecar_path",
    "write_sidecar",
]
