"""The gallery page on its own: aspect ratio, links, confidence and labels, unsure cards, error cards."""

from pathlib import Path

from captioner.photos.gallery import photo_url, write_gallery
from captioner.photos.records import CaptionRecord


def test_photo_url_is_relative_and_percent_encoded(tmp_path):
    assert photo_url("shoot/a b#1?.jpg", Path("shoot")) == "a%20b%231%3F.jpg"
    assert photo_url("shoot/50%.jpg", Path(".")) == "shoot/50%25.jpg"
    assert photo_url("x/été.jpg", Path("pages")) == "../x/%C3%A9t%C3%A9.jpg"
    assert photo_url("caf\udce9.jpg", Path(".")) == "caf%E9.jpg"


def test_cards(tmp_path):
    page = tmp_path / "g.html"
    a, b, c = (str(tmp_path / name) for name in ("a.jpg", "b.jpg", "c d.jpg"))  # records name files from the cwd
    records = [
        CaptionRecord(
            a,
            "a dog on the grass",
            -3.2,
            [],
            ["dog", "grass"],
            confidence=0.6234,
            labels=[{"name": "golden retriever", "probability": 0.81, "path": "animal/mammal/dog/golden retriever"}],
        ),
        CaptionRecord(b, "a cat", -1.5, [], None),  # from a text output: no confidence there
        CaptionRecord(str(tmp_path / "e.jpg"), "a dog in the water", -4.0, [], None, confidence=0.05),
        CaptionRecord(c, error=f"{c}: truncated or damaged image data"),
    ]
    assert write_gallery(page, records, {a: b"\xff\xd8jpeg"}, unsure=0.2) == 4
    html = page.read_text(encoding="utf-8")
    assert "object-fit:contain" in html  # thumbnails keep their aspect ratio
    assert "confidence 62%" in html and "golden retriever 81%" in html
    unsure = html[html.index("<figure class=unsure") :].split("</figure>")[0]
    assert "a dog in the water" in unsure and "confidence 5%, too unsure: metadata not written" in unsure
    assert html.count("class=unsure") == 1
    assert "beam score -1.50" in html
    assert '<a class="photo" href="a.jpg"><img loading="lazy" src="data:image/jpeg;base64,' in html
    assert '<img loading="lazy" src="b.jpg"' in html  # no thumbnail: the original itself
    error = html[html.index('<figure class="error"') :].split("</figure>")[0]
    assert "truncated or damaged image data" in error and f'<a class="path" href="c%20d.jpg">{c}</a>' in error
    assert "<img" not in error
    assert "3 captioned, 1 failed, 1 too unsure for metadata (marked)" in html
