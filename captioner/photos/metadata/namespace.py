"""The XMP namespaces captioner reads and writes, and captioner's own record of what it added.

captioner keeps its memory in a private namespace, ``http://captioner.invalid/ns/1.0/`` (prefix ``captioner``). The
``.invalid`` top-level domain is reserved (RFC 2606) and can never be registered, so the URI cannot collide with
anybody else's schema; it is an identifier, not a web address. Properties:

- ``captioner:caption``: the description text captioner wrote (absent when it wrote none, e.g. a hand caption won);
  a description field holding exactly this text is captioner's and may be replaced or removed by a later run.
- ``captioner:keywords`` (Bag): the flat keywords captioner added; a keyword the user already had is never listed.
- ``captioner:hierarchical`` (Bag): the category paths (``a/b/c``) captioner added, in both hierarchical fields.
- ``captioner:model``, ``captioner:score``, ``captioner:confidence``: the last run that touched the file.
- ``captioner:tags`` (Bag, read only): written by earlier captioner versions; it also listed keywords the user had,
  so its values are treated as the user's (never removed) and the property itself is dropped on the next write.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from captioner.photos.metadata.xmp_packet import XmpPacket

CAPTIONER = "http://captioner.invalid/ns/1.0/"
DC = "http://purl.org/dc/elements/1.1/"
LR = "http://ns.adobe.com/lightroom/1.0/"
DIGIKAM = "http://www.digikam.org/ns/1.0/"
IPTC_CORE = "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"
XMP_BASIC = "http://ns.adobe.com/xap/1.0/"


@dataclass(frozen=True)
class CaptionerRecord:
    """What captioner remembers having written into one file or sidecar."""

    caption: str | None = None
    keywords: tuple[str, ...] = ()
    hierarchical: tuple[str, ...] = ()
    model: str | None = None
    score: float | None = None
    confidence: float | None = None
    legacy_tags: tuple[str, ...] = ()  # captioner:tags from older versions: ownership unknown, so never removed


def number(value: float | None) -> float | None:
    """``value`` as stored (six significant digits), so a re-run compares equal; NaN is no value."""
    if value is None or math.isnan(value):
        return None
    return float(f"{value:.6g}")


def _parse_number(text: str | None) -> float | None:
    try:
        return number(float(text)) if text is not None else None
    except ValueError:
        return None


def read_record(packet: XmpPacket) -> CaptionerRecord:
    return CaptionerRecord(
        caption=packet.text(CAPTIONER, "caption"),
        keywords=tuple(packet.items(CAPTIONER, "keywords")),
        hierarchical=tuple(packet.items(CAPTIONER, "hierarchical")),
        model=packet.text(CAPTIONER, "model"),
        score=_parse_number(packet.text(CAPTIONER, "score")),
        confidence=_parse_number(packet.text(CAPTIONER, "confidence")),
        legacy_tags=tuple(packet.items(CAPTIONER, "tags")),
    )


def write_record(packet: XmpPacket, record: CaptionerRecord) -> None:
    def fmt(x: float | None) -> str | None:
        return None if x is None else f"{x:.6g}"

    packet.set_text(CAPTIONER, "captioner", "caption", record.caption)
    packet.set_items(CAPTIONER, "captioner", "keywords", list(record.keywords))
    packet.set_items(CAPTIONER, "captioner", "hierarchical", list(record.hierarchical))
    packet.set_text(CAPTIONER, "captioner", "model", record.model)
    packet.set_text(CAPTIONER, "captioner", "score", fmt(record.score))
    packet.set_text(CAPTIONER, "captioner", "confidence", fmt(record.confidence))
    packet.remove(CAPTIONER, "tags")
