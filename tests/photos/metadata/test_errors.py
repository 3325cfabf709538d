"""Every failure is a one-line CaptionerError naming the file, and the file is left as it was."""

from __future__ import annotations

import os

import pytest

from captioner.errors import CaptionerError
from captioner.photos.metadata import MetadataUpdate, embed, read_metadata, write_sidecar
from tests.photos.metadata.library import NON_UTF8_NAME, encode, insert_jpeg_segments, pixels

UPDATE = MetadataUpdate("a caption")


def _fails(call, path, match):
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(CaptionerError, match=match) as e:
        call(path, UPDATE)
    message = str(e.value)
    assert "\n" not in message and "Traceback" not in message
    message.encode("utf-8")  # printable, even for a file name that is not UTF-8
    if before is not None:
        assert path.read_bytes() == before
    return message


def test_missing_file(tmp_path):
    assert "nothing.jpg" in _fails(embed, tmp_path / "nothing.jpg", "cannot read")
    assert "nothing.jpg" in _fails(write_sidecar, tmp_path / "nothing.jpg", "cannot read")


def test_folder_is_not_a_photo(tmp_path):
    _fails(embed, tmp_path, "cannot read|not a regular file")


@pytest.mark.parametrize(("name", "fmt"), [("a.gif", "GIF"), ("a.tif", "TIFF"), ("a.bmp", "BMP")])
def test_formats_that_are_not_embedded(tmp_path, name, fmt):
    photo = tmp_path / name
    photo.write_bytes(encode(pixels(16, 16), fmt))
    assert name in _fails(embed, photo, "--embed supports JPEG, PNG, WebP")


def test_not_an_image(tmp_path):
    photo = tmp_path / os.fsdecode(b"caf\xe9.jpg")
    photo.write_bytes(b"just some text, not a photo")
    assert "caf\\xe9.jpg" in _fails(embed, photo, "--embed supports")


def test_truncated_jpeg(tmp_path):
    photo = tmp_path / "cut.jpg"
    photo.write_bytes(encode(pixels(64, 48), "JPEG")[:300])
    _fails(embed, photo, "cut.jpg")


def test_damaged_embedded_xmp(tmp_path):
    photo = tmp_path / "bad.jpg"
    bad = (0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF")
    photo.write_bytes(insert_jpeg_segments(encode(pixels(64, 48), "JPEG"), bad))
    _fails(embed, photo, "bad.jpg.*(XMP|metadata)")
    with pytest.raises(CaptionerError, match="bad.jpg"):
        read_metadata(photo)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_folder(lib):
    photo = lib["plain.jpg"]
    os.chmod(photo.parent, 0o555)
    try:
        _fails(embed, photo, "plain.jpg")
        _fails(write_sidecar, photo, "plain.jpg")
    finally:
        os.chmod(photo.parent, 0o755)


def test_no_permission_to_create_the_temp_file(lib, monkeypatch):
    import captioner.atomic

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(captioner.atomic.tempfile, "mkstemp", refuse)
    assert "Permission denied" in _fails(embed, lib["plain.jpg"], "plain.jpg")
    assert "Permission denied" in _fails(embed, lib[NON_UTF8_NAME], "caf")


def test_failed_replace_leaves_the_photo_and_no_temp_file(lib, monkeypatch):
    photo = lib["plain.jpg"]
    real_replace = os.replace

    def broken(src, dst):
        if str(dst).endswith("plain.jpg"):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", broken)
    _fails(embed, photo, "plain.jpg.*No space left")
    assert sorted(p.name for p in photo.parent.iterdir() if p.name.startswith(".")) == []


def test_missing_folder_with_stem_naming(tmp_path):
    photo = tmp_path / "no-such-folder" / "a.jpg"
    with pytest.raises(CaptionerError, match="no-such-folder"):
        write_sidecar(photo, UPDATE, naming="photo.xmp")


def test_damaged_headers_fail_cleanly_or_embed_safely(lib):
    """Random bytes flipped in the metadata area: a one-line CaptionerError, or a write that passed every check."""
    import random

    rng = random.Random(7)
    names = ["rich.jpg", "keywords.jpg", "digest.jpg", "chunks.png", "alpha.webp", "lossy.webp"]
    for i in range(40):
        name = rng.choice(names)
        data = bytearray(lib[name].read_bytes())
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(min(len(data), 3000))] = rng.randrange(256)
        photo = lib["plain.jpg"].with_name(f"damaged{i}{os.path.splitext(name)[1]}")
        photo.write_bytes(bytes(data))
        for write in (embed, write_sidecar):
            try:
                write(photo, UPDATE)
            except CaptionerError as e:
                assert "\n" not in str(e) and photo.name in str(e)
