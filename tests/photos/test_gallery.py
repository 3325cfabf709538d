"""The gallery page on its own: aspect ratio, links, the probability label, error cards."""

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
        CaptionRecord(a, "a dog on the grass", -3.2, [], ["dog", "grass"], word_probability=0.6234),
        CaptionRecord(b, "a cat", -1.5, [], None),  # from a CSV output: no probability there
        CaptionRecord(c, error=f"{c}: truncated or damaged image data"),
    ]
    assert write_gallery(page, records, {a: b"\xff\xd8jpeg"}) == 3
    html = page.read_text(encoding="utf-8")
    assert "object-fit:contain" in html  # thumbnails keep their aspect ratio
    assert "62% probability per word" in html and "not a calibrated chance" in html
    assert "beam score -1.50" in html
    assert '<a class="photo" href="a.jpg"><img loading="lazy" src="data:image/jpeg;base64,' in html
    assert '<img loading="lazy" src="b.jpg"' in html  # no thumbnail: the original itself
    error = html[html.index('<figure class="error"') :].split("</figure>")[0]
    assert "truncated or damaged image data" in error and f'<a class="path" href="c%20d.jpg">{c}</a>' in error
    assert "<img" not in error
    assert "2 captioned, 1 failed" in html
