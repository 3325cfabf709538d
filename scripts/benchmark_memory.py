#!/usr/bin/env python
"""Peak memory of `captioner caption` against the number of files: the file list streams, so it should not grow.

Makes folders of tiny PNG files (in nested sub-folders, like a photo library), captions each with JSON Lines output,
and samples the summed PSS of the process tree (main process and decoding workers) every 50 ms: PSS splits the
pages the forked workers share with the main process among them, so the sum counts every page once (summed RSS
would count torch's libraries once per process). Falls back to RSS where PSS is unavailable.

    python scripts/benchmark_memory.py --counts 2000,20000 --json mem.json
    python scripts/benchmark_memory.py --counts 2000 --jpeg 640x480 --args "--workers 1"
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_files(folder: Path, n: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        sub = folder / f"{i // 1000:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(sub / f"{i:06d}.png")


def peak_pss(cmd: list[str]) -> tuple[int, float, int]:
    """(peak summed PSS in bytes, seconds, exit status) of ``cmd`` and its children."""
    import psutil

    t0 = time.perf_counter()
    proc = psutil.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        total = 0
        try:
            for p in [proc, *proc.children(recursive=True)]:
                info = p.memory_full_info()
                total += getattr(info, "pss", info.rss)
        except psutil.Error:
            pass
        peak = max(peak, total)
        time.sleep(0.05)
    return peak, time.perf_counter() - t0, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counts", default="2000,20000")
    ap.add_argument("--weights", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--jpeg", help="make 640x480-style JPEG photos of this size (WxH) instead of tiny PNGs")
    ap.add_argument("--args", default="", help='more options for `captioner caption`, e.g. "--workers 1"')
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.counts.split(",")):
            folder = Path(tmp) / f"lib{n}"
            if args.jpeg:
                sys.path.insert(0, str(ROOT / "scripts"))
                from benchmark import make_photos

                make_photos(folder, n, tuple(int(v) for v in args.jpeg.split("x")))
            else:
                make_files(folder, n)
            cmd = [
                sys.executable,
                "-m",
                "captioner",
                "caption",
                str(folder),
                "--format",
                "jsonl",
                "-o",
                str(Path(tmp) / f"out{n}.jsonl"),
                "-q",
            ]
            cmd += (["--weights", str(args.weights)] if args.weights else []) + args.args.split()
            peak, seconds, status = peak_pss(cmd)
            lines = (Path(tmp) / f"out{n}.jsonl").read_text().count("\n")
            rows.append(
                {
                    "files": n,
                    "captioned": lines,
                    "exit": status,
                    "peak_pss_mb": round(peak / 2**20),
                    "seconds": round(seconds, 1),
                    "images_per_s": round(n / seconds, 1),
                }
            )
            print(
                f"{n:>7} files: peak PSS {rows[-1]['peak_pss_mb']:5d} MB, {seconds:6.1f} s, "
                f"{lines} lines, exit {status}",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
