"""``captioner train`` end to end on every caption format, and on broken ones: one step each, one-line errors."""

import json

import pytest
from click.testing import CliRunner

from captioner.cli import main
from tests.conftest import make_dataset, make_formats

TINY = ["--hidden-dim", 16, "--embed-dim", 8, "--attention-dim", 8, "--min-word-freq", 1, "--workers", 0, "-q"]


@pytest.fixture(scope="module")
def formats(tmp_path_factory):
    root = tmp_path_factory.mktemp("train-formats")
    data = make_dataset(root)
    return root, make_formats(data, root / "formats")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("fmt", ["coco", "csv", "tsv", "jsonl", "imagefolder", "sidecar"])
def test_one_step_on_every_format(formats, fmt):
    root, sources = formats
    source, images = sources[fmt]
    out = root / "runs" / fmt / "model.pt"
    where = ["--train-images", images] if images else []
    args = ["train", "--train-captions", source, *where, "-o", out, "--epochs", 1, "--batch-size", 12]
    result = run(*args, *TINY, "--cache-dir", root / "cache", "--format", fmt if fmt == "tsv" else "auto")
    assert result.exit_code == 0, result.output
    assert "held out 1 of 12 photos (8%, seed 0)" in result.output
    assert "11 photos, 33 captions" in result.output
    rows = [json.loads(x) for x in (out.parent / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["train_loss"] > 0 and "bleu4" in rows[0]
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "README.txt",
        "curves.png",
        "metrics.jsonl",
        "model.pt",
        "samples.html",
    ]


@pytest.mark.parametrize(
    "name,content,needle",
    [
        ("bad.csv", "file_name,caption\nimg000.jpg,a red picture\nimg001.jpg\n", "bad.csv:3: has 1 fields"),
        ("bad.jsonl", '{"file_name": "img000.jpg", "caption": "a"}\n{oops\n', "bad.jsonl:2: not JSON"),
        ("esc.tsv", "file_name\tcaption\n../img000.jpg\ta red picture\n", "esc.tsv:2: '../img000.jpg' points outside"),
        ("gone.csv", "file_name,caption\nnope.jpg,a red picture\n", "1 of 1 photos are missing under"),
    ],
)
def test_broken_training_files_are_one_line_errors(formats, tmp_path, name, content, needle):
    root, sources = formats
    (tmp_path / name).write_text(content)
    images = sources["csv"][1]
    result = run("train", "--train-captions", tmp_path / name, "--train-images", images, "-o", tmp_path / "m.pt", *TINY)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and needle in errors[0] and "Traceback" not in result.output, result.output
    assert not (tmp_path / "m.pt").exists()


def test_a_separate_validation_set_in_another_format(formats, tmp_path):
    root, sources = formats
    out = tmp_path / "run" / "model.pt"
    result = run(
        "train",
        "--train-captions",
        sources["sidecar"][0],
        "--val-captions",
        sources["jsonl"][0],
        "--val-images",
        sources["jsonl"][1],
        "-o",
        out,
        "--epochs",
        1,
        "--batch-size",
        12,
        "--cache-dir",
        root / "cache",
        *TINY,
    )
    assert result.exit_code == 0, result.output
    assert "train.jsonl: JSON Lines, 12 photos, 36 captions for validation" in result.output
    assert "held out" not in result.output
    page = (out.parent / "samples.html").read_text()
    assert page.count("<figure>") == 12 and "validation photos" in page
