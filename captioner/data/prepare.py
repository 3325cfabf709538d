"""Converters to COCO caption files: the original Flickr8k text files, Karpathy's splits, and any caption format
``train`` reads (CSV, JSON Lines, imagefolder, sidecars), optionally split by photo."""

from __future__ import annotations

import json
import os
from pathlib import Path

from captioner.atomic import atomic_write
from captioner.data.coco import CaptionSet
from captioner.data.formats import FORMAT_NAMES, ReadOptions, read_caption_set
from captioner.data.splits import split_caption_set
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


def write_split(path: Path, description: str, images: list[dict], annotations: list[dict]) -> tuple[int, int]:
    """Write one COCO caption file (atomically); returns (images, captions)."""
    with atomic_write(path) as f:
        json.dump({"info": {"description": description}, "images": images, "annotations": annotations}, f, indent=0)
    return len(images), len(annotations)


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
        description = f"Flickr8k {split} split ({FLICKR8K_CITATION}), COCO caption format"
        summary[split] = write_split(out_dir / f"captions_{split}.json", description, images, annotations)
    return summary


KARPATHY_SPLITS = {"train": ("train",), "val": ("val",), "test": ("test",)}


def prepare_karpathy(
    split_file: str | os.PathLike, out_dir: str | os.PathLike, restval: str = "train"
) -> dict[str, tuple[int, int]]:
    """Karpathy's ``dataset_{coco,flickr8k,flickr30k}.json`` to ``captions_{train,val,test}.json``.

    Each entry of its ``images`` list has ``filename`` (and for COCO ``filepath``, e.g. ``val2014``), ``split``
    (train, val, test or restval), ``sentences`` with ``raw`` text, and ``cocoid`` or ``imgid``. The COCO files
    name images ``filepath/filename``, relative to the folder holding ``train2014/`` and ``val2014/``; ids are
    ``cocoid`` (else 1 + ``imgid``). ``restval`` (COCO's 30k extra val images) goes to the split named by
    ``restval`` ("train", as in most papers, or "skip").
    """
    split_file, out_dir = Path(split_file), Path(out_dir)
    try:
        data = json.loads(split_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CaptionerError(f"{split_file}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CaptionerError(f"{split_file}: cannot read Karpathy split JSON ({e})") from None
    entries = data.get("images") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise CaptionerError(f"{split_file}: expected an object with an 'images' list (Karpathy's split format)")
    splits: dict[str, dict] = {s: {"images": [], "annotations": []} for s in KARPATHY_SPLITS}
    seen: set[int] = set()
    for n, entry in enumerate(entries):
        where = f"{split_file}: images[{n}]"
        try:
            name = entry["filename"]
            split = entry["split"]
            raws = [s["raw"] for s in entry["sentences"]]
            image_id = entry["cocoid"] if "cocoid" in entry else entry["imgid"] + 1
        except (KeyError, TypeError):
            raise CaptionerError(f"{where}: needs filename, split, sentences[].raw and cocoid or imgid") from None
        if not isinstance(name, str) or not isinstance(image_id, int) or not all(isinstance(r, str) for r in raws):
            raise CaptionerError(f"{where}: filename and captions must be strings, the id an integer")
        if split == "restval":
            split = None if restval == "skip" else restval
        elif split not in KARPATHY_SPLITS:
            raise CaptionerError(f"{where}: unknown split {split!r} (expected train, val, test or restval)")
        if split is None:
            continue
        if image_id in seen:
            raise CaptionerError(f"{where}: duplicate image id {image_id}")
        seen.add(image_id)
        folder = entry.get("filepath") or ""
        out = splits[split]
        out["images"].append({"id": image_id, "file_name": f"{folder}/{name}" if folder else name})
        for raw in raws:
            out["annotations"].append({"id": len(out["annotations"]) + 1, "image_id": image_id, "caption": raw})
    out_dir.mkdir(parents=True, exist_ok=True)
    dataset = data.get("dataset", "karpathy")
    return {
        split: write_split(
            out_dir / f"captions_{split}.json",
            f"{dataset} {split} split (Karpathy & Fei-Fei 2015)",
            content["images"],
            content["annotations"],
        )
        for split, content in splits.items()
    }


SPLIT_NAMES = ("train", "val", "test")


def write_caption_set(path: Path, captions: CaptionSet, description: str) -> tuple[int, int]:
    """One ``CaptionSet`` as a COCO caption file (ids 1..N in its order); returns (images, captions)."""
    images, annotations = [], []
    for image_id, im in enumerate(captions.images, 1):
        images.append({"id": image_id, "file_name": im.file_name})
        for caption in im.captions:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "caption": caption})
    return write_split(path, description, images, annotations)


def prepare_captions(
    source: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    images: str | os.PathLike | None = None,
    options: ReadOptions | None = None,
    shares: list[float] | None = None,
    seed: int = 0,
) -> tuple[dict[str, tuple[int, int]], CaptionSet]:
    """Any caption format ``train`` reads to COCO files: ``captions.json``, or with ``shares`` (train, val[, test])
    a seeded split by photo into ``captions_{train,val,test}.json``. File names stay relative to the image folder.

    Returns {file stem: (images, captions)} and the set that was read (its notes say what was skipped).
    """
    captions, fmt = read_caption_set(Path(source), Path(images) if images else None, options, images_option="--images")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    description = f"{FORMAT_NAMES[fmt]} {source}, COCO caption format"
    if not shares:
        return {"captions": write_caption_set(out_dir / "captions.json", captions, description)}, captions
    parts = split_caption_set(captions, shares, seed)
    summary = {}
    for name, part in zip(SPLIT_NAMES, parts):
        summary[f"captions_{name}"] = write_caption_set(
            out_dir / f"captions_{name}.json", part, f"{description}, {name} split (seed {seed})"
        )
    return summary, captions
