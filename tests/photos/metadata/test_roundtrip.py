"""Everything that is not captioner's survives embedding and sidecar writes, and a second run changes nothing."""

from __future__ import annotations

import os

import pytest

from captioner.photos.metadata import MetadataUpdate, embed, read_metadata, sidecar_path, write_sidecar
from tests.photos.metadata.inspect_files import (
    decoded,
    exif_text,
    image_payload,
    jpeg_markers,
    meta,
    png_chunks,
    webp_chunks,
)
from tests.photos.metadata.library import FOREIGN_NS, NON_UTF8_NAME, USER_COMMENT, encode, pixels, with_metadata, xmp

UPDATE = MetadataUpdate(
    "a red fox in the snow",
    keywords=("fox", "snow"),
    hierarchical=("animal/mammal/fox",),
    model="test-model",
    score=-4.25,
    confidence=0.83,
)
OFFSETS = {  # where things are in the file, not what they say: they move when metadata grows
    "Exif.Image.ExifTag",
    "Exif.Image.GPSTag",
    "Exif.Thumbnail.JPEGInterchangeFormat",
    "Exif.MakerNote.Offset",
    "Exif.Photo.MakerNote",  # the raw Canon block holds offsets too; its decoded Exif.Canon.* tags are compared
}


def twice(write, path, update=UPDATE):
    """Run a write twice; the second must change nothing (result, bytes, mtime)."""
    first = write(path, update)
    written = first.path.read_bytes()
    stamp = first.path.stat().st_mtime_ns
    second = write(path, update)
    assert first.changed and not second.changed
    assert second.path == first.path and second.kept_description == first.kept_description
    assert first.path.read_bytes() == written and first.path.stat().st_mtime_ns == stamp
    return first


def test_embed_rich_jpeg_keeps_everything_else(lib):
    photo = lib["rich.jpg"]
    before, payload, pixels, st = meta(photo), image_payload(photo), decoded(photo), photo.stat()
    markers = [(m, p) for m, p in jpeg_markers(photo.read_bytes()) if m in (0xE0, 0xE2, 0xE9, 0xFE, 0xDB, 0xC0, 0xC4)]
    result = twice(embed, photo)
    assert result.path == photo and not result.kept_description
    after = meta(photo)
    assert image_payload(photo) == payload and decoded(photo) == pixels
    assert [(m, p) for m, p in jpeg_markers(photo.read_bytes()) if m in (0xE0, 0xE2, 0xE9, 0xFE, 0xDB, 0xC0, 0xC4)] == (
        markers
    )  # JFIF, ICC, unknown APP9, comment, tables, frame header: all byte-identical
    assert after.thumbnail == before.thumbnail and len(after.thumbnail) > 100
    assert after.icc == before.icc and len(after.icc) > 100
    for key, value in before.exif.items():  # GPS, MakerNote (Canon), UserComment, ...: every tag kept as it was
        if key not in OFFSETS:
            assert after.exif[key] == value, key
    assert after.exif_types["Exif.Photo.UserComment"] == "Undefined"
    assert after.exif["Exif.Photo.UserComment"].encode("latin-1").decode("utf-8") == USER_COMMENT
    assert after.exif["Exif.Canon.OwnerName"] == "Jane Doe"
    assert exif_text(after, "Exif.Image.ImageDescription") == UPDATE.caption
    assert after.iptc["Iptc.Application2.Byline"] == ["Jane Doe"]
    assert after.iptc["Iptc.Application2.Caption"] == UPDATE.caption
    assert sorted(after.iptc["Iptc.Application2.Keywords"]) == ["Familie", "fox", "snow"]
    assert after.xmp["Xmp.photoshop.City"] == "München"
    assert after.xmp["Xmp.foreign.Note/foreign:Mood"] == "calm"
    assert FOREIGN_NS in after.packet
    assert after.xmp["Xmp.dc.description"] == {'lang="x-default"': UPDATE.caption}
    assert after.xmp["Xmp.iptc.AltTextAccessibility"] == {'lang="x-default"': UPDATE.caption}
    assert sorted(after.xmp["Xmp.dc.subject"]) == ["Familie", "fox", "snow"]
    assert after.xmp["Xmp.lr.hierarchicalSubject"] == ["animal|mammal|fox"]
    assert after.xmp["Xmp.digiKam.TagsList"] == ["animal/mammal/fox"]
    assert "Xmp.xmp.MetadataDate" in after.xmp
    assert photo.stat().st_mtime_ns == st.st_mtime_ns and photo.stat().st_mode == st.st_mode


