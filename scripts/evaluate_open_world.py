#!/usr/bin/env python
"""Open-world quality on Flickr8k: guided decoding, held-out objects (DCC protocol), keywords, the examples.

    python scripts/evaluate_open_world.py [--weights weights/default.pt] [--dcc-weights runs/dcc/xe/model.pt]
        [--flickr8k ../shared/data/flickr8k] [--json results.json]

1. Flickr8k val and test: BLEU-4 and CIDEr-D of the captions without guidance and with the default guidance
   (labels steering the search, label captions), and how many captions changed.
2. Held-out objects (Hendricks et al. 2016): a model trained without any training image whose captions mention
   bicycle, ball, car, boat, motorcycle, horse or guitar (``scripts/dcc_split.py``, then ``captioner train``; see
   ``scripts/train_dcc.sh``). On the val + test photos, mention F1 per object: the caption names the object (any of
   its words) vs. its references do. Without guidance the model cannot say the words at all; with it, label nouns
   it lacks are added (as copies of a stand-in word) and the classifier's confident objects steer the search.
3. Keywords on Flickr8k val: precision (a keyword is right when a reference caption names it) and recall of the
   photos' ImageNet-visible objects (nouns of the label table named by at least 3 of the 5 references).
4. The captions of examples/.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
ROOT = Path(__file__).resolve().parent.parent


def describe_split(ckpt, guide, flickr8k: Path, split: str, captions_file: Path | None = None):
    from captioner.data.coco import load_captions
    from captioner.data.features import FeatureCache, caption_set_features, default_cache_dir
    from captioner.labels.describe import Describer
    from captioner.model.decode import DecodeOptions

    captions = load_captions(captions_file or flickr8k / f"captions_{split}.json", flickr8k / "images")
    describer = Describer(ckpt, guide)
    spec = describer.model.encoder.spec
    cache = FeatureCache(default_cache_dir(), spec.name, spec.image_size)
    feats = caption_set_features(captions, describer.model.encoder, cache)
    alpha = float(ckpt.meta.get("decode", {}).get("length_penalty", 0.0))
    return captions, describer.describe(feats, DecodeOptions(beam_size=3, length_penalty=alpha, n_best=3))


def caption_scores(captions, found) -> dict:
    from captioner.evaluation.metrics import CiderD, corpus_bleu
    from captioner.model.vocab import tokenize

    refs = [[tokenize(c) for c in im.captions] for im in captions.images]
    hyps = [tokenize(d.captions[0].text) for d in found]
    return {
        "bleu4": round(corpus_bleu(refs, hyps)["bleu4"], 2),
        "cider": round(CiderD(refs).corpus_score(refs, hyps), 4),
        "label_captions": sum(d.from_labels for d in found),
    }


def flickr8k_quality(ckpt, flickr8k: Path) -> dict:
    from captioner.labels.guide import DEFAULT_GUIDE

    out = {}
    for split in ("val", "test"):
        caps, plain = describe_split(ckpt, None, flickr8k, split)
        _, guided = describe_split(ckpt, DEFAULT_GUIDE, flickr8k, split)
        changed = sum(a.captions[0].text != b.captions[0].text for a, b in zip(plain, guided))
        out[split] = {
            "no_guidance": caption_scores(caps, plain),
            "guidance": caption_scores(caps, guided),
            "changed": changed,
        }
        print(split, json.dumps(out[split]), flush=True)
    return out


def mention_f1(ckpt, flickr8k: Path, dcc_data: Path) -> dict:
    """Per held-out object, F1 of "the caption names it" against "a reference names it", on val + test."""
    from captioner.labels.guide import DEFAULT_GUIDE
    from captioner.model.vocab import tokenize

    held_out = json.loads((dcc_data / "heldout.json").read_text())["objects"]
    settings = {
        "no guidance": None,
        "guidance, no novel words": replace(DEFAULT_GUIDE, novel_words=False),
        "guidance and novel words": DEFAULT_GUIDE,
    }
    result = {}
    for name, guide in settings.items():
        counts = collections.defaultdict(lambda: [0, 0, 0])  # tp, fp, fn
        for split in ("val", "test"):
            caps, found = describe_split(ckpt, guide, flickr8k, split, dcc_data / f"captions_{split}.json")
            for im, d in zip(caps.images, found):
                said = set(tokenize(d.captions[0].text))
                refs = {w for c in im.captions for w in tokenize(c)}
                for obj, words in held_out.items():
                    truth, pred = bool(refs & set(words)), bool(said & set(words))
                    counts[obj][0] += truth and pred
                    counts[obj][1] += pred and not truth
                    counts[obj][2] += truth and not pred
        f1 = {obj: round(2 * tp / max(2 * tp + fp + fn, 1), 3) for obj, (tp, fp, fn) in counts.items()}
        f1["mean"] = round(sum(f1.values()) / len(held_out), 3)
        result[name] = f1
        print("held-out objects,", name, json.dumps(f1), flush=True)
    return result


def keyword_quality(ckpt, flickr8k: Path) -> dict:
    from captioner.labels.guide import DEFAULT_GUIDE
    from captioner.labels.table import label_table
    from captioner.labels.words import forms
    from captioner.model.vocab import tokenize
    from captioner.photos.keywords import photo_keywords, singular

    caps, found = describe_split(ckpt, DEFAULT_GUIDE, flickr8k, "val")
    visual = {w for c in label_table() for w in forms(c.words)}
    right = total = named = objects = 0
    for im, d in zip(caps.images, found):
        words = {singular(w) for c in im.captions for w in tokenize(c)}
        flat, _ = photo_keywords(d)
        right += sum(1 for k in flat if singular(k) in words or k in words)
        total += len(flat)
        per_ref = collections.Counter(w for c in im.captions for w in {singular(x) for x in tokenize(c)})
        main = {w for w, n in per_ref.items() if n >= 3 and w in visual}
        objects += len(main)
        named += sum(1 for w in main if w in {singular(k) for k in flat})
    out = {
        "precision": round(right / max(total, 1), 3),
        "recall_of_main_objects": round(named / max(objects, 1), 3),
        "keywords_per_photo": round(total / len(found), 2),
    }
    print("keywords (val):", json.dumps(out), flush=True)
    return out


def examples(ckpt) -> dict:
    import torch

    from captioner.data.images import read_tensor
    from captioner.labels.describe import Describer
    from captioner.model.decode import DecodeOptions

    paths = sorted((ROOT / "examples").glob("*.jpg"))
    describer = Describer(ckpt)
    with torch.inference_mode():
        feats = describer.model.encoder.forward_features(torch.stack([read_tensor(p, 224) for p in paths]))
    alpha = float(ckpt.meta.get("decode", {}).get("length_penalty", 0.0))
    found = describer.describe(feats, DecodeOptions(beam_size=3, length_penalty=alpha))
    out = {p.name: {"caption": d.captions[0].text, "confidence": round(d.confidence, 2)} for p, d in zip(paths, found)}
    for name, row in out.items():
        print(f"{name}\t{row['caption']}\t(confidence {row['confidence']:.2f})")
    return out


def main() -> None:
    from captioner.model.checkpoint import read_checkpoint

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, default=ROOT / "weights" / "default.pt")
    ap.add_argument("--dcc-weights", type=Path, help="the held-out-objects model (skip part 2 without it)")
    ap.add_argument("--dcc-data", type=Path, default=ROOT / "runs" / "dcc" / "data")
    ap.add_argument("--flickr8k", type=Path, default=ROOT.parent / "shared" / "data" / "flickr8k")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: flickr8k, dcc, keywords, examples")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    skip = set(args.skip.split(","))
    ckpt = read_checkpoint(args.weights)
    result = {}
    if "examples" not in skip:
        result["examples"] = examples(ckpt)
    if "flickr8k" not in skip:
        result["flickr8k"] = flickr8k_quality(ckpt, args.flickr8k)
    if "keywords" not in skip:
        result["keywords"] = keyword_quality(ckpt, args.flickr8k)
    if args.dcc_weights and "dcc" not in skip:
        result["held_out_objects"] = mention_f1(read_checkpoint(args.dcc_weights), args.flickr8k, args.dcc_data)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
