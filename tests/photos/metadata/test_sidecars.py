"""Sidecar naming: the default, the stem naming, existing sidecars of either name, and what is refused."""

from __future__ import annotations

import pytest

from captioner.errors import CaptionerError
from captioner.photos.metadata import SIDECAR_NAMINGS, MetadataUpdate, read_metadata, sidecar_path, write_sidecar
from tests.photos.metadata.library import NON_UTF8_NAME, alt, xmp

UPDATE = MetadataUpdate("a boat on a lake", keywords=("boat",))


def test_namings_default_first():
    assert SIDECAR_NAMINGS == ("photo.jpg.xmp", "photo.xmp")


def test_default_and_stem_naming(lib):
    photo = lib["plain.jpg"]
    assert sidecar_path(photo) == photo.with_name("plain.jpg.xmp")
    assert sidecar_path(photo, "photo.xmp") == photo.with_name("plain.xmp")
    result = write_sidecar(photo, UPDATE, naming="photo.xmp")
    assert result.path == photo.with_name("plain.xmp")
    assert sidecar_path(photo) == photo.with_name("plain.xmp")  # the existing one is respected
    assert not write_sidecar(photo, UPDATE).changed


def test_existing_full_name_sidecar_is_respected_by_stem_naming(lib):
    photo = lib["plain.jpg"]
    write_sidecar(photo, UPDATE)
    assert sidecar_path(photo, "photo.xmp") == photo.with_name("plain.jpg.xmp")


def test_existing_uppercase_sidecar_is_found(lib):
    photo = lib["plain.jpg"]
    upper = photo.with_name("plain.XMP")
    upper.write_text(xmp(alt("dc:description", {"x-default": "typed in Lightroom"})), encoding="utf-8")
    assert sidecar_path(photo) == upper
    result = write_sidecar(photo, UPDATE)
    assert result.path == upper and result.kept_description


def test_unknown_naming_is_refused(lib):
    with pytest.raises(CaptionerError, match="photo.jpg.xmp"):
        sidecar_path(lib["plain.jpg"], "photo.XMP")


def test_non_utf8_file_name(lib):
    photo = lib[NON_UTF8_NAME]
    result = write_sidecar(photo, UPDATE)
    assert result.path.name == NON_UTF8_NAME + ".xmp"
    assert read_metadata(photo, result.path).description == UPDATE.caption


def test_sidecar_for_a_raw_file_exiv2_cannot_read(lib):
    result = write_sidecar(lib["IMG_1.CR2"], UPDATE)  # the fake CR2 holds no metadata exiv2 knows
    assert result.path.name == "IMG_1.CR2.xmp" and result.changed


def test_sidecar_hand_caption_blocks_embedding_ours(lib):
    from captioner.photos.metadata import embed

    photo = lib["plain.jpg"]
    photo.with_name("plain.jpg.xmp").write_text(xmp(alt("dc:description", {"fr-FR": "un bateau"})), "utf-8")
    assert embed(photo, UPDATE).kept_description


def test_damaged_sidecar_is_left_untouched(lib):
    photo = lib["plain.jpg"]
    side = photo.with_name("plain.jpg.xmp")
    side.write_text("<x:xmpmeta><unclosed>", encoding="utf-8")
    with pytest.raises(CaptionerError, match="plain.jpg.xmp.*not well-formed") as e:
        write_sidecar(photo, UPDATE)
    assert "\n" not in str(e.value) and side.read_text(encoding="utf-8") == "<x:xmpmeta><unclosed>"
