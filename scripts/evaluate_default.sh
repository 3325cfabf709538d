#!/usr/bin/env bash
# Score the shipped model on the Flickr8k val and test splits (beam size 3): the table in weights/README.md.
#   bash scripts/evaluate_default.sh [WEIGHTS] [FLICKR8K_DIR]
# With the metrics extra (pip install '.[metrics]') and Java it adds METEOR, ROUGE-L and CIDEr-D (pycocoevalcap).
set -euo pipefail
cd "$(dirname "$0")/.."
weights="${1:-weights/default.pt}"
data="${2:-${FLICKR8K:-../shared/data/flickr8k}}"
out="${OUT:-runs/evaluate}"
mkdir -p "$out"
for split in val test; do
  captioner score --weights "$weights" --captions "$data/captions_$split.json" --images "$data/images" \
    --beam-size 3 --json --save-predictions "$out/predictions_$split.jsonl" --html "$out/report_$split.html" \
    > "$out/scores_$split.json"
done
python - "$out" <<'PY'
import json, sys
out = sys.argv[1]
rows = {s: json.load(open(f"{out}/scores_{s}.json")) for s in ("val", "test")}
keys = [("bleu1", "BLEU-1"), ("bleu2", "BLEU-2"), ("bleu3", "BLEU-3"), ("bleu4", "BLEU-4"), ("meteor", "METEOR"),
        ("rouge_l", "ROUGE-L"), ("cider", "CIDEr-D")]
keys = [(k, n) for k, n in keys if k in rows["test"]]
print("| split | " + " | ".join(n for _, n in keys) + " |")
print("|---|" + "---|" * len(keys))
for s, r in rows.items():
    print(f"| {s} ({r['images']} images) | " + " | ".join(f"{r[k]:.3f}" if k == "cider" else f"{r[k]:.2f}"
                                                         for k, _ in keys) + " |")
print(rows["test"]["summary"])
for s, r in rows.items():
    if "coco_bleu4" in r:
        diffs = ", ".join(f"BLEU-{n} {r[f'bleu{n}'] - r[f'coco_bleu{n}']:+.3f}" for n in range(1, 5))
        print(f"{s}: ours minus pycocoevalcap's BLEU (its PTB tokenizer): {diffs}")
PY
