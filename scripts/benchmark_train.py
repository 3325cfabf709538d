#!/usr/bin/env python
"""Training speed on this machine: one process against torchrun with 2 processes (gloo), fp32 against bf16.

Trains one cross-entropy epoch on the first --images images of a COCO caption file (features cached first, so
only the decoder's training is timed) and prints images/s and seconds per epoch from each run's metrics.jsonl.

    python scripts/benchmark_train.py --captions ../shared/data/flickr8k/captions_train.json \
        --images ../shared/data/flickr8k/images --json bench-train.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--captions", type=Path, required=True)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--max-images", type=int, default=1600)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    common = [
        "train",
        "--train-captions",
        str(args.captions),
        "--train-images",
        str(args.images),
        "--epochs",
        "1",
        "--max-images",
        str(args.max_images),
        "--batch-size",
        str(args.batch_size),
        "-q",
    ]
    single = [sys.executable, "-m", "captioner"]
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "captioner",
    ]
    runs = {
        "1 process, fp32": (single, ["--precision", "fp32"]),
        "2 processes (torchrun, gloo), fp32": (torchrun, ["--precision", "fp32"]),
        "1 process, bf16 autocast": (single, ["--precision", "bf16"]),
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm" / "model.pt"  # fills the feature cache so no run pays for it
        subprocess.run(single + common + ["--epochs", "0", "-o", str(warm)], check=True)
        for i, (name, (launcher, extra)) in enumerate(runs.items()):
            out = Path(tmp) / f"run{i}" / "model.pt"
            env = {**os.environ, "OMP_NUM_THREADS": "1"} if launcher is torchrun else dict(os.environ)
            subprocess.run(launcher + common + extra + ["-o", str(out)], check=True, env=env)
            row = json.loads((out.parent / "metrics.jsonl").read_text().splitlines()[-1])
            rows.append(
                {
                    "run": name,
                    "train_seconds": row["train_seconds"],
                    "images_per_s": round(args.max_images / row["train_seconds"], 1),
                    "train_loss": row["train_loss"],
                }
            )
            print(
                f"{name:<40} {row['train_seconds']:7.1f} s/epoch {rows[-1]['images_per_s']:7.1f} images/s "
                f"(loss {row['train_loss']:.3f})",
                flush=True,
            )
    base = rows[0]["images_per_s"]
    for r in rows:
        r["speed_vs_1_process_fp32"] = round(r["images_per_s"] / base, 2)
    print("speed against 1 process fp32: " + ", ".join(f"{r['run']}: {r['speed_vs_1_process_fp32']}x" for r in rows))
    if args.json:
        machine = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
        args.json.write_text(json.dumps({"machine": machine, "images": args.max_images, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
