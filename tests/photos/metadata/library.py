"""A small photo library built from nothing with Pillow and pyexiv2: the metadata situations captioner must survive."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pyexiv2
from PIL import Image, ImageCms, PngImagePlugin

DE_ONLY = "Sonnenuntergang am Strand"
EXIF_HAND = "Grandma's garden – Straße, 1987"
IPTC_HAND = "Hand caption in IPTC only"
NON_UTF8_NAME = os.fsdecode(b"caf\xe9.jpg")
FOREIGN_NS = "http://example.com/ns/foreign/1.0/"
USER_COMMENT = "charset=Unicode commentaire écrit à la main"


def pixels(width: int, height: int, seed: int = 0, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    channels = len(mode)
    a = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    return Image.fromarray(a, mode)


def encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def xmp(body: str, extra_ns: str = "") -> str:
    """An XMP packet with ``body`` inside one rdf:Description (dc, lr, photoshop and a foreign namespace bound)."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:lr="http://ns.adobe.com/lightroom/1.0/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"'
        f' xmlns:foreign="{FOREIGN_NS}" {extra_ns}>{body}</rdf:Description></rdf:RDF></x:xmpmeta>'
        '<?xpacket end="w"?>'
    )


def bag(prop: str, items: list[str], kind: str = "Bag") -> str:
    lis = "".join(f"<rdf:li>{i}</rdf:li>" for i in items)
    return f"<{prop}><rdf:{kind}>{lis}</rdf:{kind}></{prop}>"


def alt(prop: str, values: dict[str, str]) -> str:
    lis = "".join(f'<rdf:li xml:lang="{k}">{v}</rdf:li>' for k, v in values.items())
    return f"<{prop}><rdf:Alt>{lis}</rdf:Alt></{prop}>"


def with_metadata(data: bytes, exif=None, iptc=None, packet=None, thumbnail=None, encoding="utf-8") -> bytes:
    img = pyexiv2.ImageData(data)
    try:
        if exif:
            img.modify_exif(exif, encoding)
        if thumbnail:
            img.modify_thumbnail(thumbnail)
            img.modify_exif({f"Exif.Thumbnail.{k}": v for k, v in _RESOLUTION.items()})
        if iptc:
            img.modify_iptc(iptc, encoding)
        if packet:
            img.modify_raw_xmp(packet)
        return img.get_bytes()
    finally:
        img.close()


_RESOLUTION = {"XResolution": "72/1", "YResolution": "72/1", "ResolutionUnit": "2"}
RICH_EXIF = {
    **{f"Exif.Image.{k}": v for k, v in _RESOLUTION.items()},
    "Exif.Image.Make": "Canon",
    "Exif.Image.Model": "Canon EOS 5D",
    "Exif.Image.YCbCrPositioning": "1",
    "Exif.Photo.ExifVersion": "48 50 51 50",
    "Exif.Photo.ComponentsConfiguration": "1 2 3 0",
    "Exif.Photo.ColorSpace": "1",
    "Exif.Photo.PixelXDimension": "640",
    "Exif.Photo.PixelYDimension": "480",
    "Exif.Photo.UserComment": USER_COMMENT,
    "Exif.Canon.OwnerName": "Jane Doe",  # exiv2 builds a Canon MakerNote from these
    "Exif.Canon.FirmwareVersion": "Firmware 1.1.1",
    "Exif.GPSInfo.GPSVersionID": "2 3 0 0",
    "Exif.GPSInfo.GPSLatitudeRef": "N",
    "Exif.GPSInfo.GPSLatitude": "48/1 8/1 3000/100",
    "Exif.GPSInfo.GPSLongitudeRef": "E",
    "Exif.GPSInfo.GPSLongitude": "11/1 34/1 1200/100",
}


def insert_jpeg_segments(data: bytes, *segments: tuple[int, bytes]) -> bytes:
    """``data`` with extra (marker, payload) segments just before its first quantisation table."""
    at = 2
    while data[at + 1] != 0xDB:  # walk the header segments (an embedded thumbnail has tables of its own)
        at += 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]
    raw = b"".join(bytes([0xFF, m]) + struct.pack(">H", len(p) + 2) + p for m, p in segments)
    return data[:at] + raw + data[at:]


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def add_iptc_digest(data: bytes) -> bytes:
    """A JPEG whose Photoshop segment also carries an up-to-date IPTCDigest (as Photoshop and Lightroom write it)."""
    start = data.index(b"Photoshop 3.0\x00")  # the APP13 payload; its length field comes just before
    (length,) = struct.unpack(">H", data[start - 2 : start])
    payload = data[start : start - 2 + length]
    pos = payload.index(b"8BIM\x04\x04")
    name_len = payload[pos + 6]
    size_at = pos + 6 + ((name_len + 2) & ~1)
    (size,) = struct.unpack(">I", payload[size_at : size_at + 4])
    iptc = payload[size_at + 4 : size_at + 4 + size]
    digest = b"8BIM\x04\x25\x00\x00" + struct.pack(">I", 16) + hashlib.md5(iptc).digest()
    new = payload + digest
    return data[: start - 2] + struct.pack(">H", len(new) + 2) + new + data[start - 2 + length :]


