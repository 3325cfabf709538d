"""Shared fixtures: tiny generated images and COCO files, and the team's Flickr8k copy when it is there."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

FLICKR8K = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "flickr8k"

WORDS = ["red", "blue", "green"]
SHAPES = ["square", "circle"]


def make_image(path: Path, color: str, size: int = 64, seed: int = 0) -> None:
    rgb = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30)}[color]
    rng = np.random.default_rng(seed)
    a = np.clip(np.array(rgb)[None, None] + rng.normal(0, 20, (size, size, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(a).save(path)


def make_dataset(tmp_path: Path) -> dict:
    """Twelve 64x64 photos of flat colours and a COCO caption file (train) plus six more (val)."""
    images = tmp_path / "images"
    images.mkdir()

    def split(name, start, n):
        ims, anns = [], []
        for i in range(start, start + n):
            color = WORDS[i % 3]
            file_name = f"img{i:03d}.jpg"
            make_image(images / file_name, color, seed=i)
            ims.append({"id": i, "file_name": file_name})
            for tmpl in ["a {c} picture", "the {c} image", "a photo that is {c}"]:
                anns.append({"id": len(anns) + 1, "image_id": i, "caption": tmpl.format(c=color)})
        path = tmp_path / f"captions_{name}.json"
        path.write_text(json.dumps({"images": ims, "annotations": anns}))
        return path

    return {"root": tmp_path, "images": images, "train": split("train", 0, 12), "val": split("val", 12, 6)}


def coco_items(path: Path) -> list[tuple[str, list[str]]]:
    """(file name, captions) of a COCO caption file, in its order."""
    data = json.loads(Path(path).read_text())
    caps: dict = {}
    for a in data["annotations"]:
        caps.setdefault(a["image_id"], []).append(a["caption"])
    return [(im["file_name"], caps[im["id"]]) for im in data["images"]]


def make_formats(data: dict, out: Path) -> dict[str, tuple[Path, Path | None]]:
    """The training split of ``make_dataset`` in every format ``train`` reads: {format: (source, image folder)}.

    Tables name the photos in ``data["images"]``; the imagefolder and sidecar folders hold their own copies.
    """
    import csv
    import shutil

    items = coco_items(data["train"])
    out.mkdir(parents=True, exist_ok=True)
    for name, delimiter in (("train.csv", ","), ("train.tsv", "\t")):
        with open(out / name, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, delimiter=delimiter)
            w.writerow(["image", "caption"] if delimiter == "," else ["file_name", "text"])
            w.writerows((fn, c) for fn, caps in items for c in caps)
    with open(out / "train.jsonl", "w", encoding="utf-8") as f:
        for fn, caps in items:  # one line per photo, all its captions in a list
            f.write(json.dumps({"file_name": fn, "captions": caps}) + "\n")
    hf, sidecar = out / "hf", out / "sidecar"
    (hf / "part").mkdir(parents=True)
    sidecar.mkdir()
    half = len(items) // 2
    with open(hf / "metadata.jsonl", "w", encoding="utf-8") as f:
        for fn, caps in items[:half]:
            shutil.copy(data["images"] / fn, hf / fn)
            f.writelines(json.dumps({"file_name": fn, "text": c}) + "\n" for c in caps)
    with open(hf / "part" / "metadata.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)  # a second metadata file in a subfolder, names relative to it
        w.writerow(["file_name", "text"])
        for fn, caps in items[half:]:
            shutil.copy(data["images"] / fn, hf / "part" / fn)
            w.writerows((fn, c) for c in caps)
    for fn, caps in items:
        shutil.copy(data["images"] / fn, sidecar / fn)
        (sidecar / fn).with_suffix(".txt").write_text("\n".join(caps) + "\n", encoding="utf-8")
    return {
        "coco": (data["train"], data["images"]),
        "csv": (out / "train.csv", data["images"]),
        "tsv": (out / "train.tsv", data["images"]),
        "jsonl": (out / "train.jsonl", data["images"]),
        "imagefolder": (hf, None),
        "sidecar": (sidecar, None),
    }


@pytest.fixture
def tiny_dataset(tmp_path):
    return make_dataset(tmp_path)


@pytest.fixture
def flickr8k():
    if not (FLICKR8K / "captions_train.json").is_file():
        pytest.skip("the team's Flickr8k copy (../shared/data/flickr8k) is not here")
    return FLICKR8K


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A small model trained through the CLI until it names the colour of the tiny photos (~20 s on 2 cores)."""
    from click.testing import CliRunner

    from captioner.cli import main

    root = tmp_path_factory.mktemp("e2e")
    data = make_dataset(root)
    out = root / "run" / "model.pt"  # train makes the run's folder
    args = [
        "train",
        "--train-captions",
        data["train"],
        "--train-images",
        data["images"],
        "--val-captions",
        data["val"],
        "--val-images",
        data["images"],
        "-o",
        out,
        "--epochs",
        25,
        "--batch-size",
        6,
        "--lr",
        3e-3,
        "--hidden-dim",
        64,
        "--embed-dim",
        32,
        "--attention-dim",
        32,
        "--min-word-freq",
        1,
        "--dropout",
        0.1,
        "--cache-dir",
        root / "cache",
        "--workers",
        0,
        "-q",
    ]
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return {**data, "model": out, "root": root}
