"""Seeded splits by photo, the validation hold-out, and ``prepare captions`` (any format to COCO files)."""

import json

import pytest
from click.testing import CliRunner

from captioner.cli import main
from captioner.data.coco import CaptionedImage, CaptionSet, load_captions
from captioner.data.splits import MAX_HOLDOUT, hold_out, holdout_size, split_caption_set, split_counts
from captioner.errors import CaptionerError
from tests.conftest import coco_items, make_dataset, make_formats


def photos(n):
    images = [CaptionedImage(i, f"{i}.jpg", f"{i}.jpg", [f"caption {i}"]) for i in range(n)]
    return CaptionSet("src", images, ["a note"])


def names(captions):
    return [im.file_name for im in captions.images]


def test_splits_are_disjoint_complete_seeded_and_keep_the_order():
    parts = split_caption_set(photos(50), [0.8, 0.1, 0.1], seed=3)
    assert [len(p.images) for p in parts] == [40, 5, 5]
    together = [n for p in parts for n in names(p)]
    assert sorted(together) == sorted(names(photos(50))) and len(set(together)) == 50
    for p in parts:
        assert names(p) == sorted(names(p), key=lambda n: int(n.split(".")[0]))
    assert names(split_caption_set(photos(50), [0.8, 0.1, 0.1], seed=3)[1]) == names(parts[1])
    assert names(split_caption_set(photos(50), [0.8, 0.1, 0.1], seed=4)[1]) != names(parts[1])


def test_split_counts():
    assert split_counts(10, [0.9, 0.1]) == [9, 1]
    assert split_counts(3, [0.98, 0.01, 0.01]) == [1, 1, 1]  # a share that is asked for gets a photo
    assert split_counts(5, [1.0, 0.0]) == [5, 0]
    with pytest.raises(CaptionerError, match="too few to split"):
        split_counts(2, [0.5, 0.25, 0.25])


def test_hold_out_rule():
    assert holdout_size(9, 0.1) == 0  # too few photos: train on all
    assert holdout_size(10, 0.1) == 1 and holdout_size(200, 0.1) == 20
    assert holdout_size(200, 0.0) == 0
    assert holdout_size(100_000, 0.1) == MAX_HOLDOUT
    train, val = hold_out(photos(30), 0.2, seed=0)
    assert len(train.images) == 24 and len(val.images) == 6 and train.notes == ["a note"]
    assert hold_out(photos(5), 0.2)[1] is None


def test_prepare_converts_every_format_to_coco_files_that_score_and_train_read(tmp_path):
    data = make_dataset(tmp_path)
    sources = make_formats(data, tmp_path / "formats")
    expected = sorted((fn, sorted(caps)) for fn, caps in coco_items(data["train"]))
    for fmt, (source, images) in sources.items():
        out = tmp_path / "coco" / fmt
        args = ["prepare", "captions", str(source), "-o", str(out)] + (["--images", str(images)] if images else [])
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert "captions.json: 12 images, 36 captions" in result.stdout
        read = load_captions(out / "captions.json", images or source)  # every photo is where the names say
        assert sorted((im.file_name.rsplit("/", 1)[-1], sorted(im.captions)) for im in read.images) == expected
        assert json.loads((out / "captions.json").read_text())["annotations"][0]["id"] == 1


def test_prepare_split_matches_the_photos_train_holds_out(tmp_path):
    data = make_dataset(tmp_path)
    sidecar = make_formats(data, tmp_path / "formats")["sidecar"][0]
    result = CliRunner().invoke(
        main, ["prepare", "captions", str(sidecar), "-o", str(tmp_path / "out"), "--split", "90/10", "--seed", "7"]
    )
    assert result.exit_code == 0, result.output
    assert "captions_train.json: 11 images, 33 captions" in result.stdout
    assert "captions_val.json: 1 images, 3 captions" in result.stdout
    assert f"file names are relative to {sidecar}" in result.stderr
    from captioner.data.formats import read_caption_set

    _, held = hold_out(read_caption_set(sidecar)[0], 0.1, seed=7)
    assert names(held) == names(load_captions(tmp_path / "out" / "captions_val.json", sidecar))


@pytest.mark.parametrize("split", ["80", "0/50/50", "a/b", "80/-10/30", "1/2/3/4"])
def test_prepare_refuses_a_bad_split(tmp_path, split):
    result = CliRunner().invoke(main, ["prepare", "captions", str(tmp_path), "-o", str(tmp_path), "--split", split])
    assert result.exit_code == 2 and "TRAIN/VAL or TRAIN/VAL/TEST proportions" in result.output
