"""Convert the original Flickr8k text files to COCO caption files, one per official split."""

from __future__ import annotations

import json
import os
from pathlib import Path

from captioner.atomic import atomic_write
from captioner.errors import CaptionerError

FLICKR8K_SPLITS = {
    "train": "Flickr_8k.trainImages.txt",
    "val": "Flickr_8k.devImages.txt",
    "test": "Flickr_8k.testImages.txt",
}
FLICKR8K_CITATION = "Hodosh, Young & Hockenmaier 2013"


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise CaptionerError(f"{path}: no such file (expected the original Flickr8k text files)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CaptionerError(f"{path}: cannot read ({e})") from None


def read_flickr8k_tokens(path: Path) -> dict[str, list[str]]:
    """``NAME.jpg#N<TAB>caption`` lines to {name: captions in N order}; malformed lines are an error."""
    numbered: dict[str, list[tuple[int, str]]] = {}
    for lineno, line in enumerate(_read_lines(path), 1):
        if not line.strip():
            continue
        key, sep, caption = line.partition("\t")
        name, hash_, n = key.rpartition("#")
        if not sep or not hash_ or not n.isdigit():
            raise CaptionerError(f"{path}:{lineno}: expected 'NAME.jpg#N<TAB>caption', got {line[:60]!r}")
        numbered.setdefault(name, []).append((int(n), caption))
    return {name: [c for _, c in sorted(caps)] for name, caps in numbered.items()}


def _image_dir(root: Path) -> Path:
    for name in ("images", "Flicker8k_Dataset", "Flickr8k_Dataset"):
        if (root / name).is_dir():
            return root / name
    raise CaptionerError(f"{root}: no images/ folder (nor Flicker8k_Dataset/) with the photos")


def prepare_flickr8k(root: str | os.PathLike, out_dir: str | os.PathLike) -> dict[str, tuple[int, int]]:
    """Write ``captions_{train,val,test}.json`` to ``out_dir``; returns {split: (images, captions)}.

    Image ids are 1 + the image's position in the sorted caption file, the same in every split; captions keep
    their original text and order.
    """
    from PIL import Image

    root, out_dir = Path(root), Path(out_dir)
    text = root / "Flickr8k_text"
    captions = read_flickr8k_tokens(text / "Flickr8k.token.txt")
    ids = {name: i for i, name in enumerate(sorted(captions), 1)}
    images_dir = _image_dir(root)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {}
    for split, list_name in FLICKR8K_SPLITS.items():
        names = [n.strip() for n in _read_lines(text / list_name) if n.strip()]
        unknown = [n for n in names if n not in captions]
        if unknown:
            raise CaptionerError(f"{text / list_name}: {len(unknown)} images have no captions ({unknown[:3]})")
        images, annotations = [], []
        for name in names:
            try:
                with Image.open(images_dir / name) as img:
                    width, height = img.size
            except OSError as e:
                raise CaptionerError(f"{images_dir / name}: cannot read image ({e})") from None
            images.append({"id": ids[name], "file_name": name, "width": width, "height": height})
            for caption in captions[name]:
                annotations.append({"id": len(annotations) + 1, "image_id": ids[name], "caption": caption})
        data = {
            "info": {"description": f"Flickr8k {split} split ({FLICKR8K_CITATION}), COCO caption format"},
            "images": images,
            "annotations": annotations,
        }
        with atomic_write(out_dir / f"captions_{split}.json") as f:
            json.dump(data, f, indent=0)
        summary[split] = (len(images), len(annotations))
    return summary
