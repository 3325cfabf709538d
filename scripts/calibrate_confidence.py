#!/usr/bin/env python
"""Fit a model's caption confidence on Flickr8k val, grounded in Flickr8k's human expert judgments.

    python scripts/calibrate_confidence.py --weights weights/default.pt [--flickr8k ../shared/data/flickr8k] [--write]

1. Human grounding: Flickr8k's ExpertAnnotations.txt has 5,822 (image, caption) pairs scored 1-4 by three experts
   (Hodosh et al. 2013). A logistic curve fitted to them gives P(mean expert score >= 3 | per-image CIDEr-D of the
   caption against the image's other references): "the caption describes the photo, at most minor mistakes".
2. The model captions Flickr8k val with guided decoding; each caption's per-image CIDEr-D goes through that curve:
   the target is the probability a human would call it right.
3. A logistic model over the confidence signals (captioner/labels/confidence.py) is fitted to those targets.
   Reported: Spearman rho between confidence and per-image CIDEr-D on held-out halves of val (cross-fitted), on
   test, and the mean confidence of captions that contradict a confident label.
``--write`` stores the model in the checkpoint's meta["confidence"].
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def expert_curve(flickr8k: Path) -> tuple[float, float]:
    """(a, b) of P(expert >= 3) = sigmoid(a * log(CIDEr-D + 0.05) + b), fitted on the expert judgments."""
    from captioner.evaluation.metrics import CiderD
    from captioner.model.vocab import tokenize

    text = flickr8k / "Flickr8k_text"
    token = dict(line.split("\t", 1) for line in (text / "Flickr8k.token.txt").read_text().splitlines() if line)
    by_image = collections.defaultdict(list)
    for key, cap in token.items():
        by_image[key.split("#")[0]].append((key, cap))
    rows = [line.split("\t") for line in (text / "ExpertAnnotations.txt").read_text().splitlines() if line]
    cider = CiderD([[tokenize(c) for _, c in by_image[r[0]]] for r in rows])
    x, y = [], []
    for image, cap_id, *scores in rows:
        refs = [tokenize(c) for k, c in by_image[image] if k != cap_id]
        x.append(np.log(cider.score(tokenize(token[cap_id]), refs) + 0.05))
        y.append(float(np.mean([int(s) for s in scores]) >= 3))
    w = fit_logistic(np.array(x)[:, None], np.array(y), l2=0.0)
    return float(w[2][0] / w[1][0]), float(w[3] - w[2][0] * w[0][0] / w[1][0])


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> tuple:
    """Standardised logistic regression with (soft) targets y in [0, 1]: (mean, scale, weights, bias)."""
    mean, scale = x.mean(0), x.std(0) + 1e-9
    z = torch.tensor((x - mean) / scale)
    target = torch.tensor(y)
    w = torch.zeros(z.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, target) + l2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return mean, scale, w.detach().numpy(), float(b.detach())


def describe_split(describer, flickr8k: Path, split: str, beam: int, alpha: float):
    from captioner.data.coco import load_captions
    from captioner.data.features import FeatureCache, caption_set_features, default_cache_dir
    from captioner.evaluation.metrics import CiderD
    from captioner.labels.confidence import features
    from captioner.model.decode import DecodeOptions
    from captioner.model.vocab import tokenize

    captions = load_captions(flickr8k / f"captions_{split}.json", flickr8k / "images")
    spec = describer.model.encoder.spec
    cache = FeatureCache(default_cache_dir(), spec.name, spec.image_size)
    feats = caption_set_features(captions, describer.model.encoder, cache)
    found = describer.describe(feats, DecodeOptions(beam_size=beam, length_penalty=alpha, n_best=beam))
    refs = [[tokenize(c) for c in im.captions] for im in captions.images]
    scorer = CiderD(refs)
    cider = np.array([scorer.score(tokenize(d.captions[0].text), r) for d, r in zip(found, refs)])
    x = np.array([features(d.captions, d.concepts, d.probs) for d in found])
    return found, x, cider


def main() -> None:
    from scipy.stats import spearmanr

    from captioner.labels.confidence import FEATURES, ConfidenceModel, contradiction
    from captioner.labels.describe import Describer
    from captioner.labels.guide import DEFAULT_GUIDE
    from captioner.model.checkpoint import read_checkpoint, save_checkpoint

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, default=Path("weights/default.pt"))
    ap.add_argument("--flickr8k", type=Path, default=Path("../shared/data/flickr8k"))
    ap.add_argument("--beam-size", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="store the fitted model in the checkpoint")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    a, b = expert_curve(args.flickr8k)
    print(f"human grounding: P(expert >= 3) = sigmoid({a:.3f} * log(CIDEr-D + 0.05) + {b:.3f})")
    ckpt = read_checkpoint(args.weights)
    alpha = float(ckpt.meta.get("decode", {}).get("length_penalty", 0.0))
    describer = Describer(ckpt, replace(DEFAULT_GUIDE, label_captions=False))  # confidence is of the model's captions
    val, x_val, cider_val = describe_split(describer, args.flickr8k, "val", args.beam_size, alpha)
    target = 1 / (1 + np.exp(-(a * np.log(cider_val + 0.05) + b)))

    def model_of(idx) -> ConfidenceModel:
        mean, scale, w, bias = fit_logistic(x_val[idx], target[idx])
        floats = [tuple(float(v) for v in vs) for vs in (mean, scale, w)]
        return ConfidenceModel(*floats, float(bias), f"{args.weights.name}, Flickr8k val")

    halves = np.random.default_rng(0).permutation(len(val)).reshape(2, -1)
    rhos = []
    for fit, held in ((halves[0], halves[1]), (halves[1], halves[0])):
        m = model_of(fit)
        conf = [
            m.probability(list(x_val[i])) * (1 - contradiction(val[i].captions[0].text, val[i].concepts)) for i in held
        ]
        rhos.append(spearmanr(conf, cider_val[held]).correlation)
    final = model_of(np.arange(len(val)))
    test, x_test, cider_test = describe_split(describer, args.flickr8k, "test", args.beam_size, alpha)
    conf_test = [
        final.probability(list(x)) * (1 - contradiction(d.captions[0].text, d.concepts)) for x, d in zip(x_test, test)
    ]
    contradicting = [c for c, d in zip(conf_test, test) if contradiction(d.captions[0].text, d.concepts) > 0]
    result = {
        "features": list(FEATURES),
        "weights": [round(float(w), 4) for w in final.weights],
        "spearman_val_heldout_halves": [round(float(r), 3) for r in rhos],
        "spearman_test": round(float(spearmanr(conf_test, cider_test).correlation), 3),
        "mean_confidence_test": round(float(np.mean(conf_test)), 3),
        "test_captions_contradicting_a_label": len(contradicting),
        "mean_confidence_of_those": round(float(np.mean(contradicting)), 3) if contradicting else None,
        "human_curve": {"a": a, "b": b},
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.write:
        ckpt.meta["confidence"] = final.to_meta()
        save_checkpoint(ckpt, args.weights)
        print(f"stored in {args.weights}")


if __name__ == "__main__":
    main()
