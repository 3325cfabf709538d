"""Batch tagging through the CLI: sidecars, embedding, --overwrite, keywords, CSV, failures, resume and retries."""

import csv
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from captioner.cli import main
from captioner.photos.config import XMP_NAMES
from captioner.photos.metadata import SIDECAR_NAMINGS, read_metadata, sidecar_path
from tests.photos.metadata.library import with_metadata

HAND = "Grandma's dog, summer 1998"
ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def photos(trained, tmp_path, n=6):
    folder = tmp_path / "shoot"
    folder.mkdir()
    for p in sorted(trained["images"].iterdir())[:n]:
        shutil.copy(p, folder / p.name)
    return folder


def records(path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def caption(trained, folder, *args):
    return run("caption", folder, "--weights", trained["model"], "--workers", 0, *args)


def test_xmp_name_choices_are_the_metadata_layers():
    assert XMP_NAMES == SIDECAR_NAMINGS and XMP_NAMES[0] == "photo.jpg.xmp"


def test_xmp_sidecars_hold_caption_tags_and_score_and_a_rerun_changes_nothing(trained, tmp_path):
    folder = photos(trained, tmp_path)
    out = tmp_path / "caps.jsonl"
    # the toy model's classifier is unsure of its flat colours: a low threshold gives every photo label keywords
    result = caption(trained, folder, "--xmp", "--format", "jsonl", "-o", out, "-q", "--label-threshold", "0.01")
    assert result.exit_code == 0, result.output
    found = records(out)
    assert len(found) == 6
    for r in found:
        photo = Path(r["path"])
        side = photo.with_name(photo.name + ".xmp")  # the default naming: darktable, digiKam, Immich
        assert sidecar_path(photo) == side and side.is_file()
        md = read_metadata(photo, side)
        assert md.description == r["caption"] and set(md.keywords) == set(r["tags"]) and r["tags"]
        assert md.captioner.score == pytest.approx(r["score"], abs=1e-3) and not md.hand_written
        assert 0 <= r["confidence"] <= 1 and r["labels"] and all(0 < lab["probability"] <= 1 for lab in r["labels"])
    stamps = {p: p.stat().st_mtime_ns for p in folder.glob("*.xmp")}
    result = caption(trained, folder, "--xmp", "--xmp-name", "photo.xmp", "--label-threshold", "0.01")  # existing ones
    assert result.exit_code == 0, result.output
    assert "metadata already up to date in 6" in result.stderr
    assert {p: p.stat().st_mtime_ns for p in folder.glob("*.xmp")} == stamps


def test_hand_written_description_is_kept_unless_overwrite(trained, tmp_path):
    folder = photos(trained, tmp_path, 2)
    photo = folder / "img000.jpg"
    photo.write_bytes(with_metadata(photo.read_bytes(), exif={"Exif.Image.ImageDescription": HAND}))
    result = caption(trained, folder, "--xmp", "--embed")
    assert result.exit_code == 0, result.output
    assert "kept 1 hand-written descriptions" in result.stderr
    assert read_metadata(photo, sidecar_path(photo)).description == HAND
    assert read_metadata(photo).description == HAND
    machine = result.stdout.splitlines()[0].split("\t")[1]
    result = caption(trained, folder, "--xmp", "--embed", "--overwrite")
    assert result.exit_code == 0, result.output
    assert "kept" not in result.stderr
    assert read_metadata(photo, sidecar_path(photo)).description == machine == read_metadata(photo).description
    result = caption(trained, folder, "--overwrite")
    assert result.exit_code == 2 and "--overwrite needs --xmp or --embed" in result.output


def test_embed_writes_into_the_files_and_keeps_pixels_and_times(trained, tmp_path):
    folder = photos(trained, tmp_path, 3)
    before = {p.name: (np.asarray(Image.open(p)), p.stat().st_mtime_ns) for p in folder.iterdir()}
    result = caption(trained, folder, "--embed", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    for line in result.stdout.splitlines():
        r = json.loads(line)
        p = Path(r["path"])
        with Image.open(p) as img:
            assert np.array_equal(np.asarray(img), before[p.name][0])
            assert img.getexif()[0x010E] == r["caption"]
        assert p.stat().st_mtime_ns == before[p.name][1]
        md = read_metadata(p)
        assert md.description == r["caption"] and set(md.keywords) == set(r["tags"])
    assert not list(folder.glob("*.xmp"))  # --embed alone writes no sidecar
    again = caption(trained, folder, "--embed", "--xmp")
    assert again.exit_code == 0 and "metadata already up to date" not in again.stderr  # the sidecars are new
    again = caption(trained, folder, "--embed", "--xmp")
    assert again.exit_code == 0 and "metadata already up to date in 3" in again.stderr


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
    assert sum(1 for r in rows if r["error"]) == 2 and all(r["caption"] and r["labels"] for r in rows if not r["error"])


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_resume_tries_failed_files_again_and_ends_with_one_record_per_file(trained, tmp_path, fmt):
    folder = photos(trained, tmp_path, 3)
    (folder / "late.jpg").write_bytes(b"")  # not there yet: a copy still running, say
    out = tmp_path / f"out.{fmt}"
    result = caption(trained, folder, "--format", fmt, "-o", out)
    assert result.exit_code == 1 and "1 failed" in result.stderr
    shutil.copy(trained["images"] / "img010.jpg", folder / "late.jpg")
    result = caption(trained, folder, "--format", fmt, "-o", out, "--resume")
    assert result.exit_code == 0, result.output
    assert "captioned 1 of 1 files (3 already done" in result.stderr
    if fmt == "jsonl":
        rows = records(out)
    else:
        assert out.read_text().count("path,caption,score,tags,error") == 1
        rows = list(csv.DictReader(out.open()))
    assert sorted(Path(r["path"]).name for r in rows) == ["img000.jpg", "img001.jpg", "img002.jpg", "late.jpg"]
    assert all(r["caption"] and not r.get("error") for r in rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["shoot", out.name])  # no journal, no temp file


def test_failed_metadata_write_is_an_error_record_that_resume_tries_again(trained, tmp_path):
    folder = photos(trained, tmp_path, 2)
    shutil.copy(folder / "img000.jpg", folder / "img000.png")  # same stem: one photo.xmp would be shared
    out = tmp_path / "out.jsonl"
    result = caption(trained, folder, "--xmp", "--xmp-name", "photo.xmp", "--format", "jsonl", "-o", out)
    assert result.exit_code == 1 and "2 failed" in result.stderr and "would be shared" in result.stderr
    by_name = {Path(r["path"]).name: r for r in records(out)}
    assert "would be shared" in by_name["img000.jpg"]["error"] and by_name["img000.jpg"]["caption"]
    assert "error" not in by_name["img001.jpg"] and (folder / "img001.xmp").is_file()
    result = caption(trained, folder, "--xmp", "--format", "jsonl", "-o", out, "--resume")  # own sidecars now
    assert result.exit_code == 0, result.output
    assert "captioned 2 of 2 files (1 already done" in result.stderr
    found = records(out)
    assert sorted(Path(r["path"]).name for r in found) == ["img000.jpg", "img000.png", "img001.jpg"]
    assert not any("error" in r for r in found)
    assert (folder / "img000.jpg.xmp").is_file() and (folder / "img000.png.xmp").is_file()


def test_html_gallery(trained, tmp_path):
    folder = photos(trained, tmp_path, 4)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    page = tmp_path / "gallery.html"
    result = caption(trained, folder, "--html", page, "-q")
    assert result.exit_code == 1
    html = page.read_text()
    assert html.count("<figure") == 5 and html.count("data:image/jpeg;base64,") == 4
    assert "broken.jpg" in html and "4 captioned, 1 failed" in html and "confidence " in html

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:  # the page itself is checked above; a real browser is an extra when one is installed
        return
    shot = tmp_path / "gallery.png"
    subprocess.run(["bash", ROOT / "scripts" / "screenshot.sh", page, shot, "900x700"], check=True, timeout=120)
    with Image.open(shot) as img:
        pixels = np.asarray(img.convert("RGB"))
    assert pixels.shape[:2] == (700, 900)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200  # photos and text drawn, not a blank page


def test_resume_needs_an_output(trained, tmp_path):
    result = run("caption", photos(trained, tmp_path, 1), "--weights", trained["model"], "--resume")
    assert result.exit_code == 2 and "--resume needs -o" in result.output  # a usage error


def test_a_second_run_on_the_same_output_is_refused(trained, tmp_path):
    from captioner.photos.journal import Journal

    folder = photos(trained, tmp_path, 1)
    out = tmp_path / "out.jsonl"
    holder = Journal(out, "jsonl", resume=False)  # another run is writing out.jsonl
    try:
        result = caption(trained, folder, "--format", "jsonl", "-o", out)
    finally:
        holder.close()
    assert result.exit_code == 1 and "another captioner run is writing it" in result.output
    assert "Traceback" not in result.output
