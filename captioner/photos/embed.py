"""Write the caption into the image file itself: EXIF ImageDescription and XMP, pixel data copied byte for byte.

JPEG (APP1 segments), PNG (eXIf and iTXt chunks) and WebP (VP8X, EXIF and XMP chunks) are rewritten at the
container level only; the compressed image data is never decoded or re-encoded. The new file replaces the old one
atomically and keeps its permissions and timestamps.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from captioner.atomic import atomic_write
from captioner.errors import CaptionerError
from captioner.paths import display_path
from captioner.photos.xmp import XmpUpdate, read_xmp, update_xmp

EXIF_HEADER = b"Exif\x00\x00"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_XMP_KEYWORD = b"XML:com.adobe.xmp"
IMAGE_DESCRIPTION = 0x010E
EMBED_FORMATS = ("JPEG", "PNG", "WEBP")


def _exif_with_description(tiff_or_app1: bytes | None, caption: str, previous: str | None) -> tuple[bytes, bool]:
    """EXIF (with ``Exif\\0\\0`` header) carrying ``caption`` as ImageDescription; a hand-written one is kept."""
    from PIL import Image

    exif = Image.Exif()
    if tiff_or_app1:
        exif.load(tiff_or_app1 if tiff_or_app1.startswith(EXIF_HEADER) else EXIF_HEADER + tiff_or_app1)
    current = str(exif.get(IMAGE_DESCRIPTION, "") or "").strip("\x00 ")
    if current and current != (previous or "").strip():
        return exif.tobytes(), True
    exif[IMAGE_DESCRIPTION] = caption
    return exif.tobytes(), False


def _merge(update: XmpUpdate, kept_exif: bool) -> XmpUpdate:
    return XmpUpdate(update.packet, update.kept_description or kept_exif)


# -- JPEG ----------------------------------------------------------------------------------------------------------


def _jpeg_segments(data: bytes, source: str) -> tuple[list[tuple[int, bytes]], bytes]:
    """Header segments (marker, payload) up to the start of scan, and everything from SOS on, untouched."""
    if not data.startswith(b"\xff\xd8"):
        raise CaptionerError(f"{source}: not a JPEG file")
    pos, segments = 2, []
    while pos < len(data):
        if data[pos] != 0xFF:
            raise CaptionerError(f"{source}: damaged JPEG header at byte {pos}")
        while pos < len(data) and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= len(data):
            break
        marker = data[pos]
        pos += 1
        if marker == 0xDA:  # start of scan: the rest is image data
            return segments, data[pos - 2 :]
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            segments.append((marker, b""))
            continue
        if pos + 2 > len(data):
            break
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2 or pos + length > len(data):
            raise CaptionerError(f"{source}: damaged JPEG segment at byte {pos}")
        segments.append((marker, data[pos + 2 : pos + length]))
        pos += length
    raise CaptionerError(f"{source}: JPEG has no image data (truncated?)")


def _segment(marker: int, payload: bytes, source: str) -> bytes:
    if len(payload) > 65533:
        raise CaptionerError(f"{source}: metadata too large for one JPEG segment ({len(payload)} bytes)")
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _embed_jpeg(data: bytes, caption: str, tags: list[str], model: str, score: float | None, source: str):
    segments, scan = _jpeg_segments(data, source)
    app1 = [(m, p) for m, p in segments if m == 0xE1]
    old_exif = next((p for m, p in app1 if p.startswith(EXIF_HEADER)), None)
    old_xmp = next((p[len(XMP_HEADER) :] for m, p in app1 if p.startswith(XMP_HEADER)), None)
    previous = read_xmp(old_xmp)["caption"] if old_xmp else None
    update = update_xmp(old_xmp, caption, tags, model, score, source)
    exif, kept_exif = _exif_with_description(old_exif, caption, previous)
    kept = [(m, p) for m, p in segments if not (m == 0xE1 and (p.startswith(EXIF_HEADER) or p.startswith(XMP_HEADER)))]
    at = 1 if kept and kept[0][0] == 0xE0 else 0  # after a JFIF APP0, which must come first
    new = [*kept[:at], (0xE1, exif), (0xE1, XMP_HEADER + update.packet), *kept[at:]]
    out = (
        b"\xff\xd8"
        + b"".join(bytes([0xFF, m]) if 0xD0 <= m <= 0xD7 or m == 0x01 else _segment(m, p, source) for m, p in new)
        + scan
    )
    return out, _merge(update, kept_exif)


# -- PNG -----------------------------------------------------------------------------------------------------------


def _png_chunks(data: bytes, source: str) -> list[tuple[bytes, bytes]]:
    if not data.startswith(PNG_SIGNATURE):
        raise CaptionerError(f"{source}: not a PNG file")
    pos, chunks = len(PNG_SIGNATURE), []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if pos + 12 + length > len(data):
            raise CaptionerError(f"{source}: damaged PNG chunk {kind!r}")
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
        if kind == b"IEND":
            return chunks
    raise CaptionerError(f"{source}: PNG has no IEND chunk (truncated?)")


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _embed_png(data: bytes, caption: str, tags: list[str], model: str, score: float | None, source: str):
    chunks = _png_chunks(data, source)

    def is_xmp(kind, payload):
        return kind == b"iTXt" and payload.startswith(PNG_XMP_KEYWORD + b"\x00")

    old_xmp_chunk = next((p for k, p in chunks if is_xmp(k, p)), None)
    old_xmp = None
    if old_xmp_chunk is not None:  # keyword\0 flag method lang\0 translated\0 text
        rest = old_xmp_chunk[len(PNG_XMP_KEYWORD) + 1 :]
        flag, rest = rest[0], rest[2:]
        text = rest.split(b"\x00", 2)[2]
        old_xmp = zlib.decompress(text) if flag else text
    old_exif = next((p for k, p in chunks if k == b"eXIf"), None)
    previous = read_xmp(old_xmp)["caption"] if old_xmp else None
    update = update_xmp(old_xmp, caption, tags, model, score, source)
    exif, kept_exif = _exif_with_description(old_exif, caption, previous)
    kept = [(k, p) for k, p in chunks if k != b"eXIf" and not is_xmp(k, p)]
    first_data = next(i for i, (k, _) in enumerate(kept) if k in (b"IDAT", b"IEND"))
    xmp_chunk = (b"iTXt", PNG_XMP_KEYWORD + b"\x00\x00\x00\x00\x00" + update.packet)
    new = [*kept[:first_data], (b"eXIf", exif[len(EXIF_HEADER) :]), xmp_chunk, *kept[first_data:]]
    return PNG_SIGNATURE + b"".join(_png_chunk(k, p) for k, p in new), _merge(update, kept_exif)


# -- WebP ----------------------------------------------------------------------------------------------------------


def _riff_chunks(data: bytes, source: str) -> list[tuple[bytes, bytes]]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise CaptionerError(f"{source}: not a WebP file")
    pos, chunks = 12, []
    end = min(len(data), 8 + struct.unpack("<I", data[4:8])[0])
    while pos + 8 <= end:
        kind, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if pos + 8 + size > len(data):
            raise CaptionerError(f"{source}: damaged WebP chunk {kind!r}")
        chunks.append((kind, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return chunks


def _embed_webp(
    data: bytes,
    caption: str,
    tags: list[str],
    model: str,
    score: float | None,
    source: str,
    *,
    size: tuple[int, int],
    has_alpha: bool,
):
    chunks = _riff_chunks(data, source)
    old_xmp = next((p for k, p in chunks if k == b"XMP "), None)
    old_exif = next((p for k, p in chunks if k == b"EXIF"), None)
    previous = read_xmp(old_xmp)["caption"] if old_xmp else None
    update = update_xmp(old_xmp, caption, tags, model, score, source)
    exif, kept_exif = _exif_with_description(old_exif, caption, previous)
    body = [(k, p) for k, p in chunks if k not in (b"EXIF", b"XMP ")]
    if body and body[0][0] == b"VP8X":
        flags = body[0][1][0] | 0x08 | 0x04  # EXIF and XMP present
        body[0] = (b"VP8X", bytes([flags]) + body[0][1][1:])
    else:  # simple format: add the extended header the metadata chunks need
        w, h = size
        flags = 0x08 | 0x04 | (0x10 if has_alpha else 0)
        canvas = (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
        body.insert(0, (b"VP8X", bytes([flags, 0, 0, 0]) + canvas))
    body += [(b"EXIF", exif[len(EXIF_HEADER) :]), (b"XMP ", update.packet)]
    payload = b"WEBP" + b"".join(k + struct.pack("<I", len(p)) + p + (b"\x00" if len(p) & 1 else b"") for k, p in body)
    return b"RIFF" + struct.pack("<I", len(payload)) + payload, _merge(update, kept_exif)


# -- entry point ---------------------------------------------------------------------------------------------------


def embed_caption(
    path: str | os.PathLike, caption: str, tags: list[str], model: str, score: float | None = None
) -> XmpUpdate:
    """Write caption and tags into ``path`` itself (JPEG, PNG or WebP), atomically, keeping its timestamps."""
    from PIL import Image

    path = Path(path)
    source = display_path(path)
    try:
        st = path.stat()
        data = path.read_bytes()
        with Image.open(path) as img:
            fmt, size, has_alpha = img.format, img.size, "A" in img.getbands()
    except OSError as e:
        raise CaptionerError(f"{source}: cannot read for embedding ({e.strerror or e})") from None
    if fmt == "JPEG":
        out, update = _embed_jpeg(data, caption, tags, model, score, source)
    elif fmt == "PNG":
        out, update = _embed_png(data, caption, tags, model, score, source)
    elif fmt == "WEBP":
        out, update = _embed_webp(data, caption, tags, model, score, source, size=size, has_alpha=has_alpha)
    else:
        raise CaptionerError(f"{source}: --embed supports JPEG, PNG and WebP, not {fmt}")
    with atomic_write(path, "wb") as f:
        f.write(out)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    return update
