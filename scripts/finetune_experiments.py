#!/usr/bin/env python
"""Issue 15's done-when experiments: fine-tuning the shipped model teaches it new words and keeps what it knew.

canine   Flickr8k training photos of dogs whose captions call the dog a "canine" (dog -> canine, dogs -> canines):
         fine-tune for 3 epochs on 400 of them (a CSV, 40 more for validation), caption 60 held-out dog photos from
         the val and test splits, count the captions that say canine.
newwords 200 Flickr8k training photos of water scenes whose captions use 10 invented words instead of 10 frequent
         nouns (water -> dax, beach -> wug, ..., plurals get an -s), as a folder of photos with .txt sidecars (the
         README walk-through's layout, 10% held out for validation): fine-tune, caption 60 held-out water photos
         from val and test, count the captions that use the new words, and the uses that are right (the photo's
         references use the noun the word stands for).
Both     Flickr8k test BLEU-4 before and after (`captioner score --bleu-only`), and once more with the new words
         mapped back to the old ones, which separates forgetting from renaming.

Every step is the `captioner` CLI, run as a subprocess; features come from the cache. Outputs go under --out:

    python scripts/finetune_experiments.py --out runs/finetune              # both: about 25 minutes on 2 busy cores
    python scripts/finetune_experiments.py --out runs/finetune --only canine --epochs 3
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CANINE = {"dog": "canine", "dogs": "canines"}
# ten frequent nouns of Flickr8k's water scenes and the invented words that replace them (classic nonce words)
NEW_WORDS = {
    "water": "dax",
    "beach": "wug",
    "ocean": "blicket",
    "wave": "toma",
    "sand": "fep",
    "pool": "zorb",
    "surfer": "kiki",
    "surfboard": "bouba",
    "boat": "glorp",
    "lake": "mib",
}


def tokens(text: str) -> list[str]:
    from captioner.model.vocab import tokenize

    return tokenize(text)


def load(path: Path) -> list[tuple[str, list[str]]]:
    data = json.loads(path.read_text())
    caps: dict[int, list[str]] = {}
    for a in data["annotations"]:
        caps.setdefault(a["image_id"], []).append(a["caption"])
    return [(im["file_name"], caps[im["id"]]) for im in data["images"]]


def mapping(words: dict[str, str]) -> dict[str, str]:
    """Singular and plural: {"dog": "canine", "dogs": "canines"} from {"dog": "canine"} (plurals by -s)."""
    full = dict(words)
    for old, new in words.items():
        if not old.endswith("s"):
            full.setdefault(old + "s", new + "s")
    return full


def rewrite(caption: str, table: dict[str, str]) -> str:
    return re.sub(r"[A-Za-z']+", lambda m: table.get(m.group(0).lower(), m.group(0)), caption)


def mentions(captions: list[str], words, at_least: int = 2) -> bool:
    return sum(any(t in words for t in tokens(c)) for c in captions) >= at_least


def pick_stratified(items, words: list[str], per_word: int, rng: random.Random, at_least: int) -> list:
    """Up to ``per_word`` photos for each word (rarest first) whose captions mention it, each photo once."""
    chosen, seen = [], set()
    for word in words:
        pool = [it for it in items if it[0] not in seen and mentions(it[1], {word, word + "s"}, at_least)]
        rng.shuffle(pool)
        for it in pool[:per_word]:
            chosen.append(it)
            seen.add(it[0])
    return chosen


def write_coco(path: Path, items) -> None:
    images = [{"id": i, "file_name": name} for i, (name, _) in enumerate(items, 1)]
    anns = [{"image_id": i, "caption": c} for i, (_, caps) in enumerate(items, 1) for c in caps]
    path.write_text(json.dumps({"images": images, "annotations": anns}))


def captioner(*args, log: Path) -> str:
    """Run the CLI; its stderr goes to ``log``; returns stdout."""
    cmd = [sys.executable, "-m", "captioner", *map(str, args)]
    with open(log, "a") as f:
        f.write("$ captioner " + " ".join(map(str, args)) + "\n")
        f.flush()
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=f, text=True, cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"failed ({out.returncode}): {' '.join(map(str, cmd))}; see {log}")
    return out.stdout


def test_bleu(weights: Path, data: Path, out: Path, back: dict[str, str], log: Path) -> dict:
    """Test BLEU-4 of ``weights``, and with the new words of its predictions mapped back by ``back``."""
    preds = out / f"test_{weights.parent.name}.jsonl"
    test = data / "captions_test.json"
    common = ["--captions", test, "--bleu-only", "--json"]
    weights_args = ["--weights", weights, "--images", data / "images", "--save-predictions", preds]
    scores = json.loads(captioner("score", *weights_args, *common, log=log))
    result = {"bleu4": scores["bleu4"]}
    if back:
        mapped = out / f"test_{weights.parent.name}_mapped.jsonl"
        rows = [json.loads(x) for x in preds.read_text().splitlines()]
        mapped.write_text("".join(json.dumps({**r, "caption": rewrite(r["caption"], back)}) + "\n" for r in rows))
        result["bleu4_mapped_back"] = json.loads(captioner("score", "--predictions", mapped, *common, log=log))["bleu4"]
        result["test_captions_using_new_words"] = sum(any(t in back for t in tokens(r["caption"])) for r in rows)
    return result


def heldout_captions(weights: Path, heldout: Path, data: Path, out: Path, log: Path) -> list[str]:
    preds = out / f"heldout_{weights.parent.name}.jsonl"
    captioner(
        "score", "--weights", weights, "--captions", heldout, "--images", data / "images", "--bleu-only",
        "--save-predictions", preds, log=log,
    )  # fmt: skip
    return [json.loads(x)["caption"] for x in preds.read_text().splitlines()]


def canine(args, out: Path, log: Path) -> dict:
    rng = random.Random(args.seed)
    train = [it for it in load(args.data / "captions_train.json") if mentions(it[1], {"dog", "dogs"}, 3)]
    rng.shuffle(train)
    held = [
        it
        for split in ("val", "test")
        for it in load(args.data / f"captions_{split}.json")
        if mentions(it[1], {"dog", "dogs"}, 3)
    ]
    rng.shuffle(held)
    held = held[:60]
    table = mapping({"dog": "canine"})
    for name, part in (("train", train[:400]), ("val", train[400:440])):
        with open(out / f"{name}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["file_name", "caption"])
            w.writerows((fn, rewrite(c, table)) for fn, caps in part for c in caps)
    write_coco(out / "heldout.json", [(fn, [rewrite(c, table) for c in caps]) for fn, caps in held])
    t0 = time.time()
    model = out / "model" / "model.pt"
    captioner(
        "train", "--train-captions", out / "train.csv", "--train-images", args.data / "images",
        "--val-captions", out / "val.csv", "--val-images", args.data / "images", "--init", args.weights,
        "--epochs", args.epochs, "-o", model, "-q", *args.train_args, log=log,
    )  # fmt: skip
    minutes = (time.time() - t0) / 60
    new = set(table.values())
    before = heldout_captions(args.weights, out / "heldout.json", args.data, out, log)
    after = heldout_captions(model, out / "heldout.json", args.data, out, log)
    return {
        "train_photos": 400,
        "heldout_photos": len(held),
        "fine_tune_minutes": round(minutes, 1),
        "heldout_canine_before": sum(any(t in new for t in tokens(c)) for c in before),
        "heldout_canine_after": sum(any(t in new for t in tokens(c)) for c in after),
        "heldout_dog_before": sum(any(t in table for t in tokens(c)) for c in before),
        "heldout_dog_after": sum(any(t in table for t in tokens(c)) for c in after),
        "examples_after": after[:8],
        "test": test_bleu(model, args.data, out, {v: k for k, v in table.items()}, log),
    }


def new_words(args, out: Path, log: Path) -> dict:
    rng = random.Random(args.seed)
    table = mapping(NEW_WORDS)
    train_items = load(args.data / "captions_train.json")
    order = sorted(NEW_WORDS, key=lambda w: sum(mentions(c, {w, w + "s"}) for _, c in train_items))
    train = pick_stratified(train_items, order, 20, rng, at_least=2)[:200]
    held_items = load(args.data / "captions_val.json") + load(args.data / "captions_test.json")
    held = pick_stratified(held_items, order, 6, rng, at_least=2)[:60]
    folder = out / "photos"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, caps in train:  # the layout of the README walk-through: photo.jpg + photo.txt, a caption a line
        shutil.copy(args.data / "images" / name, folder / name)
        (folder / name).with_suffix(".txt").write_text("\n".join(rewrite(c, table) for c in caps) + "\n")
    write_coco(out / "heldout.json", [(fn, [rewrite(c, table) for c in caps]) for fn, caps in held])
    t0 = time.time()
    model = out / "model" / "model.pt"
    captioner(
        "train", "--train-captions", folder, "--init", args.weights, "--epochs", args.epochs, "-o", model, "-q",
        *args.train_args, log=log,
    )  # fmt: skip
    minutes = (time.time() - t0) / 60
    new, back = set(table.values()), {v: k for k, v in table.items()}
    before = heldout_captions(args.weights, out / "heldout.json", args.data, out, log)
    after = heldout_captions(model, out / "heldout.json", args.data, out, log)
    right = 0
    for caption, (_, refs) in zip(after, held):
        ref_words = {t for r in refs for t in tokens(r)}
        right += sum(1 for t in set(tokens(caption)) if t in new and back[t] in ref_words)
    used = sorted({t for c in after for t in tokens(c) if t in new})
    return {
        "train_photos": len(train),
        "heldout_photos": len(held),
        "fine_tune_minutes": round(minutes, 1),
        "heldout_old_nouns_before": sum(any(t in table for t in tokens(c)) for c in before),
        "heldout_new_words_after": sum(any(t in new for t in tokens(c)) for c in after),
        "new_word_uses_after": sum(t in new for c in after for t in tokens(c)),
        "new_word_uses_right": right,
        "distinct_new_words_used": used,
        "examples_after": after[:8],
        "test": test_bleu(model, args.data, out, back, log),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "flickr8k")
    ap.add_argument("--weights", type=Path, default=ROOT / "weights" / "default.pt")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "finetune")
    ap.add_argument("--only", choices=["canine", "newwords", "baseline"])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("train_args", nargs="*", help="more `captioner train` options, after --")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "log.txt"
    results = {}
    if args.only in (None, "baseline"):
        base = args.out / "baseline"
        base.mkdir(exist_ok=True)
        results["shipped"] = test_bleu(args.weights, args.data, base, {}, log)
    for name, run in (("canine", canine), ("newwords", new_words)):
        if args.only in (None, name):
            (args.out / name).mkdir(exist_ok=True)
            results[name] = run(args, args.out / name, log)
            print(json.dumps({name: results[name]}, indent=1), flush=True)
    (args.out / f"results{'_' + args.only if args.only else ''}.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