def test_embed_keeps_times_and_permissions(lib):
    photo = lib["plain.jpg"]
    os.chmod(photo, 0o640)
    os.utime(photo, ns=(978_307_200_123_456_789, 978_307_200_987_654_321))  # 2001, with nanoseconds
    assert embed(photo, UPDATE).changed
    st = photo.stat()
    assert (st.st_atime_ns, st.st_mtime_ns) == (978_307_200_123_456_789, 978_307_200_987_654_321)
    assert st.st_mode & 0o7777 == 0o640


@pytest.mark.parametrize("name", ["chunks.png", "lossy.webp", "alpha.webp", "plain.jpg"])
def test_embed_png_webp_jpeg_image_data_identical(lib, name):
    photo = lib[name]
    data = photo.read_bytes()
    payload, pixels = image_payload(photo), decoded(photo)
    twice(embed, photo)
    assert image_payload(photo) == payload and decoded(photo) == pixels
    after = meta(photo)
    assert exif_text(after, "Exif.Image.ImageDescription") == UPDATE.caption
    assert after.xmp["Xmp.dc.description"] == {'lang="x-default"': UPDATE.caption}
    new = photo.read_bytes()
    if name.endswith(".png"):  # every chunk that is not EXIF/XMP, in order: text, ICC, private
        keep = [c for c in png_chunks(data) if c[0] not in (b"eXIf", b"iTXt")]
        assert [c for c in png_chunks(new) if c[0] not in (b"eXIf", b"iTXt")] == keep
        assert (b"prVt", b"private ancillary chunk") in keep and any(k == b"iCCP" for k, _ in keep)
    if name.endswith(".webp"):
        keep = [c for c in webp_chunks(data) if c[0] not in (b"VP8X", b"EXIF", b"XMP ")]
        assert [c for c in webp_chunks(new) if c[0] not in (b"VP8X", b"EXIF", b"XMP ")] == keep


def test_sidecar_round_trip_leaves_photo_alone(lib):
    photo = lib["rich.jpg"]
    data, st = photo.read_bytes(), photo.stat()
    result = twice(write_sidecar, photo)
    assert result.path == sidecar_path(photo) == photo.with_name("rich.jpg.xmp")
    assert photo.read_bytes() == data and photo.stat().st_mtime_ns == st.st_mtime_ns
    md = read_metadata(photo, result.path)
    assert md.description == UPDATE.caption
    assert set(md.keywords) == {"Familie", "fox", "snow"}  # the photo's own keyword was carried into the sidecar
    assert md.hierarchical == ("animal/mammal/fox",)
    assert md.captioner.keywords == ("fox", "snow") and md.captioner.model == "test-model"
    assert md.captioner.score == -4.25 and md.captioner.confidence == 0.83


def test_sidecar_keeps_other_tools_properties(lib):
    photo = lib["plain.jpg"]
    side = photo.with_name("plain.jpg.xmp")
    side.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about="" xmlns:darktable="http://darktable.sf.net/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/" darktable:xmp_version="5" darktable:auto_presets_applied="1">\n'
        '   <darktable:history><rdf:Seq><rdf:li darktable:operation="exposure" darktable:params="0000&#xA;"/>'
        "</rdf:Seq></darktable:history>\n"
        "   <dc:subject><rdf:Bag><rdf:li>darktable|format|jpg</rdf:li></rdf:Bag></dc:subject>\n"
        "  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n",
        encoding="utf-8",
    )
    twice(write_sidecar, photo)
    text = side.read_text(encoding="utf-8")
    assert 'darktable:xmp_version="5"' in text and 'darktable:operation="exposure"' in text
    assert 'darktable:params="0000&#xA;"' in text  # an attribute's line feed survives
    md = read_metadata(photo, side)
    assert set(md.keywords) == {"darktable|format|jpg", "fox", "snow"}


def test_embed_reads_back(lib):
    photo = lib["plain.jpg"]
    embed(photo, UPDATE)
    md = read_metadata(photo)
    assert md.descriptions == {"x-default": UPDATE.caption} and not md.hand_written
    assert md.keywords == ("fox", "snow") and md.hierarchical == ("animal/mammal/fox",)
    assert md.captioner.caption == UPDATE.caption


