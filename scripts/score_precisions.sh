#!/usr/bin/env bash
# Caption quality per --precision on Flickr8k test, and how many captions match fp32's (README "Performance"):
#   bash scripts/score_precisions.sh [FLICKR8K_DIR] [OUT_DIR]
# For guidance on and off: `captioner score --precision P` (BLEU-4, CIDEr-D), its captions saved as JSON Lines and
# compared with fp32's. About 8 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-${FLICKR8K:-../shared/data/flickr8k}}"
out="${2:-runs/precisions}"
mkdir -p "$out"
for guide in guidance no-guidance; do
  for p in fp32 bf16 int8; do
    captioner score --weights weights/default.pt --captions "$data/captions_test.json" --images "$data/images" \
      --beam-size 3 --precision "$p" --"$guide" --save-predictions "$out/$guide-$p.jsonl" --json -q \
      > "$out/$guide-$p.json"
    python - "$out/$guide-fp32.jsonl" "$out/$guide-$p.jsonl" "$out/$guide-$p.json" "$guide" "$p" <<'PY'
import json, sys
def captions(path):
    return {r["path"]: r["caption"] for r in map(json.loads, open(path, encoding="utf-8"))}
ref, got = captions(sys.argv[1]), captions(sys.argv[2])
scores = json.load(open(sys.argv[3]))
same = sum(got[k] == ref.get(k) for k in got) / len(got)
print(f"{sys.argv[4]:12s} {sys.argv[5]:5s} BLEU-4 {scores['bleu4']:.2f}  CIDEr-D {scores['cider']:.3f}  identical to fp32 {same:.1%}")
PY
  done
done
