"""Reading photos robustly: any mode to RGB, EXIF orientation, JPEG draft decoding, clear one-line errors.

A camera JPEG often carries a preview of itself (a CIPA DC-007 Multi-Picture "large thumbnail", VGA or Full HD):
where it is big enough for the model and has the photo's shape, it is decoded instead of the photo. At 24
megapixels that is 5 ms instead of 31 ms (`python scripts/benchmark_decode.py`): the main image's Huffman decoding
costs the same at any DCT scale.
"""

from __future__ import annotations

import os
import struct
import warnings

import numpy as np
import torch

from captioner.errors import CaptionerError
from captioner.paths import display_path

DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own default decompression-bomb limit (about 0.25 GB of RGB)
PREVIEW_TYPES = ("Large Thumbnail (VGA Equivalent)", "Large Thumbnail (Full HD Equivalent)", "Undefined")
PREVIEW_ASPECT = 0.02  # a preview's width/height may differ from the photo's by this fraction (rounding, padding)
ORIENTATIONS = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270"}
ORIENTATIONS |= {7: "TRANSVERSE", 8: "ROTATE_90"}  # EXIF orientation -> the Pillow transpose that undoes it


def _to_rgb(img):
    """Any Pillow mode to 8-bit RGB; transparency is composited on white, 16-bit and float data are rescaled."""
    from PIL import Image

    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or a.max(initial=0) > 255 else 255.0
        if img.mode == "F":
            lo, hi = float(a.min(initial=0)), float(a.max(initial=1))
            a = (a - lo) / max(hi - lo, 1e-12) * 255.0
        else:
            a = a * (255.0 / hi)
        img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB") if img.mode != "RGB" else img


def load_image(path: str | os.PathLike, size: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS):
    """Open ``path`` as an RGB Pillow image with EXIF orientation applied.

    With ``size``, large JPEGs are decoded at a reduced scale (``Image.draft``) no smaller than ``size`` x ``size``,
    which is what the caption model needs anyway. Raises ``CaptionerError`` with a one-line reason.
    """
    from PIL import Image, UnidentifiedImageError

    name = display_path(path)
    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's own guard (it raises at twice this) follows --max-pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _decode(path, size, max_pixels, preview=True)
    except CaptionerError:
        raise
    except FileNotFoundError:
        if os.path.islink(path):
            raise CaptionerError(f"{name}: broken symbolic link") from None
        raise CaptionerError(f"{name}: no such file (deleted while running?)") from None
    except IsADirectoryError:
        raise CaptionerError(f"{name}: is a directory") from None
    except PermissionError:
        raise CaptionerError(f"{name}: permission denied") from None
    except UnidentifiedImageError:
        kind = _sniff(path)
        raise CaptionerError(f"{name}: not an image Pillow can read{kind}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise CaptionerError(
            f"{name}: over the limit of {max_pixels:,} pixels (a possible decompression bomb; raise --max-pixels "
            "to allow it)"
        ) from None
    except OSError as e:
        if e.errno is not None and e.strerror:
            raise CaptionerError(f"{name}: {e.strerror.lower()}") from None
        msg = str(e) or type(e).__name__
        if "truncated" in msg:
            msg = "truncated or damaged image data"
        raise CaptionerError(f"{name}: cannot decode image ({msg[:150]})") from None
    except (ValueError, SyntaxError, EOFError, MemoryError, struct.error, IndexError, TypeError) as e:
        raise CaptionerError(f"{name}: damaged image ({type(e).__name__}: {str(e)[:120]})") from None


def _decode(path: str | os.PathLike, size: int | None, max_pixels: int, preview: bool):
    """``load_image``'s decoding, its errors left to it; ``preview``: a camera's preview frame may stand in for the
    photo (when it cannot be decoded, the photo is: a file cut short loses its preview first)."""
    from PIL import Image

    with Image.open(path) as img:
        w, h = img.size
        if w * h > max_pixels:
            raise CaptionerError(
                f"{display_path(path)}: {w}x{h} = {w * h:,} pixels is over the limit of {max_pixels:,} "
                "(a possible decompression bomb; raise --max-pixels to allow it)"
            )
        if getattr(img, "is_animated", False):
            img.seek(0)  # animated GIF/PNG/WebP: the first frame
        jpeg = img.format in ("JPEG", "MPO")  # MPO: Pillow's name for a JPEG with Multi-Picture frames
        orientation = _orientation(img) if jpeg else None  # the photo's, before a preview replaces it
        if size and jpeg:
            on_preview = preview and _seek_preview(img, size)
            img.draft("RGB", (size, size))
            if on_preview:
                try:
                    img.load()
                except Exception:  # noqa: BLE001  # a damaged preview: decode the photo instead
                    return _decode(path, size, max_pixels, preview=False)
        img.load()
        if orientation is None:  # other formats: their EXIF may lie after the pixels (PNG)
            orientation = _orientation(img)
        if orientation in ORIENTATIONS:
            img = img.transpose(getattr(Image.Transpose, ORIENTATIONS[orientation]))
        return _to_rgb(img).copy()


def _orientation(img) -> int:
    """The EXIF orientation (1 to 8) of an opened image; 1 where it has none or a bogus EXIF block."""
    try:
        value = img.getexif().get(0x0112, 1)
        return int(value) if isinstance(value, int) else 1
    except Exception:  # a bogus EXIF block must not cost the photo its caption  # noqa: BLE001
        return 1


def _seek_preview(img, size: int) -> bool:
    """Move a JPEG with Multi-Picture frames to its smallest preview that is at least ``size`` x ``size`` and has
    the photo's shape; leave it on the photo when there is none (or a frame cannot be read). Whether it moved."""
    entries = (getattr(img, "mpinfo", None) or {}).get(0xB002) or []
    if len(entries) < 2:
        return False
    width, height = img.size
    best = None
    for frame, entry in list(enumerate(entries))[1:]:
        if entry.get("Attribute", {}).get("MPType") not in PREVIEW_TYPES:
            continue  # stereo views (disparity, multi-angle) and panoramas are other pictures
        try:
            img.seek(frame)
        except Exception:  # noqa: BLE001  # a damaged preview: the photo itself will do
            continue
        w, h = img.size
        if (
            min(w, h) >= size
            and w * h < width * height
            and abs(w / h - width / height) <= PREVIEW_ASPECT * width / height
        ):
            if best is None or w * h < best[1]:
                best = frame, w * h
    img.seek(best[0] if best else 0)
    return best is not None


def _sniff(path: str | os.PathLike) -> str:
    """A hint for a file Pillow rejects: empty, text, HTML."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return ""
    if not head:
        return " (the file is empty)"
    low = head.lstrip().lower()
    if low.startswith((b"<!doctype html", b"<html")):
        return " (it is an HTML page)"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return " (it is a text file)"
        except UnicodeDecodeError:
            pass
    return " (unknown or unsupported format)"


def to_tensor(img, size: int) -> torch.Tensor:
    """Resize (stretch) to size x size, the same geometry as the training data, as a (3, S, S) uint8 tensor."""
    from PIL import Image

    if img.size != (size, size):
        img = img.resize((size, size), Image.BILINEAR, reducing_gap=3.0)
    return torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1)  # (3, S, S)


def read_tensor(path: str | os.PathLike, size: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> torch.Tensor:
    """``load_image`` + ``to_tensor``: the (3, S, S) uint8 tensor the encoder batches are made of."""
    return to_tensor(load_image(path, size, max_pixels), size)
