#!/usr/bin/env bash
# Download COCO 2014 images and Karpathy's caption splits, verify them, and write COCO caption files:
#   bash scripts/download_coco.sh [DEST]          (default ~/data/coco; about 20 GB of zips, 19 GB unpacked)
# Result: DEST/train2014/, DEST/val2014/, DEST/captions_{train,val,test}.json (113,287 / 5,000 / 5,000 images,
# restval in train). Needs internet, curl, unzip, md5sum; re-running skips what is already there and verified.
set -euo pipefail
dest="${1:-$HOME/data/coco}"
mkdir -p "$dest/zips"
cd "$dest"
# MD5 sums as published with the archives (and cited by many downloaders, e.g. salesforce/LAVIS).
fetch() {  # url md5
  local file="zips/$(basename "$1")"
  if [ ! -f "$file" ] || ! echo "$2  $file" | md5sum -c --status -; then
    curl -fL --retry 5 -C - -o "$file" "$1" || curl -fL --retry 5 -o "$file" "$1"
    echo "$2  $file" | md5sum -c - || { echo "checksum mismatch: $file (delete it and re-run)" >&2; exit 1; }
  fi
}
fetch http://images.cocodataset.org/zips/train2014.zip 0da8c0bd3d6becc4dcb32757491aca88
fetch http://images.cocodataset.org/zips/val2014.zip a3d79f5ed8d289b7a7554ce06a5782b3
[ -f zips/caption_datasets.zip ] ||
  curl -fL --retry 5 -o zips/caption_datasets.zip https://cs.stanford.edu/people/karpathy/deepimagesent/caption_datasets.zip
for z in train2014 val2014; do
  [ -d "$z" ] || unzip -q "zips/$z.zip"
done
unzip -qo zips/caption_datasets.zip dataset_coco.json -d karpathy
# No published checksum for Karpathy's zip: check its content instead (123,287 images in the split file).
captioner prepare karpathy karpathy/dataset_coco.json -o . | tee karpathy/prepare.log
grep -q "captions_train.json: 113287 images" karpathy/prepare.log &&
  grep -q "captions_val.json: 5000 images" karpathy/prepare.log &&
  grep -q "captions_test.json: 5000 images" karpathy/prepare.log ||
  { echo "unexpected Karpathy split sizes (see karpathy/prepare.log)" >&2; exit 1; }
echo "COCO ready in $dest: train with  bash scripts/train_coco.sh $dest"
