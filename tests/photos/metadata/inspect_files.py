"""Looking inside photos from the tests' side, independently of the code under test."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path

import pyexiv2
from PIL import Image


def jpeg_scan(data: bytes) -> bytes:
    """Everything from the JPEG's start-of-scan marker on: the compressed image data and any trailer."""
    at = 2
    while data[at + 1] != 0xDA:
        at += 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]
    return data[at:]


def jpeg_markers(data: bytes) -> list[tuple[int, bytes]]:
    at, out = 2, []
    while data[at + 1] != 0xDA:
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        out.append((data[at + 1], data[at + 4 : at + 2 + length]))
        at += 2 + length
    return out


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    at, out = 8, []
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        out.append((data[at + 4 : at + 8], data[at + 8 : at + 8 + length]))
        at += 12 + length
    return out


def webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    at, out = 12, []
    while at < len(data):
        (size,) = struct.unpack("<I", data[at + 4 : at + 8])
        out.append((data[at : at + 4], data[at + 8 : at + 8 + size]))
        at += 8 + size + (size & 1)
    return out


def image_payload(path: Path) -> bytes:
    """The bytes that encode the pixels, by format."""
    data = path.read_bytes()
    if data.startswith(b"\xff\xd8"):
        return jpeg_scan(data)
    if data.startswith(b"\x89PNG"):
        return b"".join(p for k, p in png_chunks(data) if k in (b"IHDR", b"PLTE", b"IDAT", b"iCCP", b"tRNS"))
    return b"".join(p for k, p in webp_chunks(data) if k in (b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF"))


def decoded(path: Path) -> tuple[str, tuple[int, int], bytes]:
    with Image.open(io.BytesIO(path.read_bytes())) as img:
        return img.mode, img.size, img.tobytes()


@dataclass
class Meta:
    exif: dict  # values as Latin-1 strings: .encode("latin-1") gives the stored bytes
    exif_types: dict
    iptc: dict
    xmp: dict
    packet: str
    thumbnail: bytes
    icc: bytes


def meta(path: Path) -> Meta:
    img = pyexiv2.ImageData(path.read_bytes())
    try:
        detail = img.read_exif_detail("latin-1")
        return Meta(
            exif=img.read_exif("latin-1"),
            exif_types={k: v["typeName"] for k, v in detail.items()},
            iptc=img.read_iptc(),
            xmp=img.read_xmp(),
            packet=img.read_raw_xmp(),
            thumbnail=img.read_thumbnail(),
            icc=img.read_icc(),
        )
    finally:
        img.close()


def exif_text(m: Meta, key: str) -> str | None:
    value = m.exif.get(key)
    return None if value is None else value.encode("latin-1").decode("utf-8")
