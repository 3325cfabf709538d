#!/usr/bin/env python
"""The bad-input matrix of `captioner caption`: make every kind of broken file, caption the folder, print each result.

    python scripts/bad_inputs.py [--weights model.pt]

Prints one row per case (caption, or the one-line error) and the command's exit status and summary.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def make_cases(d: Path) -> dict[str, str]:
    """Files in ``d``; returns {file name: what it is}."""
    rng = np.random.default_rng(0)
    photo = Image.open(ROOT / "examples" / "chelsea.jpg").convert("RGB").resize((160, 120))
    cases = {}

    def case(name: str, what: str) -> Path:
        cases[name] = what
        return d / name

    photo.save(case("ok.jpg", "a normal JPEG"))
    case("zero.jpg", "zero-byte file").write_bytes(b"")
    data = (d / "ok.jpg").read_bytes()
    case("truncated.jpg", "truncated JPEG (first 40%)").write_bytes(data[: len(data) * 2 // 5])
    photo.save(d / "tmp.png")
    png = bytearray((d / "tmp.png").read_bytes())
    png[png.index(b"IDAT") + 6] ^= 0xFF
    case("bad_crc.png", "PNG with a corrupted IDAT chunk (bad CRC)").write_bytes(bytes(png))
    (d / "tmp.png").unlink()
    case("notes.jpg", "text file named .jpg").write_text("shopping list: eggs, milk\n")
    case("saved_page.png", "HTML page saved as .png").write_text("<!DOCTYPE html><html><body>hi</body></html>")
    case("photo.heic.jpg", "unsupported format (HEIC bytes)").write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(300))
    frames = [photo, photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    frames[0].save(case("animated.gif", "animated GIF"), save_all=True, append_images=frames[1:])
    Image.fromarray(np.asarray(photo.convert("L")).astype(np.uint16) * 257).save(case("deep16.png", "16-bit PNG"))
    photo.convert("CMYK").save(case("cmyk.jpg", "CMYK JPEG"))
    photo.convert("P").save(case("palette.png", "palette PNG"))
    photo.convert("LA").save(case("gray_alpha.png", "LA (grayscale + alpha) PNG"))
    rgba = photo.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(case("rgba.png", "RGBA PNG, half transparent"))
    photo.convert("L").save(case("gray.jpg", "grayscale JPEG"))
    Image.new("RGB", (1, 1), (200, 30, 30)).save(case("one_pixel.png", "1x1 image"))
    Image.fromarray(rng.integers(0, 255, (1, 10000, 3), dtype=np.uint8)).save(case("strip.png", "10000x1 image"))
    Image.new("L", (12000, 8000)).save(case("bomb.png", "96 MP image, over Pillow's decompression-bomb limit"))
    exif = Image.Exif()
    exif[0x0112] = 99  # orientation must be 1..8
    photo.save(case("bogus_exif.jpg", "EXIF orientation 99 (bogus)"), exif=exif)
    (d / "dir.jpg").mkdir()
    cases["dir.jpg"] = "a directory named x.jpg (skipped by the folder walk; named directly: error)"
    os.symlink(d / "nowhere.jpg", case("broken_link.jpg", "broken symlink"))
    os.symlink(d / "loop.jpg", case("loop.jpg", "symlink to itself (loop)"))
    os.symlink(d, d / "sub_loop")  # a folder symlink loop: the walk must not recurse forever
    photo.save(os.path.join(d, os.fsdecode(b"caf\xe9.jpg")))
    cases[os.fsdecode(b"caf\xe9.jpg")] = "non-UTF-8 file name (latin-1 bytes)"
    photo.save(case("locked.jpg", "unreadable file (chmod 000; root can still read it)"))
    os.chmod(d / "locked.jpg", 0)
    return cases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path)
    args = ap.parse_args()
    from captioner.paths import display_path

    weights = ["--weights", str(args.weights)] if args.weights else []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "library"
        d.mkdir()
        cases = make_cases(d)
        out = Path(tmp) / "out.jsonl"
        cmd = [sys.executable, "-m", "captioner", "caption", str(d), "--format", "jsonl", "-o", str(out), *weights]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        records = {os.path.basename(r["path"]): r for r in map(json.loads, out.read_text().splitlines())}
        print(f"{'file':<18} {'case':<52} result")
        for name, what in cases.items():
            shown = display_path(name)
            r = records.get(shown)
            if r is None:
                result = "not an input (skipped)"
            elif "error" in r:
                result = "ERROR " + r["error"].split(": ", 1)[-1]
            else:
                result = "caption: " + r["caption"]
            print(f"{shown:<18} {what:<52} {result}")
        direct = subprocess.run(
            [sys.executable, "-m", "captioner", "caption", str(d / "dir.jpg"), *weights], capture_output=True, text=True
        )
        print(f"{'dir.jpg (named)':<18} {'':<52} exit {direct.returncode}: {direct.stderr.strip()}")
        missing = subprocess.run(
            [sys.executable, "-m", "captioner", "caption", str(d / "nope.jpg"), *weights],
            capture_output=True,
            text=True,
        )
        print(
            f"{'nope.jpg':<18} {'a path that does not exist':<52} exit {missing.returncode}: "
            f"{missing.stderr.strip().splitlines()[-1]}"
        )
        print(f"\nfolder run: exit {proc.returncode}; {proc.stderr.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
