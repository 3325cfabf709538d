#!/usr/bin/env python
"""Held-out objects on Flickr8k (the DCC protocol, Hendricks et al. 2016): training captions that never name them.

    python scripts/dcc_split.py [FLICKR8K_DIR] -o runs/dcc/data

Writes ``captions_train.json`` without every training image whose captions mention one of the held-out objects
(any of its words below), a copy of val and test, and ``heldout.json`` (the objects, their words, and how many
images each split had). Train on it with ``captioner train`` (see scripts/evaluate_open_world.py for the rest).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# object -> the caption words that name it (singular, plural, and the derived words that would leak it)
HELD_OUT = {
    "bicycle": ["bike", "bikes", "bicycle", "bicycles", "biker", "bikers", "bicyclist", "bicyclists"],
    "ball": ["ball", "balls"],
    "car": ["car", "cars"],
    "boat": ["boat", "boats"],
    "motorcycle": ["motorcycle", "motorcycles", "motorbike", "motorbikes", "motorcyclist", "motorcyclists"],
    "horse": ["horse", "horses"],
    "guitar": ["guitar", "guitars", "guitarist", "guitarists"],
}


def mentions(captions: list[str]) -> set[str]:
    from captioner.model.vocab import tokenize

    words = {w for c in captions for w in tokenize(c)}
    return {obj for obj, names in HELD_OUT.items() if words & set(names)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("flickr8k", nargs="?", type=Path, default=Path("../shared/data/flickr8k"))
    ap.add_argument("-o", "--output", type=Path, default=Path("runs/dcc/data"))
    args = ap.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split in ("train", "val", "test"):
        data = json.loads((args.flickr8k / f"captions_{split}.json").read_text(encoding="utf-8"))
        caps: dict = {}
        for a in data["annotations"]:
            caps.setdefault(a["image_id"], []).append(a["caption"])
        found = {im["id"]: mentions(caps.get(im["id"], [])) for im in data["images"]}
        counts[split] = {obj: sum(obj in f for f in found.values()) for obj in HELD_OUT}
        if split == "train":
            keep = {i for i, f in found.items() if not f}
            data["images"] = [im for im in data["images"] if im["id"] in keep]
            data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
            counts["train_kept"] = len(keep)
        (args.output / f"captions_{split}.json").write_text(json.dumps(data), encoding="utf-8")
    (args.output / "heldout.json").write_text(json.dumps({"objects": HELD_OUT, "images": counts}, indent=1))
    print(json.dumps(counts, indent=1))


if __name__ == "__main__":
    main()
