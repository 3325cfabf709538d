"""Batch tagging through the CLI: sidecars, embedding, keywords, CSV, gallery, failures, resume after a kill."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from captioner.cli import main
from captioner.photos.xmp import read_xmp

ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def photos(trained, tmp_path, n=6):
    folder = tmp_path / "shoot"
    folder.mkdir()
    for p in sorted(trained["images"].iterdir())[:n]:
        shutil.copy(p, folder / p.name)
    return folder


def test_xmp_sidecars_hold_caption_and_tags_and_merge_on_rerun(trained, tmp_path):
    folder = photos(trained, tmp_path)
    out = tmp_path / "caps.jsonl"
    result = run(
        "caption", folder, "--weights", trained["model"], "--xmp", "--format", "jsonl", "-o", out, "--workers", 0, "-q"
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(records) == 6
    for r in records:
        side = read_xmp((folder / r["path"].rsplit("/", 1)[1]).with_suffix(".xmp").read_bytes())
        assert side["description"] == r["caption"] and side["subjects"] == r["tags"] and r["tags"]
    result = run(
        "caption", folder, "--weights", trained["model"], "--xmp", "--xmp-name", "photo.jpg.xmp", "--workers", 0, "-q"
    )
    assert result.exit_code == 0
    assert len(list(folder.glob("*.jpg.xmp"))) == 6 and len(list(folder.glob("*.xmp"))) == 12
    run("caption", folder, "--weights", trained["model"], "--xmp", "--workers", 0, "-q")  # again: no duplicates
    side = read_xmp((folder / "img000.xmp").read_bytes())
    assert len(side["subjects"]) == len(set(side["subjects"]))


def test_embed_writes_into_the_files_and_keeps_pixels_and_times(trained, tmp_path):
    folder = photos(trained, tmp_path, 3)
    before = {p.name: (np.asarray(Image.open(p)), p.stat().st_mtime_ns) for p in folder.iterdir()}
    result = run("caption", folder, "--weights", trained["model"], "--embed", "--format", "jsonl", "--workers", 0)
    assert result.exit_code == 0, result.output
    for line in result.stdout.splitlines():
        r = json.loads(line)
        p = folder / r["path"].rsplit("/", 1)[1]
        with Image.open(p) as img:
            assert np.array_equal(np.asarray(img), before[p.name][0])
            assert img.getexif()[0x010E] == r["caption"]
        assert p.stat().st_mtime_ns == before[p.name][1]


def test_bad_files_are_reported_and_the_rest_captioned(trained, tmp_path):
    folder = photos(trained, tmp_path, 3)
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "notes.png").write_text("not a picture")
    out = tmp_path / "out.csv"
    result = run("caption", folder, "--weights", trained["model"], "--format", "csv", "-o", out, "--workers", 1)
    assert result.exit_code == 1
    assert "2 failed" in result.stderr and "zero.jpg" in result.stderr and "notes.png" in result.stderr
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 5
    assert sum(1 for r in rows if r["error"]) == 2 and all(r["caption"] and r["tags"] for r in rows if not r["error"])


def test_html_gallery(trained, tmp_path):
    folder = photos(trained, tmp_path, 4)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    page = tmp_path / "gallery.html"
    result = run("caption", folder, "--weights", trained["model"], "--html", page, "--workers", 0, "-q")
    assert result.exit_code == 1
    html = page.read_text()
    assert html.count("<figure") == 5 and html.count("data:image/jpeg;base64,") == 4
    assert "broken.jpg" in html and "4 captioned, 1 failed" in html

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:  # the page itself is checked above; a real browser is an extra when one is installed
        return
    shot = tmp_path / "gallery.png"
    subprocess.run(["bash", ROOT / "scripts" / "screenshot.sh", page, shot, "900x700"], check=True, timeout=120)
    with Image.open(shot) as img:
        pixels = np.asarray(img.convert("RGB"))
    assert pixels.shape[:2] == (700, 900)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200  # photos and text drawn, not a blank page


def test_resume_after_kill_captions_every_file_exactly_once(trained, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    src = sorted(trained["images"].iterdir())
    for i in range(120):
        shutil.copy(src[i % len(src)], folder / f"p{i:03d}.jpg")
    out = tmp_path / "out.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "captioner",
        "caption",
        str(folder),
        "--weights",
        str(trained["model"]),
        "--format",
        "jsonl",
        "-o",
        str(out),
        "--resume",
        "--batch-size",
        "1",
        "--workers",
        "0",
        "-q",
        "--backend",
        "torch",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or out.read_text().count("\n") < 10):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = out.read_text().count("\n")
    assert proc.returncode == -signal.SIGKILL and 10 <= first < 120
    with open(out, "a") as f:
        f.write('{"path": "half a line')  # what a kill in the middle of a write leaves
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)  # interrupted again, by Ctrl-C
    while out.read_text().count("\n") < first + 5:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "--resume" in err
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    paths = [json.loads(line)["path"] for line in out.read_text().splitlines()]
    assert sorted(paths) == sorted(str(p) for p in folder.iterdir())  # each exactly once


def test_resume_needs_an_output(trained, tmp_path):
    result = run("caption", photos(trained, tmp_path, 1), "--weights", trained["model"], "--resume")
    assert result.exit_code == 2 and "--resume needs -o" in result.output  # a usage error
