#!/usr/bin/env bash
# Reproduce the shipped model, weights/default.pt, from Flickr8k on a CPU (about 90 minutes on 2 cores):
#   bash scripts/train_default.sh [FLICKR8K_DIR] [RUN_DIR]
# 1. cross-entropy: 6 epochs, 16 images (80 captions) a batch, AdamW + one-cycle LR 1e-3, dropout 0.5, label
#    smoothing 0.1, frozen EfficientNet-Lite0 features (computed once into the cache, $CAPTIONER_CACHE);
# 2. self-critical: 2 epochs (SCST_EPOCHS) with a CIDEr-D reward, 5 top-5 samples per image, mean-of-others
#    baseline, Adam 5e-5;
# 3. beam size 3 and the length penalty chosen on the val split (scripts/tune_decoding.py);
# 4. stripped to float16: weights/default.pt;
# 5. its caption confidence fitted on the val split, grounded in Flickr8k's expert judgments
#    (scripts/calibrate_confidence.py). Then: bash scripts/evaluate_default.sh
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-${FLICKR8K:-../shared/data/flickr8k}}"
run="${2:-runs/default}"
scst_epochs="${SCST_EPOCHS:-2}"
mkdir -p "$run"
common=(--train-captions "$data/captions_train.json" --train-images "$data/images"
        --val-captions "$data/captions_val.json" --val-images "$data/images" --batch-size 16 --seed 0 -q)
start=$(date +%s)
captioner train "${common[@]}" -o "$run/xe/model.pt" --epochs 6 --lr 1e-3
captioner train "${common[@]}" -o "$run/scst/model.pt" --init "$run/xe/model.pt" --epochs 0 \
  --scst-epochs "$scst_epochs" --scst-lr 5e-5
python scripts/tune_decoding.py --weights "$run/scst/model.pt" --captions "$data/captions_val.json" \
  --images "$data/images" --beams 3 --write
python scripts/release.py "$run/scst/model.pt" "${RELEASE:-weights/default.pt}" --name flickr8k-lite0-scst
python scripts/calibrate_confidence.py --weights "${RELEASE:-weights/default.pt}" --flickr8k "$data" --write
echo "train_default: $(( ($(date +%s) - start) / 60 )) minutes wall time on $(nproc) cores"
