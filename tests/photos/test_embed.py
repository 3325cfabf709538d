import os

import numpy as np
import pytest
from PIL import Image

from captioner.errors import CaptionerError
from captioner.photos.embed import IMAGE_DESCRIPTION, embed_caption
from captioner.photos.xmp import read_xmp


def photo(path, fmt, **kw):
    a = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    img = Image.fromarray(a)
    if fmt == "WEBP-alpha":
        img, fmt = img.convert("RGBA"), "WEBP"
    img.save(path, fmt, **kw)
    os.utime(path, (1_000_000_000, 1_000_000_000))
    return path


@pytest.mark.parametrize(
    "fmt,kw",
    [
        ("JPEG", {}),
        ("JPEG", {"exif": b""}),
        ("PNG", {}),
        ("WEBP", {"lossless": True}),
        ("WEBP", {"quality": 80}),
        ("WEBP-alpha", {"lossless": True}),
    ],
)
def test_embed_keeps_pixels_and_timestamps_and_reads_back(tmp_path, fmt, kw):
    path = photo(tmp_path / "p.img", fmt, **kw)
    before = np.asarray(Image.open(path).convert("RGBA"))
    embed_caption(path, "a dog & a <cat>", ["dog", "cat"], "test-model", -1.25)
    assert os.stat(path).st_mtime == 1_000_000_000
    with Image.open(path) as img:
        assert np.array_equal(np.asarray(img.convert("RGBA")), before)
        assert img.getexif()[IMAGE_DESCRIPTION] == "a dog & a <cat>"
        xmp = img.info.get("xmp") or img.info.get("XML:com.adobe.xmp")
    got = read_xmp(xmp if isinstance(xmp, bytes) else xmp.encode())
    assert got["description"] == "a dog & a <cat>" and got["subjects"] == ["dog", "cat"]
    embed_caption(path, "a bird", ["bird"], "test-model", -1.0)  # again: replaces, does not pile up
    with Image.open(path) as img:
        xmp = img.info.get("xmp") or img.info.get("XML:com.adobe.xmp")
        assert img.getexif()[IMAGE_DESCRIPTION] == "a bird"
    got = read_xmp(xmp if isinstance(xmp, bytes) else xmp.encode())
    assert got["subjects"] == ["bird"]


def test_jpeg_scan_data_is_copied_byte_for_byte(tmp_path):
    path = photo(tmp_path / "p.jpg", "JPEG", quality=90)
    data = path.read_bytes()
    scan = data[data.index(b"\xff\xda") :]
    embed_caption(path, "x", [], "m")
    assert path.read_bytes().endswith(scan)


def test_existing_exif_fields_and_hand_written_description_survive(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[IMAGE_DESCRIPTION] = "Our wedding"
    exif.get_ifd(0x8769)[0x9003] = "2020:01:01 10:00:00"
    path = photo(tmp_path / "p.jpg", "JPEG", exif=exif.tobytes())
    update = embed_caption(path, "a man and a woman", ["man"], "m")
    assert update.kept_description
    e = Image.open(path).getexif()
    assert e[IMAGE_DESCRIPTION] == "Our wedding" and e[0x010F] == "Canon"
    assert e.get_ifd(0x8769)[0x9003] == "2020:01:01 10:00:00"


def test_unsupported_and_damaged_files(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "x.bmp")
    with pytest.raises(CaptionerError, match="supports JPEG, PNG and WebP"):
        embed_caption(tmp_path / "x.bmp", "a", [], "m")
    path = photo(tmp_path / "cut.jpg", "JPEG")
    data = path.read_bytes()
    path.write_bytes(data[:20])
    with pytest.raises(CaptionerError, match="cut.jpg"):
        embed_caption(path, "a", [], "m")
    assert path.read_bytes() == data[:20]
