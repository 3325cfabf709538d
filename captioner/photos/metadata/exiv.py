"""Embedded EXIF, IPTC-IIM and XMP through pyexiv2 (libexiv2), on a copy of the file's bytes in memory.

pyexiv2's ``ImageData`` opens bytes, edits metadata in memory and hands the whole new file back (``get_bytes``), so
the caller still decides how the file on disk is replaced (atomically, or in place for hard links). Text is read as
Latin-1, a byte-for-byte mapping, and decoded here: EXIF ASCII and IPTC without a UTF-8 marker are UTF-8 when valid,
else Windows-1252 (MWG). New text is written as UTF-8, and IPTC is then marked UTF-8 (1:90 = ESC % G), with any
legacy-encoded IPTC text re-encoded so that the marker tells the truth for every field.
"""

from __future__ import annotations

import threading

import pyexiv2

from captioner.photos.metadata.rules import UNCHANGED, Fields, Plan
from captioner.photos.metadata.text import decode_legacy, is_utf8, one_line
from captioner.photos.metadata.xmp_fields import xmp_fields
from captioner.photos.metadata.xmp_packet import XmpPacket

pyexiv2.set_log_level(3)  # exiv2 prints warnings on stdout, which may carry captioner's JSON lines: errors only
_LOCK = threading.Lock()  # pyexiv2 gathers exiv2's errors in one process-wide buffer: one call at a time

EMBED_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP"}
UTF8_MARK = "\x1b%G"
DESCRIPTION = "Exif.Image.ImageDescription"
CAPTION, KEYWORDS, CHARSET = "Iptc.Application2.Caption", "Iptc.Application2.Keywords", "Iptc.Envelope.CharacterSet"
# IFD0 tags EXIF 2.3 requires (YCbCrPositioning for JPEG only), added when captioner creates EXIF from nothing.
_REQUIRED_IFD0 = {"Exif.Image.XResolution": "72/1", "Exif.Image.YResolution": "72/1", "Exif.Image.ResolutionUnit": "2"}
_REQUIRED_JPEG_IFD0 = {"Exif.Image.YCbCrPositioning": "1"}


class UnknownImageType(ValueError):
    """exiv2 does not know this kind of file (it has no metadata captioner could read)."""


def _first(value: str | list[str] | None) -> str | None:
    return value[0] if isinstance(value, list) else value


def _raw(value: str) -> bytes:
    return value.encode("latin-1")


class Embedded:
    """One image's embedded metadata, opened from its bytes; use as a context manager."""

    def __init__(self, data: bytes) -> None:
        with _LOCK:
            try:
                self._image = pyexiv2.ImageData(data)
            except (RuntimeError, ValueError) as e:
                if "unknown image type" in str(e):
                    raise UnknownImageType(one_line(e)) from None
                raise ValueError(f"cannot read it as an image with metadata (exiv2: {one_line(e)})") from None
            try:
                self.mime = self._image.get_mime_type()
                self._exif = self._image.read_exif("latin-1")
                self._iptc = self._image.read_iptc_detail("latin-1")
                packet = _raw(self._image.read_raw_xmp("latin-1"))
            except (RuntimeError, ValueError) as e:
                self._image.close()
                raise ValueError(f"cannot read its metadata (exiv2: {one_line(e)})") from None
        self.format = EMBED_FORMATS.get(self.mime)
        try:
            self.xmp = XmpPacket(packet)
        except ValueError:  # an XmpError: the caller reports it
            self.__exit__()
            raise

    def __enter__(self) -> Embedded:
        return self

    def __exit__(self, *exc: object) -> None:
        with _LOCK:
            self._image.close()

    # -- reading -------------------------------------------------------------------------------------------------

    def _iptc_text(self, value: str) -> str:
        charset = _first(self._iptc.get(CHARSET, {}).get("value"))
        raw = _raw(value)
        if charset and charset != UTF8_MARK and not raw.isascii():
            return raw.decode("cp1252", "replace")
        return decode_legacy(raw)

    def fields(self) -> Fields:
        """What the file itself says (see ``rules.Fields``), and what of it captioner may rewrite."""
        f = xmp_fields(self.xmp)
        description = _first(self._exif.get(DESCRIPTION))
        f.exif_description = decode_legacy(_raw(description)) if description is not None else None
        caption = _first(self._iptc.get(CAPTION, {}).get("value"))
        f.iptc_caption = self._iptc_text(caption) if caption is not None else None
        keywords = self._iptc.get(KEYWORDS, {}).get("value") or []
        f.iptc_keywords = [k for k in (self._iptc_text(v) for v in keywords) if k.strip()]
        f.exif_writable = self.format is not None
        f.iptc_writable = self.format == "JPEG" or (self.format == "PNG" and bool(self._iptc))
        return f

    # -- writing -------------------------------------------------------------------------------------------------

    def _iptc_reencoded(self) -> dict[str, str | list[str]]:
        """Every legacy-encoded IPTC text field, decoded, so that it can be stored again as UTF-8."""
        out: dict[str, str | list[str]] = {}
        marked = _first(self._iptc.get(CHARSET, {}).get("value")) == UTF8_MARK
        for key, detail in self._iptc.items():
            if key == CHARSET or detail.get("typeName") != "String":
                continue
            values = detail["value"] if isinstance(detail["value"], list) else [detail["value"]]
            if any(not _raw(v).isascii() and not (marked and is_utf8(_raw(v))) for v in values):
                decoded = [self._iptc_text(v) for v in values]
                out[key] = decoded if isinstance(detail["value"], list) else decoded[0]
        return out

    def rewrite(self, plan: Plan, packet: bytes | None) -> bytes:
        """The whole file with ``packet`` as its XMP and the plan's EXIF and IPTC changes."""
        exif: dict[str, str | None] = {}
        if plan.exif_description is not UNCHANGED:
            exif[DESCRIPTION] = plan.exif_description
            if not self._exif and plan.exif_description is not None:  # EXIF made from nothing
                exif.update(_REQUIRED_IFD0)
                if self.format == "JPEG":
                    exif.update(_REQUIRED_JPEG_IFD0)
        iptc: dict[str, str | list[str] | None] = {}
        if plan.iptc:
            iptc.update(self._iptc_reencoded())
            iptc[CHARSET] = UTF8_MARK
            if "caption" in plan.iptc:
                iptc[CAPTION] = plan.iptc["caption"]
            if "keywords" in plan.iptc:
                iptc[KEYWORDS] = plan.iptc["keywords"] or None
        with _LOCK:
            try:
                if packet is not None:
                    self._image.modify_raw_xmp(packet.decode("utf-8"))
                if exif:
                    self._image.modify_exif(exif, "utf-8")
                if iptc:
                    self._image.modify_iptc(iptc, "utf-8")
                return self._image.get_bytes()
            except (RuntimeError, ValueError) as e:
                raise ValueError(f"exiv2 could not write the metadata ({one_line(e)})") from None
