"""Reading photos: every kind of odd file becomes an RGB image or a one-line error naming the file."""

import os

import numpy as np
import pytest
from PIL import Image

from captioner.data.images import load_image, read_tensor
from captioner.errors import CaptionerError
from captioner.paths import display_path


def rgb_noise(w=40, h=30, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8))


def error_of(path, **kw):
    with pytest.raises(CaptionerError) as e:
        load_image(path, **kw)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(display_path(path) + ": ")
    return msg


def test_jpeg_draft_decodes_big_photos_at_reduced_scale(tmp_path):
    rgb_noise(3000, 2000).save(tmp_path / "big.jpg", quality=80)
    img = load_image(tmp_path / "big.jpg", size=224)
    assert img.mode == "RGB" and 224 <= min(img.size) < 500
    assert read_tensor(tmp_path / "big.jpg", 224).shape == (3, 224, 224)


def camera_jpeg(path, photo, preview, orientation=1):
    """A JPEG with a Multi-Picture preview frame after the photo, as cameras write them."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    photo.save(path, format="MPO", save_all=True, append_images=[preview], quality=85, exif=exif)


def test_a_camera_preview_big_enough_and_of_the_photos_shape_is_decoded_instead(tmp_path):
    photo = rgb_noise(3000, 2000)
    red = Image.new("RGB", (900, 600), (250, 0, 0))  # unlike the photo, so the test sees which was decoded
    camera_jpeg(tmp_path / "cam.jpg", photo, red)
    img = load_image(tmp_path / "cam.jpg", size=224)
    assert img.size == (450, 300)  # the preview at draft scale 1/2 (the photo would be 375x250 at 1/8)
    assert np.asarray(img)[..., 0].mean() > 240 and np.asarray(img)[..., 1].mean() < 10
    camera_jpeg(tmp_path / "rot.jpg", photo, red, orientation=6)
    assert load_image(tmp_path / "rot.jpg", size=224).size == (300, 450)  # the photo's orientation applies
    assert load_image(tmp_path / "cam.jpg").size == (3000, 2000)  # without a model size: the photo itself


def test_a_damaged_camera_preview_falls_back_to_the_photo(tmp_path):
    camera_jpeg(tmp_path / "cam.jpg", rgb_noise(3000, 2000), Image.new("RGB", (900, 600), (250, 0, 0)))
    data = (tmp_path / "cam.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) - 2000])  # cut short: the preview, stored last, is damaged
    img = load_image(tmp_path / "cut.jpg", size=224)
    assert img.size == (375, 250) and np.asarray(img)[..., 1].mean() > 60  # the photo, not the red preview


@pytest.mark.parametrize("w,h", [(200, 133), (900, 900)])  # too small for the model; another shape
def test_a_camera_preview_too_small_or_of_another_shape_is_not_used(tmp_path, w, h):
    camera_jpeg(tmp_path / "cam.jpg", rgb_noise(3000, 2000), Image.new("RGB", (w, h), (250, 0, 0)))
    img = load_image(tmp_path / "cam.jpg", size=224)
    assert img.size == (375, 250)  # the photo at draft scale 1/8
    assert np.asarray(img)[..., 1].mean() > 60  # noise, not the red preview


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "PA", "CMYK", "I;16", "I", "F", "1"])
def test_any_mode_becomes_rgb(tmp_path, mode):
    base = rgb_noise()
    if mode == "PA":
        img = base.convert("P").convert("PA")
    elif mode in ("I;16", "I", "F"):
        img = Image.fromarray(
            (np.asarray(base.convert("L"), dtype=np.uint16) * 257).astype(
                {"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]
            ),
            mode if mode != "I;16" else None,
        )
        if mode == "I;16":
            img = Image.fromarray(np.asarray(base.convert("L"), dtype=np.uint16) * 257)
    else:
        img = base.convert(mode)
    ext = "tiff" if mode in ("CMYK", "I", "F", "PA") else "png"
    path = tmp_path / f"x.{ext}"
    img.save(path)
    out = load_image(path)
    assert out.mode == "RGB" and out.size == (40, 30)


def test_alpha_is_composited_on_white(tmp_path):
    Image.new("RGBA", (8, 8), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    assert load_image(tmp_path / "clear.png").getpixel((0, 0)) == (255, 255, 255)


def test_sixteen_bit_png_keeps_its_range(tmp_path):
    a = np.full((8, 8), 65535, dtype=np.uint16)
    Image.fromarray(a).save(tmp_path / "white16.png")
    assert load_image(tmp_path / "white16.png").getpixel((0, 0)) == (255, 255, 255)


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (10, 10), c) for c in [(255, 0, 0), (0, 0, 255)]]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    r, g, b = load_image(tmp_path / "a.gif").getpixel((5, 5))
    assert r > 200 and b < 50


def test_exif_orientation_is_applied_and_bogus_orientation_ignored(tmp_path):
    img = rgb_noise(40, 20)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90
    img.save(tmp_path / "rot.jpg", exif=exif)
    assert load_image(tmp_path / "rot.jpg").size == (20, 40)
    exif[0x0112] = 77  # nonsense
    img.save(tmp_path / "bogus.jpg", exif=exif)
    assert load_image(tmp_path / "bogus.jpg").size == (40, 20)


@pytest.mark.parametrize("w,h", [(1, 1), (10000, 1)])
def test_extreme_shapes(tmp_path, w, h):
    Image.new("RGB", (w, h), (1, 2, 3)).save(tmp_path / "x.png")
    assert read_tensor(tmp_path / "x.png", 224).shape == (3, 224, 224)


def test_zero_byte_text_and_html_files(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert "empty" in error_of(tmp_path / "empty.jpg")
    (tmp_path / "notes.jpg").write_text("hello, this is not a photo\n")
    assert "text file" in error_of(tmp_path / "notes.jpg")
    (tmp_path / "page.png").write_text("<!DOCTYPE html><html><body>hi</body></html>")
    assert "HTML" in error_of(tmp_path / "page.png")


def test_truncated_jpeg_and_bad_png_crc(tmp_path):
    rgb_noise(200, 200).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    assert "truncated" in error_of(tmp_path / "cut.jpg")
    rgb_noise().save(tmp_path / "ok.png")
    data = bytearray((tmp_path / "ok.png").read_bytes())
    idat = data.index(b"IDAT")
    data[idat + 6] ^= 0xFF  # corrupt the compressed data; the CRC no longer matches
    (tmp_path / "crc.png").write_bytes(bytes(data))
    assert "crc.png" in error_of(tmp_path / "crc.png")


def test_unsupported_format(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"\x00\x00\x00\x18ftypheic" + os.urandom(200))
    assert "unknown or unsupported format" in error_of(tmp_path / "x.jpg")


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    Image.new("L", (3000, 3000)).save(tmp_path / "bomb.png", optimize=True)
    assert "over the limit" in error_of(tmp_path / "bomb.png", max_pixels=1_000_000)


def test_permissions_directory_links_and_vanished_files(tmp_path, monkeypatch):
    rgb_noise().save(tmp_path / "secret.jpg")
    os.chmod(tmp_path / "secret.jpg", 0)
    if os.geteuid() == 0:  # root reads anything: have the open fail as it does for everyone else

        def denied(path, *a, **kw):
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr("PIL.Image.open", denied)
    assert "permission denied" in error_of(tmp_path / "secret.jpg")
    monkeypatch.undo()
    (tmp_path / "dir.jpg").mkdir()
    assert "is a directory" in error_of(tmp_path / "dir.jpg")
    os.symlink(tmp_path / "gone.jpg", tmp_path / "broken.jpg")
    assert "broken symbolic link" in error_of(tmp_path / "broken.jpg")
    os.symlink(tmp_path / "loop.jpg", tmp_path / "loop.jpg")
    assert "loop.jpg" in error_of(tmp_path / "loop.jpg")
    assert "no such file" in error_of(tmp_path / "never.jpg")


def test_non_utf8_file_name(tmp_path):
    name = os.fsdecode(b"caf\xe9.jpg")
    rgb_noise().save(os.path.join(tmp_path, name), format="JPEG")
    assert load_image(os.path.join(tmp_path, name)).mode == "RGB"
    (tmp_path / "x").mkdir()
    bad = os.path.join(tmp_path, "x", os.fsdecode(b"\xff\xfe.jpg"))
    open(bad, "wb").close()
    msg = error_of(bad)
    msg.encode("utf-8")  # printable: the undecodable bytes are escaped
    assert "\\xff\\xfe" in msg
