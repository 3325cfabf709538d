"""Per-file cost of captioner's metadata writes: embedding and XMP sidecars, on a small and a big JPEG.

Each photo is written twice: the first write changes the file, the second finds nothing to do (the common case of a
re-run). For scale, the time Pillow needs just to decode the same photo and shrink it for the model is shown too.

``--run N`` measures the cost inside real caption runs (the shipped model, the CLI's defaults) over N photos, three
times on fresh copies: without metadata, with ``--xmp`` and with ``--embed``. It reports the time spent in the
metadata writes (``photos.job.write_metadata``, timed around each call) as a share of the run, and how much longer
the run took than the one without metadata (decoding workers keep going while the main process writes).

Example:
    python scripts/benchmark_metadata.py --small 200 --big 10
    python scripts/benchmark_metadata.py --small 0 --big 0 --run 300
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyexiv2
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from captioner.photos.metadata import MetadataUpdate, embed, write_sidecar  # noqa: E402

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


def in_runs(folder: Path, count: int, size: tuple[int, int]) -> None:
    """Metadata time inside real caption runs over ``count`` copies of one photo: none, --xmp, --embed."""
    from captioner.photos import job
    from captioner.photos.caption import caption_files
    from captioner.photos.config import CaptionConfig

    source = folder / "run-source.jpg"
    photo(source, *size)
    spent: list[float] = []
    write_metadata = job.write_metadata

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return write_metadata(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - start)

    job.write_metadata = timed
    print(f"caption runs: {count} photos, {size[0]}x{size[1]} JPEG, shipped model, default options")
    caption_files(CaptionConfig([source], output=folder / "warm.txt"))  # warm up: model, ONNX export
    base = None
    for mode in ("none", "xmp", "embed"):
        photos = folder / f"run-{mode}"
        photos.mkdir()
        for i in range(count):
            shutil.copyfile(source, photos / f"p{i:05d}.jpg")
        spent.clear()
        config = CaptionConfig([photos], output=folder / f"{mode}.jsonl", fmt="jsonl")
        config.xmp, config.embed = mode == "xmp", mode == "embed"
        summary = caption_files(config)
        assert summary.failed == 0 and summary.total == count, summary.errors[:3]
        base = summary.seconds if base is None else base
        share, longer = sum(spent) / summary.seconds, summary.seconds / base - 1
        print(
            f"  {mode:<6} {summary.seconds:7.1f} s ({count / summary.seconds:5.1f} images/s); metadata "
            f"{sum(spent) * 1000 / count:6.2f} ms/file = {share:5.1%} of the run; run +{longer:6.1%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100, help="how many 640x480 photos")
    parser.add_argument("--big", type=int, default=10, help="how many big photos")
    parser.add_argument("--big-size", default="6000x4000", help="size of the big photos, WxH (24 MP by default)")
    parser.add_argument("--run", type=int, default=0, help="photos in real caption runs (0: none)")
    parser.add_argument("--run-size", default="640x480", help="size of the photos in those runs, WxH")
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
        if args.run:
            in_runs(Path(folder), args.run, tuple(int(v) for v in args.run_size.lower().split("x")))


if __name__ == "__main__":
    main()
