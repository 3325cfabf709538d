"""train's edges: nothing to train, bad model files everywhere a model is read, --resume with nothing to resume,
what a run folder keeps, the per-epoch line, and a learning rate that ends where the schedule ends."""

import os

import pytest
import torch
from click.testing import CliRunner

from captioner.cli import main
from captioner.training.loop import train
from tests.training.test_train import quiet, setup


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def one_line_error(result, *needles, code=1):
    assert result.exit_code == code, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in errors[0], errors[0]


def test_nothing_to_train_is_a_usage_error(trained, tmp_path):
    result = run(
        "train", "--train-captions", trained["train"], "--train-images", trained["images"], "-o", tmp_path / "m.pt",
        "--epochs", 0, "--scst-epochs", 0,
    )  # fmt: skip
    one_line_error(result, "nothing to train: --epochs and --scst-epochs are both 0", code=2)
    assert not (tmp_path / "m.pt").exists()


def bad_model_files(folder, good):
    """Files that are not captioner models, each in its own way."""
    folder.mkdir()
    (folder / "text.pt").write_text("just some words\n")
    (folder / "random.pt").write_bytes(os.urandom(4096))
    (folder / "empty.pt").write_bytes(b"")
    torch.save([1, 2, 3], folder / "list.pt")
    torch.save({**good, "decoder": [1, 2]}, folder / "decoder.pt")
    torch.save({**good, "model_config": {**good["model_config"], "hidden_dim": "big"}}, folder / "config.pt")
    torch.save({**good, "encoder": {"name": ["resnet"]}}, folder / "encoder.pt")
    torch.save({**good, "vocab": good["vocab"][:-1] + [7]}, folder / "vocab.pt")
    torch.save({**good, "meta": ["not", "a", "dict"]}, folder / "meta.pt")
    return sorted(folder.iterdir())


def test_every_bad_model_file_is_one_line_wherever_a_model_is_read(trained, tmp_path):
    good = torch.load(trained["model"], weights_only=True)
    for path in bad_model_files(tmp_path / "bad", good):
        where = [
            ["train", "--train-captions", trained["train"], "--train-images", trained["images"], "--init", path],
            ["score", "--captions", trained["val"], "--images", trained["images"], "--weights", path, "--bleu-only"],
            ["caption", trained["images"] / "img000.jpg", "--weights", path],
        ]
        for args in where:
            extra = ["-o", tmp_path / "m.pt"] if args[0] == "train" else []
            one_line_error(run(*args, *extra), path.name)
    assert not (tmp_path / "m.pt").exists()


def test_init_names_a_file_or_the_shipped_model(trained, tmp_path):
    result = run("train", "--train-captions", trained["train"], "-o", tmp_path / "m.pt", "--init", tmp_path / "no.pt")
    one_line_error(result, "no such model file ('default' is the shipped model)", code=2)


def test_resume_without_a_saved_state_fails_before_any_work(trained, tmp_path):
    cache = tmp_path / "cache"
    result = run(
        "train", "--train-captions", trained["train"], "--train-images", trained["images"], "-o",
        tmp_path / "run" / "m.pt", "--resume", "--cache-dir", cache,
    )  # fmt: skip
    one_line_error(result, "m.pt.resume: nothing to resume (no such file); run without --resume")
    assert not cache.exists() and not (tmp_path / "run").exists()  # no features, not even the run folder


def test_a_finished_run_says_what_is_where_and_drops_its_resume_state(trained):
    folder = trained["model"].parent
    assert not (folder / "model.pt.resume").exists()
    readme = (folder / "README.txt").read_text()
    assert "Keep model.pt; everything else can be deleted." in readme
    assert "samples.html" in readme and "resume" not in readme
    page = (folder / "samples.html").read_text()
    assert page.count("<figure>") == 6 and "6 of 6 validation photos" in page


def test_each_epoch_prints_one_summary_line(tiny_dataset, tmp_path):
    result = run(
        "train", "--train-captions", tiny_dataset["train"], "--train-images", tiny_dataset["images"],
        "--val-captions", tiny_dataset["val"], "--val-images", tiny_dataset["images"], "-o", tmp_path / "run" / "m.pt",
        "--epochs", 2, "--batch-size", 12,
        "--hidden-dim", 16, "--embed-dim", 8, "--attention-dim", 8, "--min-word-freq", 1, "--workers", 0,
        "--cache-dir", tmp_path / "cache", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2 xe  loss ")
    assert all(" | val BLEU-4 " in line and " | lr " in line for line in lines)
    assert "{" not in result.output  # no JSON rows on the terminal: they are in metrics.jsonl
    assert "captions_val.json: COCO captions JSON, 6 photos, 18 captions for validation" in result.output


def test_the_learning_rate_ends_where_the_one_cycle_schedule_ends(tmp_path):
    data, mc, recipe = setup(epochs=4)
    data.val = None
    rows = train(data, mc, recipe, quiet(tmp_path / "m.pt"))["history"]
    lrs = [r["lr"] for r in rows if "averaged_last" not in r]
    final = recipe.lr / 25 / 1e4  # OneCycleLR's default div_factor and final_div_factor
    assert lrs[-1] == pytest.approx(final, rel=1e-6)  # not past the end, where the schedule climbs again
    assert lrs[1:] == sorted(lrs[1:], reverse=True)
