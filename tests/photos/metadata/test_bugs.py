"""One test per data-loss bug of the old writers (numbered as in the bug list)."""

from __future__ import annotations

import pyexiv2
import pytest

from captioner.errors import CaptionerError
from captioner.photos.metadata import MetadataUpdate, embed, read_metadata, sidecar_path, write_sidecar
from tests.photos.metadata.inspect_files import exif_text, meta
from tests.photos.metadata.library import DE_ONLY, EXIF_HAND, IPTC_HAND, alt, bag, with_metadata, xmp

UPDATE = MetadataUpdate("a dog on a beach", keywords=("dog", "beach"))


def test_bug1_exif_hand_caption_is_not_hidden_by_xmp(lib):
    photo = lib["exif_hand.jpg"]
    result = embed(photo, UPDATE)
    assert result.kept_description
    after = meta(photo)
    assert exif_text(after, "Exif.Image.ImageDescription") == EXIF_HAND
    assert "Xmp.dc.description" not in after.xmp  # nothing of ours for MWG readers to prefer
    assert "Iptc.Application2.Caption" not in after.iptc
    assert read_metadata(photo).description == EXIF_HAND


def test_bug1_earlier_machine_caption_in_xmp_is_taken_back(lib):
    """A file an old run left with a hand EXIF caption and a machine XMP caption: ours is removed."""
    photo = lib["exif_hand.jpg"]
    old = xmp(
        '<dc:description><rdf:Alt><rdf:li xml:lang="x-default">an old machine caption</rdf:li></rdf:Alt>'
        "</dc:description><captioner:caption>an old machine caption</captioner:caption>",
        'xmlns:captioner="http://captioner.invalid/ns/1.0/"',
    )
    photo.write_bytes(with_metadata(photo.read_bytes(), packet=old))
    result = embed(photo, UPDATE)
    assert result.kept_description and result.changed
    after = meta(photo)
    assert "Xmp.dc.description" not in after.xmp
    assert exif_text(after, "Exif.Image.ImageDescription") == EXIF_HAND
    assert read_metadata(photo).descriptions == {"x-default": EXIF_HAND}


def test_bug2_iptc_only_caption_is_hand_written_and_iptc_keywords_stay_in_step(lib):
    photo = lib["iptc_only.jpg"]
    result = embed(photo, UPDATE)
    assert result.kept_description
    after = meta(photo)
    assert after.iptc["Iptc.Application2.Caption"] == IPTC_HAND
    assert "Xmp.dc.description" not in after.xmp and "Exif.Image.ImageDescription" not in after.exif
    assert sorted(after.iptc["Iptc.Application2.Keywords"]) == sorted(after.xmp["Xmp.dc.subject"])
    assert sorted(after.xmp["Xmp.dc.subject"]) == ["beach", "dog", "holiday", "iptc-only"]
    embed(photo, MetadataUpdate("a dog", keywords=("puppy",)))  # a re-run: IPTC loses our old values too
    after = meta(photo)
    assert sorted(after.iptc["Iptc.Application2.Keywords"]) == ["holiday", "iptc-only", "puppy"]


def test_bug3_exif_thumbnail_survives(lib):
    photo = lib["rich.jpg"]
    thumbnail = meta(photo).thumbnail
    embed(photo, UPDATE)
    embed(photo, MetadataUpdate("another caption"))
    assert meta(photo).thumbnail == thumbnail and thumbnail.startswith(b"\xff\xd8")


def test_bug4_user_comment_stays_undefined(lib):
    photo = lib["rich.jpg"]
    before = meta(photo)
    assert before.exif_types["Exif.Photo.UserComment"] == "Undefined"
    embed(photo, UPDATE)
    after = meta(photo)
    assert after.exif_types["Exif.Photo.UserComment"] == "Undefined"
    assert after.exif["Exif.Photo.UserComment"] == before.exif["Exif.Photo.UserComment"]


def test_bug5_new_exif_has_required_ifd0_tags(lib):
    photo = lib["plain.jpg"]
    assert meta(photo).exif == {}
    embed(photo, UPDATE)
    exif = meta(photo).exif
    assert exif["Exif.Image.YCbCrPositioning"] == "1"
    assert exif["Exif.Image.XResolution"] == "72/1" and exif["Exif.Image.ResolutionUnit"] == "2"


def test_bug6_rerun_keeps_users_keyword_captioner_also_produced(lib):
    photo = lib["keywords.jpg"]  # the user has "cat" and "Familie"
    embed(photo, MetadataUpdate("a cat", keywords=("cat", "mat")))
    assert read_metadata(photo).captioner.keywords == ("mat",)  # "cat" was the user's: not recorded as ours
    embed(photo, MetadataUpdate("a dog", keywords=("dog",)))
    after = meta(photo)
    assert sorted(after.xmp["Xmp.dc.subject"]) == ["Familie", "cat", "dog", "iptc-only"]
    assert sorted(after.iptc["Iptc.Application2.Keywords"]) == ["Familie", "cat", "dog", "iptc-only"]


def test_bug7_emptied_subject_gives_no_bogus_keyword(lib):
    photo = lib["plain.jpg"]
    empty = xmp("<dc:subject><rdf:Bag>\n   </rdf:Bag></dc:subject>" + bag("lr:hierarchicalSubject", []))
    photo.write_bytes(with_metadata(photo.read_bytes(), packet=empty))
    assert read_metadata(photo).keywords == ()
    embed(photo, MetadataUpdate("x", keywords=("dog",)))
    embed(photo, MetadataUpdate("x", keywords=()))  # our keyword goes, nothing is left
    after = meta(photo)
    assert after.xmp.get("Xmp.dc.subject", []) in ([], "")
    assert after.iptc.get("Iptc.Application2.Keywords", []) == []
    assert read_metadata(photo).keywords == ()
    side = write_sidecar(lib["pair.jpg"], MetadataUpdate("x", keywords=("a",))).path
    write_sidecar(lib["pair.jpg"], MetadataUpdate("x", keywords=()))
    assert "<rdf:li>\n" not in side.read_text() and read_metadata(lib["pair.jpg"], side).keywords == ()


