"""The values the metadata layer takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from captioner.photos.metadata.namespace import CaptionerRecord


@dataclass(frozen=True)
class MetadataUpdate:
    """What captioner wants written for one photo."""

    caption: str
    keywords: tuple[str, ...] = ()  # flat: dc:subject, IPTC Keywords
    hierarchical: tuple[str, ...] = ()  # "animal/mammal/cat": lr:hierarchicalSubject "animal|mammal|cat", TagsList
    model: str = "captioner"
    score: float | None = None  # beam score (log-prob based)
    confidence: float | None = None  # 0..1
    overwrite: bool = False  # replace hand-written descriptions too (--overwrite)


@dataclass
class WriteResult:
    """What a write did."""

    path: Path  # the file actually written or checked (sidecar; or the photo / the symlink's target)
    kept_description: bool  # a hand-written description was found and left in place
    changed: bool  # False when the file already said exactly this (nothing written)


@dataclass(frozen=True)
class PhotoMetadata:
    """A photo's metadata reconciled across its sidecar, embedded XMP, IPTC-IIM and EXIF."""

    descriptions: dict[str, str] = field(default_factory=dict)  # {language: text}, "x-default" for the default
    keywords: tuple[str, ...] = ()  # flat, from dc:subject and IPTC Keywords
    hierarchical: tuple[str, ...] = ()  # "a/b/c" paths, from lr:hierarchicalSubject and digiKam:TagsList
    captioner: CaptionerRecord = CaptionerRecord()  # what captioner remembers adding (sidecar first)
    hand_written: bool = False  # some description is not captioner's own

    @property
    def description(self) -> str | None:
        """The default-language description, or the first one there is."""
        return self.descriptions.get("x-default") or next(iter(self.descriptions.values()), None)
