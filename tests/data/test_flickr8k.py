"""Tests on the team's Flickr8k copy (../shared/data/flickr8k); skipped where it is absent."""

import json
import shutil

from click.testing import CliRunner

from captioner.cli import main


def test_prepare_reproduces_the_coco_files(flickr8k, tmp_path):
    root = tmp_path / "flickr8k"
    root.mkdir()
    (root / "images").symlink_to(flickr8k / "images")
    shutil.copytree(flickr8k / "Flickr8k_text", root / "Flickr8k_text")
    result = CliRunner().invoke(main, ["prepare", "flickr8k", str(root), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    for split in ("train", "val", "test"):
        ours = json.loads((tmp_path / "out" / f"captions_{split}.json").read_text())
        theirs = json.loads((flickr8k / f"captions_{split}.json").read_text())
        assert ours == theirs


def test_subset_training_lowers_the_loss(flickr8k, tmp_path):
    out = tmp_path / "run" / "model.pt"
    out.parent.mkdir()
    result = CliRunner().invoke(
        main,
        [
            "train",
            "--train-captions",
            str(flickr8k / "captions_train.json"),
            "--train-images",
            str(flickr8k / "images"),
            "--val-captions",
            str(flickr8k / "captions_val.json"),
            "--val-images",
            str(flickr8k / "images"),
            "-o",
            str(out),
            "--max-images",
            "200",
            "--epochs",
            "2",
            "--lr",
            "2e-3",
            "-q",
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out.parent / "metrics.jsonl").read_text().splitlines()]
    assert rows[1]["train_loss"] < rows[0]["train_loss"] - 0.3
    assert rows[1]["val_loss"] < rows[0]["val_loss"]
    assert rows[1]["bleu1"] > 20
