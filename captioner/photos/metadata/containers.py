"""Read-only walks over JPEG, PNG and WebP containers: prove that a metadata write left the image data alone.

exiv2 rewrites the metadata blocks; everything else (compressed image data, tables, ICC profile, unknown segments and
chunks, trailers) must come out byte for byte. ``check_image_data`` compares the two files piece by piece and names
the first piece that differs; the write is refused then. The one byte-level edit made here is refreshing Photoshop's
IPTC digest (a fixed 16-byte field) after exiv2 rewrote the IPTC block it protects.
"""

from __future__ import annotations

import hashlib
import struct

_EXIF = b"Exif\x00\x00"
_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
_PHOTOSHOP = b"Photoshop 3.0\x00"
_PNG = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT_KEYS = (b"XML:com.adobe.xmp", b"Raw profile type exif", b"Raw profile type APP1", b"Raw profile type iptc")
_WEBP_EXIF, _WEBP_XMP, _WEBP_ALPHA = 0x08, 0x04, 0x10


def jpeg_segments(data: bytes) -> tuple[list[tuple[int, int, int]], int]:
    """Header segments as (marker, payload start, payload end), and the offset of the start of scan."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG file")
    pos, segments = 2, []
    while pos < len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"damaged JPEG header at byte {pos}")
        while pos < len(data) and data[pos] == 0xFF:
            pos += 1
        if pos >= len(data):
            break
        marker = data[pos]
        if marker == 0xDA:
            return segments, pos - 1
        pos += 1
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            segments.append((marker, pos, pos))
            continue
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2 or pos + length > len(data):
            raise ValueError(f"damaged JPEG segment at byte {pos}")
        segments.append((marker, pos + 2, pos + length))
        pos += length
    raise ValueError("JPEG has no image data (truncated?)")


def _jpeg_pieces(data: bytes) -> list[bytes]:
    segments, scan = jpeg_segments(data)
    pieces = []
    for marker, start, end in segments:
        payload = data[start:end]
        metadata = (marker == 0xE1 and payload.startswith((_EXIF, _XMP))) or (
            marker == 0xED and payload.startswith(_PHOTOSHOP)
        )
        if not metadata:
            pieces.append(bytes([marker]) + payload)
    return [*pieces, data[scan:]]


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if not data.startswith(_PNG):
        raise ValueError("not a PNG file")
    pos, chunks = len(_PNG), []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def _png_pieces(data: bytes) -> list[bytes]:
    def metadata(kind: bytes, payload: bytes) -> bool:
        text = kind in (b"iTXt", b"tEXt", b"zTXt") and payload.split(b"\x00", 1)[0] in _PNG_TEXT_KEYS
        return kind == b"eXIf" or text

    return [kind + payload for kind, payload in _png_chunks(data) if not metadata(kind, payload)]


def _webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP file")
    pos, chunks = 12, []
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks.append((kind, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return chunks


def _webp_pieces(data: bytes) -> list[bytes]:
    chunks = _webp_chunks(data)
    pieces = [kind + payload for kind, payload in chunks if kind not in (b"VP8X", b"EXIF", b"XMP ")]
    header = next((payload for kind, payload in chunks if kind == b"VP8X"), None)
    kinds = {kind: payload for kind, payload in chunks}
    lossless = kinds.get(b"VP8L", b"")
    alpha = b"ALPH" in kinds or (len(lossless) >= 5 and lossless[4] & 0x10 != 0)
    if header is not None:  # everything but the EXIF and XMP flags describes the image
        flags = header[0] & ~(_WEBP_EXIF | _WEBP_XMP)
        pieces.append(b"VP8X" + bytes([flags]) + header[1:])
    else:
        pieces.append(b"alpha" if alpha else b"opaque")
    return pieces


_PIECES = {"JPEG": _jpeg_pieces, "PNG": _png_pieces, "WebP": _webp_pieces}


def check_image_data(old: bytes, new: bytes, fmt: str) -> str | None:
    """None when ``new`` keeps every non-metadata piece of ``old``; else what changed, in words."""
    try:
        before, after = _PIECES[fmt](old), _PIECES[fmt](new)
    except (ValueError, IndexError, struct.error) as e:
        return f"cannot check the rewritten {fmt} ({e})"
    if fmt == "WebP" and before[-1] in (b"alpha", b"opaque") and after[-1].startswith(b"VP8X"):
        after[-1] = b"alpha" if after[-1][4] & _WEBP_ALPHA else b"opaque"  # a simple WebP got an extended header
    if len(before) != len(after):
        return f"the {fmt} structure changed ({len(before)} image parts before, {len(after)} after)"
    for i, (a, b) in enumerate(zip(before, after)):
        if a != b:
            return f"{fmt} image part {i} ({a[:4]!r}) would change"
    return None


def _photoshop_resources(payload: bytes) -> dict[int, tuple[int, int]]:
    """Image resource id -> (data start, data end) within an APP13 payload."""
    pos, out = len(_PHOTOSHOP), {}
    while pos + 12 <= len(payload) and payload[pos : pos + 4] == b"8BIM":
        rid = struct.unpack(">H", payload[pos + 4 : pos + 6])[0]
        name_len = payload[pos + 6]
        pos += 6 + ((name_len + 2) & ~1)  # Pascal name, padded to even length
        (size,) = struct.unpack(">I", payload[pos : pos + 4])
        out.setdefault(rid, (pos + 4, pos + 4 + size))
        pos += 4 + size + (size & 1)
    return out


def _iptc_digest(data: bytes) -> tuple[int, bytes, bytes] | None:
    """(digest offset in the file, stored digest, MD5 of the IPTC block) of a JPEG with one Photoshop segment."""
    segments, _ = jpeg_segments(data)
    found = [(s, e) for m, s, e in segments if m == 0xED and data[s:e].startswith(_PHOTOSHOP)]
    if len(found) != 1:
        return None
    start, end = found[0]
    resources = _photoshop_resources(data[start:end])
    if 0x0425 not in resources or 0x0404 not in resources:
        return None
    d0, d1 = resources[0x0425]
    i0, i1 = resources[0x0404]
    if d1 - d0 != 16:
        return None
    return start + d0, data[start + d0 : start + d1], hashlib.md5(data[start + i0 : start + i1]).digest()


def refresh_iptc_digest(old: bytes, new: bytes) -> bytes:
    """``new`` with Photoshop's IPTCDigest brought up to date, where it was up to date in ``old``.

    MWG readers compare that digest with the IPTC block to tell whether IPTC was changed by a tool that does not
    keep XMP in step; exiv2 rewrites the block but not the digest. A digest that was already stale stays stale.
    """
    try:
        before, after = _iptc_digest(old), _iptc_digest(new)
    except (ValueError, IndexError, struct.error):
        return new
    if before is None or after is None or before[1] != before[2] or after[1] == after[2]:
        return new
    offset = after[0]
    return new[:offset] + after[2] + new[offset + 16 :]
