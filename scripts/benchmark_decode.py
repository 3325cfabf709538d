#!/usr/bin/env python
"""What a photo costs to decode into the model's 224x224 input, ms/photo on one core, all measured in one run.

Makes JPEGs as scripts/benchmark.py does (640x480; 6000x4000 = 24 megapixels, plain and with a camera's Full HD
Multi-Picture preview) and times, for each set:

- captioner: ``read_tensor`` (JPEG draft decoding at 1/2 .. 1/8 scale, a preview where there is a good one);
- full decode: Pillow without draft, then the same resize (what it costs without DCT scaling);
- draft, fast DCT: Pillow's draft with libjpeg's fastest IDCT and plain upsampling (a private Pillow switch);
- simplejpeg: libjpeg-turbo through the simplejpeg package with DCT scaling (when it is installed).

    python scripts/benchmark_decode.py --photos 8
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def per_photo_ms(fn, paths: list[Path], rounds: int = 3) -> float:
    """The best of ``rounds`` passes over ``paths``, in ms per photo."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for p in paths:
            fn(p)
        best = min(best, (time.perf_counter() - t0) / len(paths))
    return best * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=8, help="photos per set (default 8)")
    args = ap.parse_args()

    import torch
    from benchmark import make_photos
    from PIL import Image

    from captioner.data.images import read_tensor, to_tensor
    from captioner.photos.precision import cpu_flags

    torch.set_num_threads(1)
    size = 224

    def full(p: Path):
        with Image.open(p) as img:
            return to_tensor(img.convert("RGB"), size)

    def draft_fast(p: Path):
        with Image.open(p) as img:
            img.draft("RGB", (size, size))
            img.decoderconfig = (img.decoderconfig[0], 1)  # libjpeg: JDCT_FASTEST, no fancy upsampling
            return to_tensor(img.convert("RGB"), size)

    methods = {"captioner": lambda p: read_tensor(p, size), "full decode": full, "draft, fast DCT": draft_fast}
    try:
        import simplejpeg

        def turbo(p: Path):
            arr = simplejpeg.decode_jpeg(p.read_bytes(), "RGB", min_height=size, min_width=size)
            return to_tensor(Image.fromarray(arr), size)

        methods["simplejpeg"] = turbo
    except ImportError:
        pass

    flags = sorted(cpu_flags() & {"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16"})
    print(f"CPU {platform.processor() or platform.machine()}, flags {' '.join(flags)}; one thread; ms/photo")
    with tempfile.TemporaryDirectory() as tmp:
        sets = {
            "640x480": (640, 480, False),
            "24 MP": (6000, 4000, False),
            "24 MP + Full HD preview": (6000, 4000, True),
        }
        print(f"{'':<30}" + "".join(f"{m:>18}" for m in methods))
        for name, (w, h, preview) in sets.items():
            folder = Path(tmp) / name.replace(" ", "_")
            make_photos(folder, args.photos, (w, h), preview=preview)
            paths = sorted(folder.glob("*.jpg"))
            mb = sum(p.stat().st_size for p in paths) / len(paths) / 2**20
            row = [per_photo_ms(fn, paths) for fn in methods.values()]
            print(f"{name + f' ({mb:.1f} MB)':<30}" + "".join(f"{v:18.2f}" for v in row), flush=True)


if __name__ == "__main__":
    main()