def test_new_update_replaces_only_captioners_values(lib):
    photo = lib["keywords.jpg"]
    embed(photo, UPDATE)
    second = MetadataUpdate("a grey wolf", keywords=("wolf",), hierarchical=("animal/mammal/wolf",))
    assert embed(photo, second).changed
    md = read_metadata(photo)
    assert md.description == "a grey wolf"
    assert set(md.keywords) == {"cat", "Familie", "iptc-only", "wolf"}
    assert md.hierarchical == ("animal/mammal/wolf",)
    after = meta(photo)
    assert sorted(after.iptc["Iptc.Application2.Keywords"]) == sorted(md.keywords)


def test_non_utf8_file_name_embeds(lib):
    photo = lib[NON_UTF8_NAME]
    payload = image_payload(photo)
    result = twice(embed, photo)
    assert os.fsencode(result.path.name) == b"caf\xe9.jpg"
    assert image_payload(photo) == payload and read_metadata(photo).description == UPDATE.caption


def test_png_with_iptc_keeps_it_in_step(tmp_path):
    photo = tmp_path / "iptc.png"
    iptc = {"Iptc.Envelope.CharacterSet": "\x1b%G", "Iptc.Application2.Keywords": ["png-keyword"]}
    photo.write_bytes(with_metadata(encode(pixels(32, 24), "PNG"), iptc=iptc))
    pixels_before = decoded(photo)
    twice(embed, photo)
    after = meta(photo)
    assert sorted(after.iptc["Iptc.Application2.Keywords"]) == ["fox", "png-keyword", "snow"]
    assert after.iptc["Iptc.Application2.Caption"] == UPDATE.caption and decoded(photo) == pixels_before


STRUCTURES = (
    '<mwg-rs:Regions rdf:parseType="Resource">'
    '<mwg-rs:AppliedToDimensions stDim:w="64" stDim:h="48" stDim:unit="pixel"/>'
    '<mwg-rs:RegionList><rdf:Bag><rdf:li><rdf:Description mwg-rs:Name="Jane Doe" mwg-rs:Type="Face">'
    '<mwg-rs:Area stArea:x="0.5" stArea:y="0.5" stArea:w="0.2" stArea:h="0.3" stArea:unit="normalized"/>'
    "</rdf:Description></rdf:li></rdf:Bag></mwg-rs:RegionList></mwg-rs:Regions>"
    '<xmpMM:History><rdf:Seq><rdf:li stEvt:action="saved" stEvt:when="2020-01-01T00:00:00Z"/></rdf:Seq>'
    "</xmpMM:History>"
    '<Iptc4xmpExt:LocationShown><rdf:Bag><rdf:li Iptc4xmpExt:City="Paris"/></rdf:Bag></Iptc4xmpExt:LocationShown>'
    "<dc:creator><rdf:Seq><rdf:li>Jane</rdf:li></rdf:Seq></dc:creator>"
    '<dc:rights><rdf:Alt><rdf:li xml:lang="x-default">© Jane</rdf:li></rdf:Alt></dc:rights>'
)
STRUCTURE_NS = (
    'xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/" '
    'xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#" xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#" '
    'xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#" '
    'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
)


@pytest.mark.parametrize("mode", ["embed", "sidecar"])
def test_face_regions_history_and_other_structures_survive(tmp_path, mode):
    photo = tmp_path / "faces.jpg"
    packet = xmp(STRUCTURES, STRUCTURE_NS)
    photo.write_bytes(with_metadata(encode(pixels(64, 48), "JPEG"), packet=packet))
    if mode == "sidecar":  # the same packet as another tool's sidecar
        photo.with_name("faces.jpg.xmp").write_text(packet, encoding="utf-8")
    before = meta(photo).xmp
    result = twice(embed if mode == "embed" else write_sidecar, photo)
    after = meta(photo).xmp if mode == "embed" else meta(result.path).xmp
    lost = {k: v for k, v in before.items() if after.get(k) != v}
    assert lost == {} and after["Xmp.mwg-rs.Regions/mwg-rs:RegionList[1]/mwg-rs:Name"] == "Jane Doe"