@pytest.mark.parametrize(("photo", "other"), [("pair.jpg", "pair.png"), ("IMG_1.JPG", "IMG_1.CR2")])
def test_bug8_same_stem_files_never_share_a_sidecar(lib, photo, other):
    with pytest.raises(CaptionerError, match="--xmp-name photo.jpg.xmp") as e:
        write_sidecar(lib[photo], UPDATE, naming="photo.xmp")
    assert other in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(CaptionerError):
        sidecar_path(lib[other], "photo.xmp")
    a = write_sidecar(lib[photo], UPDATE)
    b = write_sidecar(lib[other], MetadataUpdate("something else"))
    assert a.path != b.path and a.path.name == f"{photo}.xmp" and b.path.name == f"{other}.xmp"
    assert read_metadata(lib[photo], a.path).description == UPDATE.caption


def test_bug8_lightroom_raw_sidecar_is_left_to_the_raw(lib):
    raw_sidecar = lib["IMG_1.JPG"].with_name("IMG_1.xmp")
    raw_sidecar.write_text(xmp(alt("dc:description", {"x-default": "the RAW's caption"})), encoding="utf-8")
    before = raw_sidecar.read_bytes()
    result = write_sidecar(lib["IMG_1.JPG"], UPDATE)
    assert result.path.name == "IMG_1.JPG.xmp" and raw_sidecar.read_bytes() == before
    assert not embed(lib["IMG_1.JPG"], UPDATE).kept_description  # the RAW's sidecar is not this photo's either


def test_bug9_sidecar_respects_embedded_hand_caption(lib):
    for name, hand in [("exif_hand.jpg", EXIF_HAND), ("iptc_only.jpg", IPTC_HAND), ("de_only.jpg", DE_ONLY)]:
        result = write_sidecar(lib[name], UPDATE)
        assert result.kept_description and result.changed
        text = result.path.read_text(encoding="utf-8")
        assert "dc:description" not in text and "AltTextAccessibility" not in text
        md = read_metadata(lib[name], result.path)
        assert hand in md.descriptions.values() and UPDATE.caption not in md.descriptions.values()
    side = write_sidecar(lib["iptc_only.jpg"], UPDATE).path  # embedded user keywords are carried along
    assert set(read_metadata(lib["iptc_only.jpg"], side).keywords) >= {"holiday", "iptc-only", "dog"}


def test_bug9_sidecar_overwrite_replaces_in_sidecar_only(lib):
    photo = lib["exif_hand.jpg"]
    data = photo.read_bytes()
    result = write_sidecar(photo, MetadataUpdate("machine", overwrite=True))
    assert not result.kept_description and photo.read_bytes() == data
    assert read_metadata(photo, result.path).description == "machine"


def test_bug11_de_only_description_is_kept_not_shadowed(lib):
    photo = lib["de_only.jpg"]
    result = embed(photo, UPDATE)
    assert result.kept_description
    after = meta(photo)
    assert after.xmp["Xmp.dc.description"] == {'lang="de-DE"': DE_ONLY}
    assert "Exif.Image.ImageDescription" not in after.exif and "Iptc.Application2.Caption" not in after.iptc
    assert read_metadata(photo).descriptions == {"de-DE": DE_ONLY}


def test_bug11_overwrite_replaces_all_languages(lib):
    photo = lib["de_only.jpg"]
    result = embed(photo, MetadataUpdate("a beach", overwrite=True))
    assert not result.kept_description
    assert meta(photo).xmp["Xmp.dc.description"] == {'lang="x-default"': "a beach"}


def test_bug12_non_ascii_caption_is_utf8_everywhere(lib):
    photo = lib["plain.jpg"]
    caption = "Ein Hund am Strand – 海辺の犬 🐕"
    embed(photo, MetadataUpdate(caption, keywords=("Straße",)))
    after = meta(photo)
    assert after.exif["Exif.Image.ImageDescription"].encode("latin-1") == caption.encode("utf-8")
    assert after.iptc["Iptc.Application2.Caption"] == caption
    assert after.iptc["Iptc.Envelope.CharacterSet"] == "\x1b%G"
    assert after.xmp["Xmp.dc.description"] == {'lang="x-default"': caption}
    assert read_metadata(photo).description == caption


def test_bug12_latin1_hand_description_is_read_and_left_byte_identical(lib):
    photo = lib["exif_latin1.jpg"]
    raw = meta(photo).exif["Exif.Image.ImageDescription"].encode("latin-1")
    assert raw == "Straße in Köln".encode("latin-1")
    assert read_metadata(photo).description == "Straße in Köln"
    assert embed(photo, UPDATE).kept_description
    assert meta(photo).exif["Exif.Image.ImageDescription"].encode("latin-1") == raw


def test_bug12_legacy_iptc_is_reencoded_when_marked_utf8(lib):
    photo = lib["iptc_latin1.jpg"]
    assert read_metadata(photo).description == "Grüße aus Köln"
    embed(photo, UPDATE)
    img = pyexiv2.ImageData(photo.read_bytes())
    iptc = img.read_iptc()  # strict UTF-8 decoding: would raise on a leftover Latin-1 byte
    img.close()
    assert iptc["Iptc.Envelope.CharacterSet"] == "\x1b%G"
    assert iptc["Iptc.Application2.Caption"] == "Grüße aus Köln" and iptc["Iptc.Application2.City"] == "Köln"
