"""Bad input and faults through the CLI: one-line errors, exit codes, other work kept, outputs intact."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from captioner.atomic import atomic_write
from captioner.cli import main
from captioner.errors import CaptionerError


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def one_line_error(result, *needles):
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    for n in needles:
        assert n in errors[0], errors[0]


def test_bad_input_matrix_in_one_folder(trained, tmp_path):
    """Every kind of broken file gets an error record; the good photos are captioned; exit status 1."""
    d = tmp_path / "lib"
    d.mkdir()
    shutil.copy(trained["images"] / "img000.jpg", d / "good.jpg")
    rgb = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    (d / "zero.jpg").write_bytes(b"")
    Image.fromarray(rgb).save(d / "full.jpg")
    (d / "truncated.jpg").write_bytes((d / "full.jpg").read_bytes()[:300])
    (d / "full.jpg").unlink()
    (d / "text.jpg").write_text("just some words\n")
    (d / "page.png").write_text("<html><body>saved page</body></html>")
    Image.fromarray(rgb).convert("CMYK").save(d / "cmyk.jpg")
    Image.fromarray(rgb).convert("LA").save(d / "la.png")
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(d / "deep16.png")
    frames = [Image.fromarray(rgb), Image.fromarray(255 - rgb)]
    frames[0].save(d / "anim.gif", save_all=True, append_images=frames[1:])
    Image.new("RGB", (10000, 1)).save(d / "strip.png")
    Image.new("RGB", (1, 1)).save(d / "dot.png")
    Image.new("L", (2000, 2000)).save(d / "bomb.png")
    (d / "dir.jpg").mkdir()
    os.symlink(d / "missing.jpg", d / "broken.jpg")
    os.symlink(d / "loop.jpg", d / "loop.jpg")
    name = os.fsdecode(b"caf\xe9.jpg")
    shutil.copy(trained["images"] / "img001.jpg", os.path.join(d, name))
    out = tmp_path / "out.jsonl"
    result = run(
        "caption",
        d,
        "--weights",
        trained["model"],
        "--format",
        "jsonl",
        "-o",
        out,
        "--workers",
        2,
        "--max-pixels",
        1_000_000,
    )
    assert result.exit_code == 1
    records = {os.path.basename(r["path"]): r for r in map(json.loads, out.read_text().splitlines())}
    ok = {"good.jpg", "cmyk.jpg", "la.png", "deep16.png", "anim.gif", "strip.png", "dot.png", name}
    failed = {"zero.jpg", "truncated.jpg", "text.jpg", "page.png", "bomb.png", "broken.jpg", "loop.jpg"}
    assert set(records) == ok | failed
    for n in ok:
        assert records[n].get("caption"), records[n]
        assert os.path.isfile(os.fsencode(records[n]["path"]))  # the record's path names the file, byte for byte
    for n in failed:
        assert "\n" not in records[n]["error"] and n in records[n]["error"]
    assert "7 failed" in result.stderr
    assert "over the limit" in records["bomb.png"]["error"] and "text file" in records["text.jpg"]["error"]


def test_file_vanishing_between_listing_and_reading(trained, tmp_path, monkeypatch):
    import captioner.photos.pipeline as cap

    d = tmp_path / "lib"
    d.mkdir()
    for i in range(3):
        shutil.copy(trained["images"] / f"img00{i}.jpg", d / f"{i}.jpg")
    real = cap.load_image

    def vanish(path, *a, **kw):
        if str(path).endswith("1.jpg"):
            os.unlink(path)
        return real(path, *a, **kw)

    monkeypatch.setattr(cap, "load_image", vanish)
    result = run("caption", d, "--weights", trained["model"], "--workers", 0)
    assert result.exit_code == 1 and "1.jpg: no such file" in result.stderr
    assert len(result.stdout.splitlines()) == 2


@pytest.mark.parametrize(
    "content,needle",
    [
        (b"", "not a readable checkpoint"),
        (os.urandom(3000), "not a readable checkpoint"),
    ],
)
def test_bad_weights_files(tmp_path, content, needle):
    (tmp_path / "w.pt").write_bytes(content)
    (tmp_path / "a.jpg").write_bytes(b"")
    one_line_error(run("caption", tmp_path / "a.jpg", "--weights", tmp_path / "w.pt"), "w.pt", needle)


def test_train_and_score_and_prepare_bad_inputs(tmp_path, trained):
    (tmp_path / "bad.json").write_text('{"images": [')
    one_line_error(
        run("train", "--train-captions", tmp_path / "bad.json", "--train-images", tmp_path, "-o", tmp_path / "m.pt"),
        "bad.json",
        "malformed JSON",
    )
    (tmp_path / "esc.json").write_text(
        json.dumps(
            {"images": [{"id": 1, "file_name": "../../etc/passwd"}], "annotations": [{"image_id": 1, "caption": "x"}]}
        )
    )
    one_line_error(
        run("score", "--captions", tmp_path / "esc.json", "--images", tmp_path, "--weights", trained["model"]),
        "outside the image root",
    )
    (tmp_path / "empty.json").write_text(json.dumps({"images": [], "annotations": []}))
    one_line_error(
        run("train", "--train-captions", tmp_path / "empty.json", "--train-images", tmp_path, "-o", tmp_path / "m.pt"),
        "no captioned images",
    )
    (tmp_path / "ds").mkdir()
    one_line_error(run("prepare", "flickr8k", tmp_path / "ds", "-o", tmp_path / "out"), "no such file")
    (tmp_path / "preds.jsonl").write_text('{"path": "img012.jpg", "caption": "a red picture"}\n')
    one_line_error(
        run("score", "--captions", trained["val"], "--predictions", tmp_path / "preds.jsonl"),
        "no prediction for 5 of 6 images",
    )


def test_unwritable_output_is_a_clear_error_and_nothing_is_lost(trained, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should be\n")  # no user, root included, can write below it
    result = run("caption", trained["images"] / "img000.jpg", "--weights", trained["model"], "-o", blocker / "caps.txt")
    one_line_error(result, "caps.txt", "cannot write here")
    result = run(
        "train", "--train-captions", trained["train"], "--train-images", trained["images"], "-o", blocker / "m.pt"
    )
    one_line_error(result, "not-a-folder", "cannot create the output folder")
    assert blocker.read_text() == "a file where the output folder should be\n"


def test_disk_full_during_write_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "out.jsonl"
    target.write_text("previous\n")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(CaptionerError, match="out.jsonl: write failed \\(No space left on device\\)"):
        with atomic_write(target) as f:
            f.write("new content\n")
    assert target.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temp file left behind


@pytest.mark.slow
def test_sigterm_during_train_then_resume_matches_an_uninterrupted_run(tmp_path):
    from tests.conftest import make_dataset

    data = make_dataset(tmp_path)
    args = [
        "train",
        "--train-captions",
        data["train"],
        "--train-images",
        data["images"],
        "--epochs",
        "40",
        "--batch-size",
        "2",
        "--hidden-dim",
        "48",
        "--embed-dim",
        "16",
        "--attention-dim",
        "16",
        "--min-word-freq",
        "1",
        "--cache-dir",
        tmp_path / "cache",
        "--workers",
        "0",
        "-q",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    base = [sys.executable, "-m", "captioner", *map(str, args)]
    subprocess.run([*base, "-o", str(tmp_path / "a" / "m.pt")], check=True, env=env, capture_output=True)
    proc = subprocess.Popen([*base, "-o", str(tmp_path / "b" / "m.pt")], env=env, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "b" / "metrics.jsonl"
    while not metrics.exists() or metrics.read_text().count("\n") < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "--resume" in err
    assert (tmp_path / "b" / "m.pt.resume").is_file()
    subprocess.run([*base, "-o", str(tmp_path / "b" / "m.pt"), "--resume"], check=True, env=env, capture_output=True)
    a = torch.load(tmp_path / "a" / "m.pt", weights_only=True)["decoder"]
    b = torch.load(tmp_path / "b" / "m.pt", weights_only=True)["decoder"]
    assert all(torch.equal(a[k], b[k]) for k in a)
