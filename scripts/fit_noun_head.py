#!/usr/bin/env python
"""Fit a checkpoint's noun head (``captioner.labels.noun_head``) to a caption file and store it in the checkpoint.

    python scripts/fit_noun_head.py --weights weights/default.pt \\
        --captions ../shared/data/flickr8k/captions_train.json --images ../shared/data/flickr8k/images

``captioner train`` fits the head of every new model itself; this adds one to a checkpoint made before that, or
fits the held-out-objects model's head to the full training captions (``scripts/train_dcc.sh``: the DCC protocol
lets the visual classifier see the held-out photos with their labels, only not their sentences). It also prints
the head's mean average precision on ``--val`` (default: captions_val.json beside ``--captions``).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def average_precision(scores, targets) -> float:
    import torch

    order = torch.argsort(scores, descending=True)
    hits = targets[order]
    precision = hits.cumsum(0) / torch.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def main() -> None:
    import torch

    from captioner.data.coco import load_captions
    from captioner.data.features import FeatureCache, caption_set_features, default_cache_dir
    from captioner.labels.noun_head import caption_targets, fit_noun_head
    from captioner.model.checkpoint import build_model, read_checkpoint, save_checkpoint

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--captions", type=Path, required=True, help="COCO-style captions of the training photos")
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--val", type=Path, nargs="+", help="captions to report on (default: captions_val.json beside)")
    ap.add_argument(
        "--recall",
        default="",
        help="comma-separated nouns: also print how often the head gives each at "
        "least 0.3 on the photos whose --val captions name it, and how often it is right there",
    )
    ap.add_argument("--dry-run", action="store_true", help="fit and report, but leave the checkpoint alone")
    args = ap.parse_args()

    ckpt = read_checkpoint(args.weights)
    encoder = build_model(ckpt).encoder
    cache = FeatureCache(default_cache_dir(), encoder.spec.name, encoder.spec.image_size)

    def pooled(path: Path):
        captions = load_captions(path, args.images)
        feats = caption_set_features(captions, encoder, cache)  # (N, P, D) float16
        return feats, [im.captions for im in captions.images]

    feats, captions = pooled(args.captions)
    head = fit_noun_head(feats.mean(1, dtype=torch.float32), captions, fitted_on=args.captions.name)
    if head is None:
        sys.exit(f"{args.captions}: no label noun is named in the captions of enough photos")
    print(f"{len(head.nouns)} nouns: {', '.join(head.nouns)}")
    vals = [v for v in args.val or [args.captions.with_name("captions_val.json")] if v.is_file()]
    if vals:
        parts = [pooled(v) for v in vals]
        probs = head.probabilities(torch.cat([f for f, _ in parts]))  # (N, M)
        nouns, targets = caption_targets([c for _, caps in parts for c in caps], min_images=1)
        column = {n: j for j, n in enumerate(nouns)}
        aps = [average_precision(probs[:, i], targets[:, column[n]]) for i, n in enumerate(head.nouns) if n in column]
        names = "+".join(v.name for v in vals)
        print(f"mean average precision on {names}: {sum(aps) / len(aps):.3f} over {len(aps)} nouns")
        for noun in filter(None, args.recall.split(",")):
            said, sure = targets[:, column[noun]] > 0, probs[:, head.nouns.index(noun)] >= 0.3
            recall = float((said & sure).sum() / said.sum())
            precision = float((said & sure).sum() / sure.sum().clamp_min(1))
            print(f"{noun}: {int(said.sum())} photos; p >= 0.3 in {recall:.0%}, right {precision:.0%} of the time")
    if not args.dry_run:
        ckpt.meta["noun_head"] = head.to_meta()
        save_checkpoint(ckpt, args.weights)
        digest = hashlib.sha256(args.weights.read_bytes()).hexdigest()
        print(f"stored in {args.weights} (sha256 {digest})")


if __name__ == "__main__":
    main()
