#!/usr/bin/env python
"""Choose beam size and length penalty on the validation split (never on test) and store them with the model.

Decodes the validation images (features from the cache) for every (beam size, alpha) pair and prints corpus
BLEU-1..4 and CIDEr-D. With --write, the best pair by BLEU-4 (ties: CIDEr-D) at the default beam size goes into the
checkpoint's meta["decode"], which `captioner caption` and `score` use when no --length-penalty is given.

    python scripts/tune_decoding.py --weights runs/default/model.pt \
        --captions ../shared/data/flickr8k/captions_val.json --images ../shared/data/flickr8k/images --write
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--captions", type=Path, required=True, help="validation caption file")
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--beams", default="1,3,5")
    ap.add_argument("--alphas", default="0,0.3,0.6,0.9,1.2,1.5")
    ap.add_argument("--default-beam", type=int, default=3, help="the beam size whose best alpha is stored")
    ap.add_argument("--write", action="store_true", help="store the chosen alpha in the checkpoint")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from captioner.data.coco import load_captions
    from captioner.data.features import FeatureCache, caption_set_features, default_cache_dir
    from captioner.evaluation.metrics import CiderD, corpus_bleu
    from captioner.model.checkpoint import build_model, read_checkpoint, save_checkpoint
    from captioner.model.decode import DecodeOptions, decode
    from captioner.model.encoder import build_encoder
    from captioner.model.vocab import tokenize

    ckpt = read_checkpoint(args.weights)
    model = build_model(ckpt, str(args.weights), with_encoder=False)
    refs_set = load_captions(args.captions, args.images)
    enc = build_encoder(ckpt.encoder_name)
    cache = FeatureCache(default_cache_dir(), enc.spec.name, enc.spec.image_size)
    features = caption_set_features(refs_set, enc, cache)
    refs = [[tokenize(c) for c in im.captions] for im in refs_set.images]
    cider = CiderD(refs)
    rows = []
    print(f"{'beam':>4} {'alpha':>5} {'B-1':>6} {'B-2':>6} {'B-3':>6} {'B-4':>6} {'CIDEr':>6} {'words':>5}")
    for k in (int(x) for x in args.beams.split(",")):
        for a in (float(x) for x in args.alphas.split(",")):
            caps = decode(model.decoder, features, ckpt.vocab, DecodeOptions(beam_size=k, length_penalty=a))
            hyps = [tokenize(c[0].text) for c in caps]
            s = corpus_bleu(refs, hyps)
            s["cider"] = cider.corpus_score(refs, hyps)
            s["words"] = sum(map(len, hyps)) / len(hyps)
            rows.append({"beam": k, "alpha": a, **{n: round(v, 4) for n, v in s.items()}})
            print(
                f"{k:>4} {a:>5.2f} {s['bleu1']:6.2f} {s['bleu2']:6.2f} {s['bleu3']:6.2f} {s['bleu4']:6.2f} "
                f"{s['cider']:6.3f} {s['words']:5.1f}",
                flush=True,
            )
    best = max((r for r in rows if r["beam"] == args.default_beam), key=lambda r: (r["bleu4"], r["cider"]))
    print(f"best at beam {args.default_beam}: alpha {best['alpha']} (val BLEU-4 {best['bleu4']:.2f})")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "best": best}, indent=2) + "\n")
    if args.write:
        ckpt.meta["decode"] = {
            "beam_size": args.default_beam,
            "length_penalty": best["alpha"],
            "chosen_on": str(args.captions),
            "val_bleu4": best["bleu4"],
        }
        save_checkpoint(ckpt, args.weights)
        print(f"stored in {args.weights}")


if __name__ == "__main__":
    main()
