#!/usr/bin/env python
"""Captioning speed on this machine: end to end (files -> captions written) against a bare encoder forward.

Makes a folder of JPEG photos (random crops of examples/, resized to --size) or takes --folder, then measures in one
run: the encoder alone (PyTorch eager fp32 on already-decoded tensors, the baseline), end-to-end images/s of the
captioning pipeline, the time split (JPEG decoding, encoder, beam search), peak memory of the process tree, and
the cold start of `captioner caption one.jpg` against `python -c "import torch, torchvision"`.

    python scripts/benchmark.py --make 1000 --size 640x480 --json bench-640.json
    python scripts/benchmark.py --make 200 --size 3000x2000 --json bench-3000.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_photos(folder: Path, n: int, size: tuple[int, int], seed: int = 0) -> None:
    """``n`` distinct JPEGs (quality 90) cut from the example photos, flipped and resized to ``size``."""
    from PIL import Image, ImageOps

    rng = random.Random(seed)
    sources = [Image.open(p).convert("RGB") for p in sorted((ROOT / "examples").glob("*.jpg"))]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        src = sources[i % len(sources)]
        w, h = src.size
        cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        img = src.crop((x, y, x + cw, y + ch)).resize(size, Image.BICUBIC)
        if rng.random() < 0.5:
            img = ImageOps.mirror(img)
        img.save(folder / f"photo_{i:05d}.jpg", quality=90)


class PeakRSS:
    """Samples the summed PSS of this process and its children (the decoding workers) every 100 ms.

    PSS (proportional set size) splits pages shared between the forked workers and the main process among them;
    summed RSS would count torch's shared libraries once per worker. Falls back to RSS where PSS is unavailable.
    """

    def __init__(self):
        import psutil

        self.proc, self.peak, self._stop = psutil.Process(), 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import psutil

        while not self._stop.is_set():
            total = 0
            for p in [self.proc, *self.proc.children(recursive=True)]:
                try:
                    info = p.memory_full_info()
                    total += getattr(info, "pss", info.rss)
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.1)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()


def rate(fn, n_items: int, min_seconds: float = 4.0) -> float:
    """Items per second of ``fn`` (which handles ``n_items``), after one warm-up call."""
    fn()
    t0, runs = time.perf_counter(), 0
    while time.perf_counter() - t0 < min_seconds or runs < 2:
        fn()
        runs += 1
    return n_items * runs / (time.perf_counter() - t0)


def cold_start(photo: Path, weights: Path | None, repeats: int = 3) -> dict:
    base = [sys.executable, "-c", "import torch, torchvision"]
    cap = [sys.executable, "-m", "captioner", "caption", str(photo), "-q"] + (
        ["--weights", str(weights)] if weights else []
    )

    def timed(cmd):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    timed(cap)  # warm the page cache and any first-run export
    t_import, t_caption = timed(base), timed(cap)
    return {
        "import_torch_torchvision_s": round(t_import, 3),
        "caption_one_image_s": round(t_caption, 3),
        "overhead_s": round(t_caption - t_import, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, help="caption this folder instead of making one")
    ap.add_argument("--make", type=int, default=500, help="photos to make (default 500)")
    ap.add_argument("--size", default="640x480", help="size of the photos made (default 640x480)")
    ap.add_argument("--weights", type=Path, help="model (default: the shipped one)")
    ap.add_argument("--beam-size", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"])
    ap.add_argument("--no-cold-start", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    from captioner.data.images import read_tensor
    from captioner.model.checkpoint import default_weights, load_model
    from captioner.model.decode import DecodeOptions, decode
    from captioner.model.onnx import onnx_available
    from captioner.photos.config import CaptionConfig, ScanOptions
    from captioner.photos.files import iter_images
    from captioner.photos.job import run_job
    from captioner.photos.pipeline import Captioner

    weights = args.weights or default_weights()
    if weights is None:
        sys.exit("no model: pass --weights")
    tmp = tempfile.TemporaryDirectory()
    folder = args.folder
    if folder is None:
        folder = Path(tmp.name) / "photos"
        w, h = (int(v) for v in args.size.split("x"))
        make_photos(folder, args.make, (w, h))
    paths = list(iter_images([folder]))
    model, ckpt = load_model(weights)
    backend = args.backend if args.backend != "auto" else ("onnx" if onnx_available() else "torch")
    size = model.encoder.spec.image_size
    sample = paths[: min(64, len(paths))]

    # 1. time split on a sample: decoding, encoder (as the pipeline runs it), beam search
    t0 = time.perf_counter()
    tensors = torch.stack([read_tensor(p, size) for p in sample])
    decode_rate = len(sample) / (time.perf_counter() - t0)
    from captioner.labels.describe import Describer
    from captioner.model.checkpoint import read_checkpoint

    captioner = Captioner(Describer(read_checkpoint(weights)), "cpu", backend)
    chunk = tensors[: args.batch_size]
    encode_rate = rate(lambda: captioner.features(chunk), len(chunk))
    feats = captioner.features(chunk)
    options = DecodeOptions(beam_size=args.beam_size, n_best=args.beam_size, batch_size=args.batch_size)
    beam_rate = rate(lambda: decode(model.decoder, feats, ckpt.vocab, options), len(chunk))

    # 2. the baseline: a bare fp32 eager forward of the same encoder on decoded tensors
    bare = load_model(weights)[0].encoder.eval()
    with torch.inference_mode():
        baseline_rate = rate(lambda: bare.forward_features(chunk), len(chunk))

    # 3. end to end: files -> JSON Lines with captions and tags
    out = Path(tmp.name) / "captions.jsonl"
    scan = ScanOptions(batch_size=args.batch_size, workers=args.workers)
    config = CaptionConfig([folder], decode=options, scan=scan, fmt="jsonl", output=out, n_best=1, tags=8)
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        summary = run_job(captioner, config)
        e2e_seconds = time.perf_counter() - t0
    assert summary.total == len(paths) and summary.failed == 0, summary
    e2e_rate = len(paths) / e2e_seconds

    result = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "photos": {
            "count": len(paths),
            "size": args.size if args.folder is None else "as found",
            "folder": str(folder) if args.folder else None,
        },
        "settings": {
            "backend": backend,
            "beam_size": args.beam_size,
            "batch_size": args.batch_size,
            "workers": args.workers,
            "weights": str(weights),
        },
        "end_to_end_images_per_s": round(e2e_rate, 1),
        "baseline_encoder_fp32_eager_images_per_s": round(baseline_rate, 1),
        "ratio_end_to_end_to_baseline": round(e2e_rate / baseline_rate, 2),
        "split_images_per_s": {
            "jpeg_decode_1_process": round(decode_rate, 1),
            f"encoder_{backend}": round(encode_rate, 1),
            f"beam_search_k{args.beam_size}": round(beam_rate, 1),
        },
        "split_ms_per_image": {
            "jpeg_decode_1_process": round(1000 / decode_rate, 2),
            f"encoder_{backend}": round(1000 / encode_rate, 2),
            f"beam_search_k{args.beam_size}": round(1000 / beam_rate, 2),
        },
        "peak_pss_mb": round(mem.peak / 2**20),
    }
    if not args.no_cold_start:
        result["cold_start"] = cold_start(paths[0], args.weights)

    print(f"{'photos':<44}{len(paths)} x {result['photos']['size']}")
    print(f"{'end to end (files -> captions written)':<44}{e2e_rate:8.1f} images/s")
    print(f"{'encoder alone, PyTorch eager fp32 (baseline)':<44}{baseline_rate:8.1f} images/s")
    print(f"{'ratio end to end / baseline':<44}{e2e_rate / baseline_rate:8.2f}")
    for k, v in result["split_ms_per_image"].items():
        print(f"{'  ' + k:<44}{v:8.2f} ms/image")
    print(f"{'peak memory, PSS (process + workers)':<44}{result['peak_pss_mb']:8d} MB")
    if "cold_start" in result:
        c = result["cold_start"]
        print(f"{'cold start: import torch, torchvision':<44}{c['import_torch_torchvision_s']:8.2f} s")
        print(
            f"{'cold start: captioner caption one.jpg':<44}{c['caption_one_image_s']:8.2f} s (+{c['overhead_s']:.2f} s)"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
