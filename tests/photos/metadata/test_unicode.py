"""Arbitrary Unicode (control characters, surrogates, characters XML forbids) in captions and keywords."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from captioner.photos.metadata import MetadataUpdate, embed, read_metadata, write_sidecar
from captioner.photos.metadata.text import clean
from tests.photos.metadata.library import encode, pixels

ANY_CHAR = st.characters(exclude_categories=())  # surrogates included
TEXT = st.text(ANY_CHAR, max_size=40)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JPEG = encode(pixels(32, 24), "JPEG")
PNG = encode(pixels(32, 24), "PNG")


def _expected(caption: str) -> str | None:
    text = clean(caption)
    return text if text.strip() else None


@SETTINGS
@given(caption=TEXT, keywords=st.lists(TEXT, max_size=4), png=st.booleans())
def test_embed_any_text_twice(caption, keywords, png):
    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / ("p.png" if png else "p.jpg")
        photo.write_bytes(PNG if png else JPEG)
        update = MetadataUpdate(caption, keywords=tuple(keywords))
        embed(photo, update)
        data = photo.read_bytes()
        assert not embed(photo, update).changed and photo.read_bytes() == data
        md = read_metadata(photo)
        assert md.description == _expected(caption)
        wanted = {clean(k).strip().casefold() for k in keywords} - {""}
        assert {k.casefold() for k in md.keywords} == wanted


@SETTINGS
@given(caption=TEXT, keywords=st.lists(TEXT, max_size=4))
def test_sidecar_any_text_twice(caption, keywords):
    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "p.jpg"
        photo.write_bytes(JPEG)
        update = MetadataUpdate(caption, keywords=tuple(keywords))
        side = write_sidecar(photo, update).path
        assert not write_sidecar(photo, update).changed
        assert read_metadata(photo, side).description == _expected(caption)
