#!/usr/bin/env python
"""Build the int8 encoder that `--precision int8` runs: ONNX Runtime static quantisation (QDQ, per channel).

The float32 encoder of the shipped model (uint8 photos in, (I, P, D) features out, normalisation included) is
exported to ONNX, calibrated on photos drawn (seeded) from the Flickr8k *training* split, quantised to int8 weights
(per output channel, symmetric) and uint8 activations, and written with the digest of the encoder's weights in its
metadata: captioner uses it only for the encoder it was built from. The photos themselves are neither kept nor
shipped. Prints the file's sha256 (for weights/README.md), its features' cosine similarity to float32 on held-out
validation photos, and both speeds.

    python scripts/build_int8_encoder.py --images ../shared/data/flickr8k/images \\
        --train-captions ../shared/data/flickr8k/captions_train.json \\
        --val-captions ../shared/data/flickr8k/captions_val.json -o weights/efficientnet_lite0-int8.onnx
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def photo_names(captions: Path, n: int, seed: int) -> list[str]:
    """``n`` file names drawn (seeded) from a COCO caption file's images."""
    names = sorted(im["file_name"] for im in json.loads(captions.read_text())["images"])
    return random.Random(seed).sample(names, min(n, len(names)))


def batches(folder: Path, names: list[str], size: int, batch: int = 16):
    """uint8 (b, 3, S, S) arrays of the photos, as captioning decodes them."""
    from captioner.data.images import read_tensor

    for i in range(0, len(names), batch):
        yield torch.stack([read_tensor(folder / n, size) for n in names[i : i + batch]]).numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path, required=True, help="folder of the Flickr8k photos")
    ap.add_argument("--train-captions", type=Path, required=True, help="COCO captions of the training split")
    ap.add_argument("--val-captions", type=Path, help="COCO captions of held-out photos, to check the result")
    ap.add_argument("--weights", type=Path, help="model whose encoder to quantise (default: the shipped one)")
    ap.add_argument("--calibration", type=int, default=256, help="training photos to calibrate on (default 256)")
    ap.add_argument("--method", default="minmax", choices=["minmax", "percentile", "entropy"])
    ap.add_argument("--exclude", default="", help="comma-separated ONNX node names to keep in float32")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", type=Path, default=ROOT / "weights" / "efficientnet_lite0-int8.onnx")
    args = ap.parse_args()

    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    from captioner.model.checkpoint import default_weights, load_model
    from captioner.model.onnx import DIGEST_KEY, export_onnx, weights_digest

    model, _ = load_model(args.weights or default_weights())
    encoder = model.encoder
    size = encoder.spec.image_size
    names = photo_names(args.train_captions, args.calibration, args.seed)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = batches(args.images, names, size)

        def get_next(self):
            arr = next(self.it, None)
            return None if arr is None else {"images": arr}

    methods = {
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
        "entropy": CalibrationMethod.Entropy,
    }
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(encoder, Path(tmp) / "fp32.onnx")
        prep = Path(tmp) / "prep.onnx"
        quant_pre_process(str(fp32), str(prep), skip_symbolic_shape=True)
        q = Path(tmp) / "int8.onnx"
        t0 = time.perf_counter()
        quantize_static(
            str(prep),
            str(q),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=methods[args.method],
            nodes_to_exclude=[n for n in args.exclude.split(",") if n],
            extra_options={"CalibMovingAverage": True} if args.method == "minmax" else {},
        )
        calibrated = time.perf_counter() - t0
        graph = onnx.load(str(q))
        meta = {
            DIGEST_KEY: weights_digest(encoder),
            "captioner.calibration": f"{len(names)} Flickr8k train photos, seed {args.seed}, {args.method}",
        }
        for k, v in meta.items():
            graph.metadata_props.add(key=k, value=v)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(graph, str(args.output))
        print(f"calibrated on {len(names)} photos in {calibrated:.0f} s -> {args.output}")
        print(f"size {args.output.stat().st_size / 2**20:.2f} MiB, sha256 {sha256(args.output)}")
        if args.val_captions:
            check(fp32, args.output, args.images, photo_names(args.val_captions, 128, args.seed), size, ort)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check(fp32: Path, int8: Path, folder: Path, names: list[str], size: int, ort) -> None:
    """Cosine similarity of the int8 features to float32's on held-out photos, and both speeds (batch 32)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = torch.get_num_threads()
    sessions = {k: ort.InferenceSession(str(p), opts) for k, p in (("fp32", fp32), ("int8", int8))}
    images = np.concatenate(list(batches(folder, names, size)))
    out = {k: s.run(None, {"images": images})[0] for k, s in sessions.items()}
    a, b = out["fp32"].reshape(len(images), -1), out["int8"].reshape(len(images), -1)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    print(f"cosine to fp32 on {len(images)} val photos: mean {cos.mean():.4f}, min {cos.min():.4f}")
    for k, s in sessions.items():
        chunk = images[:32]
        s.run(None, {"images": chunk})
        t0, runs = time.perf_counter(), 0
        while time.perf_counter() - t0 < 3:
            s.run(None, {"images": chunk})
            runs += 1
        print(f"{k}: {(time.perf_counter() - t0) / runs / len(chunk) * 1000:.2f} ms/image")


if __name__ == "__main__":
    main()
