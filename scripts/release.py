#!/usr/bin/env python
"""Strip a training checkpoint into release weights (float16, no optimizer state) and print its sha256.

python scripts/release.py runs/default/model.pt weights/default.pt --name flickr8k-lite0-v1
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("--name", default="flickr8k-lite0", help="model name recorded in outputs and XMP")
    args = ap.parse_args()

    from captioner.model.checkpoint import read_checkpoint, release, save_checkpoint

    ckpt = read_checkpoint(args.checkpoint)
    keep = ("dataset", "decode", "train_config", "selected", "epochs_run", "init")
    ckpt.meta = {
        "name": args.name,
        **{k: ckpt.meta[k] for k in keep if k in ckpt.meta},
        "history": [{k: v for k, v in row.items() if k != "lr"} for row in ckpt.meta.get("history", [])],
    }
    save_checkpoint(release(ckpt), args.output)
    digest = hashlib.sha256(args.output.read_bytes()).hexdigest()
    print(f"{args.output}: {args.output.stat().st_size / 2**20:.1f} MiB, sha256 {digest}")


if __name__ == "__main__":
    main()
