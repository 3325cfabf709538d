#!/usr/bin/env python
"""Encoder speed in fp32, channels-last and bf16 autocast on this CPU (why captioning stays fp32 here).

    python scripts/benchmark_precision.py [--images 64] [--batch-size 32]

Times the frozen EfficientNet-Lite0 encoder on random 224x224 batches (after a warm-up) under each setting and
prints images/s and the ratio to plain fp32, and the largest feature difference to fp32.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    from captioner.model.encoder import build_encoder

    enc = build_encoder("efficientnet_lite0").eval()
    x = torch.randn(args.batch_size, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    settings = {
        "fp32": (enc, x, torch.autocast("cpu", enabled=False)),
        "fp32 channels-last": (
            build_encoder("efficientnet_lite0").eval().to(memory_format=torch.channels_last),
            x.to(memory_format=torch.channels_last),
            torch.autocast("cpu", enabled=False),
        ),
        "bf16 autocast": (enc, x, torch.autocast("cpu", dtype=torch.bfloat16)),
    }
    reference = None
    rows = []
    with torch.inference_mode():
        for name, (model, batch, ctx) in settings.items():
            with ctx:
                out = model(batch)  # warm-up
                t0 = time.perf_counter()
                for _ in range(max(1, args.images // args.batch_size)):
                    out = model(batch)
                seconds = time.perf_counter() - t0
            rate = max(1, args.images // args.batch_size) * args.batch_size / seconds
            out = out.float()
            reference = out if reference is None else reference
            diff = float((out - reference).abs().max())
            rows.append((name, rate, diff))
    base = rows[0][1]
    print(f"{'setting':<22}{'images/s':>10}{'vs fp32':>9}{'max |diff|':>12}")
    for name, rate, diff in rows:
        print(f"{name:<22}{rate:10.1f}{rate / base:8.2f}x{diff:12.4f}")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, bf16 kernels: "
        f"{torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()}"
    )


if __name__ == "__main__":
    main()
