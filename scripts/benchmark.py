#!/usr/bin/env python
"""Captioning speed on this machine: end to end (files -> captions written) against a bare encoder forward.

Makes a folder of JPEG photos (random crops of examples/, resized to --size, saved as a camera would: quality 92,
4:2:0 chroma, an EXIF block, a little sensor noise) or takes --folder, then measures in
one run: the encoder alone (PyTorch eager fp32 on already-decoded tensors, batch 16: the baseline), end-to-end
images/s of the captioning pipeline (guided decoding, labels and confidence, as `captioner caption` runs), the time
split (JPEG decoding, encoder, captions), peak memory of the process tree, and the cold start of `captioner caption
one.jpg` against `python -c "import torch, torchvision"`. ``--repeat`` alternates baseline and end to end that many
times and reports each ratio; ``--scaling`` adds images/s at batch 1, 8, 32, 64 and with 1 or 2 workers.

    python scripts/benchmark.py --make 500 --size 640x480 --repeat 3 --scaling --json bench-640.json
    python scripts/benchmark.py --make 200 --size 6000x4000 --repeat 3 --json bench-24mp.json
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


def make_photos(folder: Path, n: int, size: tuple[int, int], seed: int = 0, preview: bool = False) -> None:
    """``n`` distinct JPEGs cut from the example photos, flipped and resized to ``size``, saved as a camera does:
    quality 92, 4:2:0 chroma, an EXIF block and, above 2 megapixels, a little sensor noise (upscaled photos
    are too smooth: their files would be a fraction of a real camera's and decode faster)."""
    import numpy as np
    from PIL import Image, ImageOps

    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
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
        if size[0] * size[1] > 2_000_000:
            grain = noise.normal(0, 2.5, (size[1] // 2, size[0] // 2, 1)).astype(np.float32)
            grain = np.asarray(Image.fromarray(grain[..., 0], "F").resize(size, Image.BILINEAR))[..., None]
            img = Image.fromarray(np.clip(np.asarray(img, np.float32) + grain, 0, 255).astype(np.uint8))
        exif = Image.Exif()
        exif[0x010F], exif[0x0110], exif[0x0112] = "Benchmark", "Camera", 1  # make, model, orientation
        path = folder / f"photo_{i:05d}.jpg"
        if preview:  # a camera's Multi-Picture preview after the photo: 1920 px on the long side
            scale = 1920 / max(size)
            small = img.resize((round(size[0] * scale), round(size[1] * scale)), Image.BILINEAR)
            img.save(path, format="MPO", save_all=True, append_images=[small], quality=92, exif=exif)
        else:
            img.save(path, quality=92, subsampling="4:2:0", exif=exif)


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


def end_to_end(captioner, folder: Path, out: Path, options, scan) -> tuple[float, int]:
    """(images/s, peak PSS in bytes) of captioning ``folder`` into JSON Lines with keywords, as the CLI does."""
    from captioner.photos.config import CaptionConfig
    from captioner.photos.job import run_job

    config = CaptionConfig([folder], decode=options, scan=scan, fmt="jsonl", output=out, n_best=1, tags=8)
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        summary = run_job(captioner, config)
        seconds = time.perf_counter() - t0
    assert summary.failed == 0, summary
    return summary.total / seconds, mem.peak


def scaling(captioner, folder: Path, tmp: Path, options) -> list[dict]:
    """End-to-end images/s at batch 1, 8, 32, 64 (2 workers), and with 1 and 2 workers (batch 32)."""
    from dataclasses import replace

    from captioner.photos.config import ScanOptions

    rows = []
    for batch, workers in ((1, 2), (8, 2), (32, 2), (64, 2), (32, 1)):
        scan = ScanOptions(batch_size=batch, workers=workers)
        rate_, _ = end_to_end(captioner, folder, tmp / "scaling.jsonl", replace(options, batch_size=batch), scan)
        rows.append({"batch_size": batch, "workers": workers, "images_per_s": round(rate_, 1)})
        print(f"  scaling: batch {batch:>2}, {workers} workers {rate_:8.1f} images/s", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, help="caption this folder instead of making one")
    ap.add_argument("--make", type=int, default=500, help="photos to make (default 500)")
    ap.add_argument("--size", default="640x480", help="size of the photos made (default 640x480)")
    ap.add_argument("--preview", action="store_true", help="give the photos made a camera's Full HD preview frame")
    ap.add_argument("--weights", type=Path, help="model (default: the shipped one)")
    ap.add_argument("--beam-size", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"])
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "int8"])
    ap.add_argument("--no-guidance", action="store_true", help="caption without the labels' guidance")
    ap.add_argument("--repeat", type=int, default=1, help="baseline + end-to-end rounds (default 1)")
    ap.add_argument("--scaling", action="store_true", help="also images/s against batch size and workers")
    ap.add_argument("--no-cold-start", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    from captioner.data.images import read_tensor
    from captioner.labels.describe import Describer
    from captioner.labels.guide import DEFAULT_GUIDE
    from captioner.model.checkpoint import default_weights, load_model, read_checkpoint
    from captioner.model.decode import DecodeOptions, model_defaults
    from captioner.model.onnx import onnx_available
    from captioner.photos.config import ScanOptions
    from captioner.photos.files import iter_images
    from captioner.photos.pipeline import Captioner, lane_threads
    from captioner.photos.precision import cpu_flags, resolve_precision

    weights = args.weights or default_weights()
    if weights is None:
        sys.exit("no model: pass --weights")
    tmp = tempfile.TemporaryDirectory()
    folder = args.folder
    if folder is None:
        folder = Path(tmp.name) / "photos"
        w, h = (int(v) for v in args.size.split("x"))
        make_photos(folder, args.make, (w, h), preview=args.preview)
    paths = list(iter_images([folder]))
    ckpt = read_checkpoint(weights)
    precision = resolve_precision(args.precision)
    backend = args.backend if args.backend != "auto" else ("onnx" if onnx_available() else "torch")
    captioner = Captioner(Describer(ckpt, None if args.no_guidance else DEFAULT_GUIDE), "cpu", backend, None, precision)
    size = captioner.size
    sample = paths[: min(64, len(paths))]
    options = model_defaults(
        DecodeOptions(beam_size=args.beam_size, n_best=args.beam_size, batch_size=args.batch_size), ckpt.meta
    )

    # 1. time split on a sample: decoding, encoder (as the pipeline runs it), captions (labels, guided search)
    #    in one of the pipeline's lanes (on 2 cores: one thread; the pipeline runs 2 lanes at once)
    t0 = time.perf_counter()
    tensors = torch.stack([read_tensor(p, size) for p in sample])
    decode_rate = len(sample) / (time.perf_counter() - t0)
    chunk = tensors[: args.batch_size]
    lanes, threads = lane_threads()
    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads)
    if captioner.onnx is not None:
        captioner.onnx.set_threads(threads)
    encode_rate = rate(lambda: captioner.features(chunk), len(chunk))
    feats = captioner.features(chunk)
    beam_rate = rate(lambda: captioner.describer.describe(feats, options), len(chunk))
    torch.set_num_threads(threads_before)

    # 2. rounds of the baseline (a bare fp32 eager forward of the same encoder on decoded tensors, batch 16) and
    #    end to end (files -> JSON Lines with captions and keywords), alternated so both see the same load
    bare = load_model(weights)[0].encoder.eval()
    base16 = tensors[:16] if len(tensors) >= 16 else tensors
    scan = ScanOptions(batch_size=args.batch_size, workers=args.workers)
    rounds = []
    for r in range(args.repeat):
        with torch.inference_mode():
            baseline_rate = rate(lambda: bare.forward_features(base16), len(base16))
        e2e_rate, peak = end_to_end(captioner, folder, Path(tmp.name) / "captions.jsonl", options, scan)
        rounds.append({"baseline": baseline_rate, "end_to_end": e2e_rate, "ratio": e2e_rate / baseline_rate})
        print(
            f"round {r + 1}: end to end {e2e_rate:.1f} images/s, baseline {baseline_rate:.1f} images/s, "
            f"ratio {e2e_rate / baseline_rate:.2f}, peak PSS {peak / 2**20:.0f} MB",
            flush=True,
        )
    ratios = [x["ratio"] for x in rounds]
    median = statistics.median(ratios)
    e2e_rate = statistics.median(x["end_to_end"] for x in rounds)
    baseline_rate = statistics.median(x["baseline"] for x in rounds)

    flags = sorted(cpu_flags() & {"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8"})
    result = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cpu_flags": flags,
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "load_average_1min": round(os.getloadavg()[0], 2),
        },
        "photos": {
            "count": len(paths),
            "size": args.size if args.folder is None else "as found",
            "mean_file_kib": round(sum(p.stat().st_size for p in paths) / len(paths) / 1024),
            "folder": str(folder) if args.folder else None,
        },
        "settings": {
            "backend": captioner.backend,
            "precision": str(precision),
            "guidance": not args.no_guidance,
            "beam_size": args.beam_size,
            "batch_size": args.batch_size,
            "workers": args.workers,
            "lanes_x_threads": f"{lanes}x{threads}",
            "weights": str(weights),
        },
        "end_to_end_images_per_s": round(e2e_rate, 1),
        "baseline_encoder_fp32_eager_b16_images_per_s": round(baseline_rate, 1),
        "ratio_end_to_end_to_baseline": round(median, 2),
        "ratios_per_round": [round(x, 2) for x in ratios],
        "split_ms_per_image_one_lane": {
            "jpeg_decode_1_process": round(1000 / decode_rate, 2),
            f"encoder_{captioner.backend}_{precision.encoder}": round(1000 / encode_rate, 2),
            f"captions_k{args.beam_size}_{precision.decoder}": round(1000 / beam_rate, 2),
        },
        "peak_pss_mb": round(peak / 2**20),
    }
    if args.scaling:
        result["scaling"] = scaling(captioner, folder, Path(tmp.name), options)
    if not args.no_cold_start:
        result["cold_start"] = cold_start(paths[0], args.weights)

    print(f"{'cpu flags':<44}{' '.join(flags)} (load {result['machine']['load_average_1min']})")
    print(f"{'photos':<44}{len(paths)} x {result['photos']['size']}, {result['photos']['mean_file_kib']} KiB each")
    print(f"{'precision':<44}{precision}")
    print(f"{'end to end (files -> captions written)':<44}{e2e_rate:8.1f} images/s (median)")
    print(f"{'encoder alone, PyTorch eager fp32, batch 16':<44}{baseline_rate:8.1f} images/s (median)")
    print(f"{'ratio end to end / baseline':<44}{median:8.2f} (rounds: {', '.join(f'{x:.2f}' for x in ratios)})")
    print(f"{'time split, one lane of ' + str(lanes) + ' (' + str(threads) + ' thread)':<44}")
    for k, v in result["split_ms_per_image_one_lane"].items():
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