def build(root: Path) -> dict[str, Path]:
    """Write the library under ``root``; returns name -> path."""
    root.mkdir(parents=True, exist_ok=True)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    base = pixels(640, 480, seed=1)
    thumb = encode(base.resize((160, 120)), "JPEG", quality=70)
    p: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        p[name] = root / name
        p[name].write_bytes(data)

    rich = with_metadata(
        encode(base, "JPEG", quality=90, icc_profile=icc, comment=b"a JPEG comment"),
        exif=RICH_EXIF,
        iptc={"Iptc.Envelope.CharacterSet": "\x1b%G", "Iptc.Application2.Byline": "Jane Doe"},
        packet=xmp(
            '<photoshop:City>München</photoshop:City><foreign:Note rdf:parseType="Resource">'
            "<foreign:Mood>calm</foreign:Mood></foreign:Note>" + bag("dc:subject", ["Familie"])
        ),
        thumbnail=thumb,
    )
    put("rich.jpg", insert_jpeg_segments(rich, (0xE9, b"unknown APP9 payload")))
    put("plain.jpg", encode(pixels(64, 48, seed=2), "JPEG"))
    put(
        "exif_hand.jpg",
        with_metadata(encode(pixels(64, 48, 3), "JPEG"), exif={"Exif.Image.ImageDescription": EXIF_HAND}),
    )
    latin = {"Exif.Image.ImageDescription": "Straße in Köln"}
    put("exif_latin1.jpg", with_metadata(encode(pixels(64, 48, 4), "JPEG"), exif=latin, encoding="latin-1"))
    iptc = {
        "Iptc.Envelope.CharacterSet": "\x1b%G",
        "Iptc.Application2.Caption": IPTC_HAND,
        "Iptc.Application2.Keywords": ["holiday", "iptc-only"],
    }
    put("iptc_only.jpg", with_metadata(encode(pixels(64, 48, 5), "JPEG"), iptc=iptc))
    legacy = {"Iptc.Application2.Caption": "Grüße aus Köln", "Iptc.Application2.City": "Köln"}
    put("iptc_latin1.jpg", with_metadata(encode(pixels(64, 48, 6), "JPEG"), iptc=legacy, encoding="latin-1"))
    de = xmp(alt("dc:description", {"de-DE": DE_ONLY}))
    put("de_only.jpg", with_metadata(encode(pixels(64, 48, 7), "JPEG"), packet=de))
    kw = {"Iptc.Envelope.CharacterSet": "\x1b%G", "Iptc.Application2.Keywords": ["cat", "Familie", "iptc-only"]}
    put(
        "keywords.jpg",
        with_metadata(encode(pixels(64, 48, 8), "JPEG"), iptc=kw, packet=xmp(bag("dc:subject", ["cat", "Familie"]))),
    )
    digest = with_metadata(
        encode(pixels(64, 48, 9), "JPEG"),
        exif={"Exif.Image.ImageDescription": EXIF_HAND},
        iptc={"Iptc.Envelope.CharacterSet": "\x1b%G", "Iptc.Application2.Caption": EXIF_HAND},
    )
    put("digest.jpg", add_iptc_digest(digest))

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "a PNG text chunk")
    png = encode(pixels(64, 48, 10), "PNG", pnginfo=info, icc_profile=icc)
    at = png.rindex(b"IEND") - 4
    put("chunks.png", png[:at] + png_chunk(b"prVt", b"private ancillary chunk") + png[at:])
    put("lossy.webp", encode(pixels(64, 48, 11), "WEBP", quality=80))
    put("alpha.webp", encode(pixels(33, 17, 12, "RGBA"), "WEBP", lossless=True))

    put("IMG_1.JPG", encode(pixels(64, 48, 13), "JPEG"))
    put("IMG_1.CR2", b"not really a raw file, but named like one")
    put("pair.jpg", encode(pixels(64, 48, 14), "JPEG"))
    put("pair.png", encode(pixels(64, 48, 15), "PNG"))
    put(NON_UTF8_NAME, encode(pixels(64, 48, 16), "JPEG"))

    elsewhere = root.parent / f"{root.name}-elsewhere"
    elsewhere.mkdir(exist_ok=True)
    target = elsewhere / "target.jpg"
    target.write_bytes(encode(pixels(64, 48, 17), "JPEG"))
    p["target.jpg"] = target
    p["link.jpg"] = root / "link.jpg"
    os.symlink(os.path.relpath(target, root), p["link.jpg"])
    put("hard_a.jpg", encode(pixels(64, 48, 18), "JPEG"))
    p["hard_b.jpg"] = root / "hard_b.jpg"
    os.link(p["hard_a.jpg"], p["hard_b.jpg"])
    return p
