"""Per-file cost of captioner's metadata writes: embedding and XMP sidecars, on a small and a big JPEG.

Each photo is written twice: the first write changes the file, the second finds nothing to do (the common case of a
re-run). For scale, the time Pillow needs just to decode the same photo and shrink it for the model is shown too.

Example:
    python scripts/benchmark_metadata.py --small 200 --big 10
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyexiv2
from PIL import Image

from captioner.photos.metadata import MetadataUpdate, embed, write_sidecar

UPDATE = MetadataUpdate(
    "a dog running on a sandy beach next to the sea",
    keywords=("dog", "beach", "sea"),
    hierarchical=("animal/mammal/dog", "place/beach"),
    model="benchmark",
    score=-5.125,
    confidence=0.91,
)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def photo(path: Path, width: int, height: int) -> None:
    """A photo-like JPEG (smooth gradients plus sensor-like noise) with a little EXIF, as cameras write."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 255, y / height * 255, (x + y) / (width + height) * 255], axis=-1)
    noise = np.random.default_rng(0).normal(0, 6, base.shape)
    Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(path, quality=90)
    img = pyexiv2.ImageData(path.read_bytes())
    img.modify_exif(
        {"Exif.Image.Make": "Benchmark", "Exif.Image.Model": "Synthetic", "Exif.Photo.ISOSpeedRatings": "200"}
    )
    path.write_bytes(img.get_bytes())
    img.close()


def timed(call: Callable[[Path], object], paths: list[Path]) -> list[float]:
    out = []
    for p in paths:
        start = time.perf_counter()
        call(p)
        out.append((time.perf_counter() - start) * 1000)
    return out


def decode(path: Path) -> None:
    with Image.open(path) as img:
        img.convert("RGB").resize((224, 224))


def report(label: str, ms: list[float]) -> None:
    print(f"  {label:<34} {statistics.mean(ms):8.2f} ms/file (median {statistics.median(ms):7.2f}, n={len(ms)})")


def run(folder: Path, name: str, size: tuple[int, int], count: int) -> None:
    source = folder / f"{name}-source.jpg"
    photo(source, *size)
    paths = []
    for i in range(count):
        paths.append(folder / f"{name}-{i:05d}.jpg")
        shutil.copyfile(source, paths[-1])
    mb = source.stat().st_size / 1e6
    print(f"{name}: {size[0]}x{size[1]} JPEG, {mb:.2f} MB, {count} files")
    report("Pillow decode + resize (reference)", timed(decode, paths))
    embed_first = timed(lambda p: embed(p, UPDATE), paths)
    report("embed, first run (writes)", embed_first)
    report("embed, re-run (nothing to write)", timed(lambda p: embed(p, UPDATE), paths))
    for p in paths:
        shutil.copyfile(source, p)
    sidecar_first = timed(lambda p: write_sidecar(p, UPDATE), paths)
    report("sidecar, first run (writes)", sidecar_first)
    report("sidecar, re-run (nothing to write)", timed(lambda p: write_sidecar(p, UPDATE), paths))
    minutes = [statistics.mean(ms) * 10_000 / 60_000 for ms in (embed_first, sidecar_first)]
    print(f"  10,000 such photos: embed ~{minutes[0]:.1f} min, sidecars ~{minutes[1]:.1f} min")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100, help="how many 640x480 photos")
    parser.add_argument("--big", type=int, default=10, help="how many big photos")
    parser.add_argument("--big-size", default="6000x4000", help="size of the big photos, WxH (24 MP by default)")
    parser.add_argument("--folder", type=Path, help="work here (default: a temporary folder, removed afterwards)")
    args = parser.parse_args()
    print(
        f"CPU: {cpu_model()}; Python {platform.python_version()}; pyexiv2 {pyexiv2.__version__}, "
        f"exiv2 {pyexiv2.__exiv2_version__}"
    )
    big = tuple(int(v) for v in args.big_size.lower().split("x"))
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        if args.small:
            run(Path(folder), "small", (640, 480), args.small)
        if args.big:
            run(Path(folder), "big", big, args.big)


if __name__ == "__main__":
    main()
