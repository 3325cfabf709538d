#!/usr/bin/env bash
# Time the README's "Train on your own photos" walk-through, start to finish, on 200 captioned photos:
#   bash scripts/walkthrough.sh [FLICKR8K_DIR] [WORK_DIR]
# Builds WORK_DIR/my_photos (200 Flickr8k training photos, each with a .txt sidecar holding its 5 captions, one a
# line) and WORK_DIR/new_photos (20 test photos), then runs the README's commands with an empty feature cache, so
# the time includes computing the features, as it would for a user's own photos.
set -euo pipefail
data="$(realpath "${1:-${FLICKR8K:-../shared/data/flickr8k}}")"
work="${2:-/tmp/walkthrough}"
rm -rf "$work" && mkdir -p "$work"
cd "$work"
python - "$data" <<'EOF'
import json, random, shutil, sys
from pathlib import Path

data = Path(sys.argv[1])
def load(split):
    d = json.loads((data / f"captions_{split}.json").read_text())
    caps = {}
    for a in d["annotations"]:
        caps.setdefault(a["image_id"], []).append(a["caption"])
    return [(im["file_name"], caps[im["id"]]) for im in d["images"]]
rng = random.Random(0)
for folder, split, n in (("my_photos", "train", 200), ("new_photos", "test", 20)):
    Path(folder).mkdir()
    for name, caps in rng.sample(load(split), n):
        shutil.copy(data / "images" / name, Path(folder) / name)
        if folder == "my_photos":
            (Path(folder) / name).with_suffix(".txt").write_text("\n".join(caps) + "\n")
EOF
export CAPTIONER_CACHE="$work/cache"  # empty: the features of the 200 photos are computed, as for a new user
start=$(date +%s.%N)
captioner train --train-captions my_photos/ --init default -o runs/my_photos/model.pt --epochs 3
captioner caption new_photos/ --weights runs/my_photos/model.pt
captioner prepare captions my_photos/ -o my_photos_coco --split 90/10
captioner score --weights runs/my_photos/model.pt --captions my_photos_coco/captions_val.json --images my_photos/
end=$(date +%s.%N)
ls -la runs/my_photos
echo "walkthrough: $(python -c "print(f'{($end - $start) / 60:.1f}')") minutes wall time on $(nproc) cores" \
  "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load average $(cut -d' ' -f1-3 /proc/loadavg)"
