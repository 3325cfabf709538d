#!/usr/bin/env bash
# Train on COCO 2014 (Karpathy split) after scripts/download_coco.sh:
#   bash scripts/train_coco.sh [COCO_DIR] [RUN_DIR]
# Uses every GPU on the machine through torchrun (NPROC=N to choose; on a CPU-only machine one process per 2
# cores is a sensible start). Features are cached once (about 123k images), then each epoch runs on the cache.
# Vocabulary: words seen at least 5 times (about 10k). Then self-critical training with the CIDEr-D reward.
set -euo pipefail
coco="${1:-$HOME/data/coco}"
run="${2:-runs/coco}"
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  nproc_default=$(nvidia-smi -L | wc -l); precision=bf16
else
  nproc_default=1; precision=fp32
fi
nproc="${NPROC:-$nproc_default}"
common=(--train-captions "$coco/captions_train.json" --train-images "$coco"
        --val-captions "$coco/captions_val.json" --val-images "$coco" --precision "$precision" --seed 0)
mkdir -p "$run"
torchrun --standalone --nproc_per_node "$nproc" -m captioner train "${common[@]}" -o "$run/xe/model.pt" \
  --epochs "${EPOCHS:-15}" --batch-size "${BATCH:-64}" --lr "${LR:-1e-3}" --val-beam-size 3
torchrun --standalone --nproc_per_node "$nproc" -m captioner train "${common[@]}" -o "$run/scst/model.pt" \
  --init "$run/xe/model.pt" --epochs 0 --scst-epochs "${SCST_EPOCHS:-10}" --batch-size "${BATCH:-64}" --scst-lr 5e-5
captioner score --weights "$run/scst/model.pt" --captions "$coco/captions_test.json" --images "$coco"
