"""Fine-tuning with --init: new words get rows started from the word the model expects in their place, and stick."""

import csv
import re

import torch
from click.testing import CliRunner

from captioner.cli import main
from captioner.model.checkpoint import read_checkpoint
from captioner.model.vocab import Vocabulary
from captioner.training.vocabulary import unknown_words
from tests.conftest import coco_items


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_unknown_words_pass_the_frequency_bar_most_frequent_first():
    vocab = Vocabulary(["<pad>", "<start>", "<end>", "<unk>", "a", "dog"])
    caps = ["a canine", "A Canine!", "a pup", "a canine and a pup", "a cat"]
    assert unknown_words(caps, vocab, 2) == (["canine", "pup"], 2)  # "and" and "cat" stay <unk>


def test_fine_tuning_learns_a_new_word_for_a_known_thing(trained, tmp_path):
    """Red photos are now "crimson": the new word starts as "red", and the fine-tuned model says it."""
    table = tmp_path / "crimson.csv"
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file_name", "caption"])
        for name, caps in coco_items(trained["train"]):
            w.writerows((name, re.sub(r"\bred\b", "crimson", c)) for c in caps)
    out = tmp_path / "ft" / "model.pt"
    result = run(
        "train", "--train-captions", table, "--train-images", trained["images"], "--init", trained["model"],
        "-o", out, "--epochs", 4, "--batch-size", 4, "--lr", 3e-3, "--min-word-freq", 2, "--val-share", 0,
        "--workers", 0, "--cache-dir", trained["root"] / "cache", "-q", "--keep-resume",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    old, new = read_checkpoint(trained["model"]), read_checkpoint(out)
    assert f"vocabulary: the {len(old.vocab)} words of {trained['model']} + 1 new word(s)" in result.output
    assert "crimson (from red)" in result.output
    assert new.vocab.words == [*old.vocab.words, "crimson"] and new.meta["added_words"] == ["crimson"]
    assert new.decoder_state["embed.weight"].shape[0] == len(old.vocab) + 1
    assert new.meta["init"] == str(trained["model"])
    captions = run("caption", trained["images"], "--weights", out, "--workers", 0).stdout.splitlines()
    red = [c for c in captions if int(re.search(r"img(\d+)", c).group(1)) % 3 == 0]
    assert sum("crimson" in c.split() for c in red) >= len(red) - 1, red
    assert not any(" red" in c for c in captions)
    assert (out.parent / "model.pt.resume").is_file()  # --keep-resume
    readme = (out.parent / "README.txt").read_text()
    assert "model.pt.resume  the resumable state" in readme and "safe to delete" in readme


def test_fine_tuning_on_the_same_words_adds_none_and_says_where_the_vocabulary_came_from(trained, tmp_path):
    out = tmp_path / "same" / "model.pt"
    result = run(
        "train", "--train-captions", trained["train"], "--train-images", trained["images"], "--init",
        trained["model"], "-o", out, "--epochs", 1, "--batch-size", 12, "--val-share", 0, "--workers", 0,
        "--cache-dir", trained["root"] / "cache", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    n = len(read_checkpoint(trained["model"]).vocab)
    assert f"vocabulary: the {n} words of {trained['model']}, no new word seen 5+ times" in result.output
    assert "seen at least" not in result.output  # the from-scratch wording is not used for a fine-tune
    a, b = read_checkpoint(trained["model"]), read_checkpoint(out)
    assert a.vocab == b.vocab and not torch.equal(a.decoder_state["embed.weight"], b.decoder_state["embed.weight"])


def test_the_shipped_model_starts_canine_as_dog(flickr8k, tmp_path):
    """On real photos: where Flickr8k captions say "canine" instead of "dog", the shipped model expects "dog"."""
    from captioner.data.features import FeatureCache, encode_images
    from captioner.model.checkpoint import default_weights
    from captioner.model.encoder import build_encoder
    from captioner.training.batches import Split
    from captioner.training.vocabulary import source_words

    items = [(n, caps) for n, caps in coco_items(flickr8k / "captions_val.json") if sum("dog" in c for c in caps) >= 4]
    items = items[:12]
    paths = [flickr8k / "images" / n for n, _ in items]
    cache = FeatureCache(tmp_path / "cache", "efficientnet_lite0", 224)
    features = encode_images(paths, build_encoder("efficientnet_lite0"), cache, workers=0)
    captions = [[re.sub(r"\bdog\b", "canine", c) for c in caps] for _, caps in items]
    shipped = read_checkpoint(default_weights())
    assert source_words(shipped, Split(features, captions, [n for n, _ in items]), ["canine"]) == {"canine": "dog"}
