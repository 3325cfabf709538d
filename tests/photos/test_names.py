"""File names of every kind: records spell them losslessly, through --resume, merge and the gallery's links."""

import os
import re
import shutil
import urllib.parse
from pathlib import Path

import pytest
from click.testing import CliRunner

from captioner.cli import main
from captioner.photos.records import read_records

NAMES = [
    os.fsdecode(b"caf\xe9.jpg"),  # Latin-1 bytes: not UTF-8
    "été à la plage.jpg",
    "50% #1?.jpg",
    "a&b <c>.jpg",
    "http:look.jpg",  # would be a URL scheme if not escaped
]


def run(*args):
    return CliRunner().invoke(main, [os.fspath(a) if isinstance(a, Path) else str(a) for a in args])


@pytest.fixture
def odd_folder(trained, tmp_path):
    folder = tmp_path / "odd names"
    folder.mkdir()
    for i, name in enumerate(NAMES):
        shutil.copy(trained["images"] / f"img{i:03d}.jpg", os.path.join(folder, name))
    return folder


def caption(trained, folder, *args):
    return run("caption", folder, "--weights", trained["model"], "--workers", 0, "-q", *args)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "text"])
def test_record_paths_resolve_back_to_the_files_and_resume_skips_them(trained, odd_folder, tmp_path, fmt):
    out = tmp_path / f"out.{fmt}"
    result = caption(trained, odd_folder, "--format", fmt, "-o", out)
    assert result.exit_code == 0, result.output
    found = read_records(out, fmt).records
    assert len(found) == len(NAMES)
    for record in found:
        assert os.path.exists(os.fsencode(record.path)), record.path
    assert sorted(os.path.basename(r.path) for r in found) == sorted(NAMES)
    data = out.read_bytes()
    if fmt == "jsonl":
        data.decode("utf-8")  # valid UTF-8: the undecodable byte is a JSON escape
        assert b"caf\\udce9.jpg" in data and "été à la plage.jpg".encode() in data
    else:  # no escape syntax: the name's own bytes, as ls prints them
        assert b"caf\xe9.jpg" in data and "été à la plage.jpg".encode() in data
    result = caption(trained, odd_folder, "--format", fmt, "-o", out, "--resume")
    assert result.exit_code == 0, result.output
    assert read_records(out, fmt).records == found  # nothing captioned twice


def test_merge_and_stdout_keep_the_bytes(trained, odd_folder, tmp_path):
    out = tmp_path / "out.jsonl"
    assert caption(trained, odd_folder, "--format", "jsonl", "-o", out).exit_code == 0
    merged = tmp_path / "merged.csv"
    result = run("merge", out, "-o", merged)
    assert result.exit_code == 0, result.output
    assert sorted(r.path for r in read_records(merged).records) == sorted(r.path for r in read_records(out).records)
    result = caption(trained, odd_folder)  # text on stdout
    assert result.exit_code == 0, result.output
    listed = sorted(os.path.basename(line.split(b"\t")[0]) for line in result.stdout_bytes.splitlines())
    assert listed == sorted(os.fsencode(n) for n in NAMES)


def test_gallery_links_reach_every_original(trained, odd_folder, tmp_path, monkeypatch):
    (odd_folder / "broken #2.jpg").write_bytes(b"\xff\xd8\xff")
    page = tmp_path / "pages" / "gallery.html"
    page.parent.mkdir()
    for embedded in (True, False):
        if not embedded:
            monkeypatch.setattr("captioner.photos.gallery.MAX_EMBEDDED", 0)  # link mode
        result = caption(trained, odd_folder, "--html", page)
        assert result.exit_code == 1, result.output
        html = page.read_text(encoding="utf-8")
        hrefs = re.findall(r'<a class="path" href="([^"]+)"', html)
        assert len(hrefs) == len(NAMES) + 1
        for href in hrefs:
            assert re.fullmatch(r"[A-Za-z0-9/%._~-]+", href), href  # every other character percent-encoded
            target = page.parent / os.fsdecode(urllib.parse.unquote_to_bytes(href))
            assert target.is_file(), href
        assert "caf\\xe9.jpg" in html  # shown readably
        assert html.count("data:image/jpeg;base64,") == (len(NAMES) if embedded else 0)
        if not embedded:  # the cards show the originals themselves
            srcs = re.findall(r'<img loading="lazy" src="([^"]+)"', html)
            assert sorted(srcs) == sorted(h for h in hrefs if "broken" not in h)
        error_card = html[html.index('class="error"') :].split("</figure>")[0].split("<figcaption>")[1]
        assert '<div class="err">' in error_card and error_card.count("broken #2.jpg") == 2  # the error and the name
