"""The reconciling rules and the XMP packet editor, without files."""

from __future__ import annotations

import pytest

from captioner.photos.metadata import MetadataUpdate, embed, read_metadata
from captioner.photos.metadata.namespace import CAPTIONER, DC, CaptionerRecord
from captioner.photos.metadata.rules import Fields, plan
from captioner.photos.metadata.xmp_fields import apply_plan, xmp_fields
from captioner.photos.metadata.xmp_packet import XmpError, XmpPacket
from tests.photos.metadata.library import xmp


def test_overwrite_replaces_hand_text_everywhere():
    target = Fields(
        descriptions={"x-default": "hand", "de-DE": "Hand"},
        exif_description="hand",
        iptc_caption="hand",
        exif_writable=True,
        iptc_writable=True,
    )
    p = plan(MetadataUpdate("machine", overwrite=True), target)
    assert not p.kept_description
    assert p.xmp["description"] == {"x-default": "machine"} and p.exif_description == "machine"
    assert p.iptc["caption"] == "machine" and p.xmp["record"].caption == "machine"


def test_hand_alt_text_is_kept_while_the_description_is_written():
    p = plan(MetadataUpdate("machine"), Fields(alt_text={"x-default": "hand alt text"}))
    assert p.xmp["description"] == {"x-default": "machine"} and "alt_text" not in p.xmp


def test_blank_descriptions_are_not_hand_written():
    p = plan(MetadataUpdate("machine"), Fields(descriptions={}, exif_description="  ", iptc_caption=""))
    assert not p.kept_description and p.xmp["description"] == {"x-default": "machine"}


def test_keywords_compare_case_insensitively_and_users_win():
    p = plan(MetadataUpdate("c", keywords=("cat", "CAT", "dog")), Fields(subject=["Cat"]))
    assert p.xmp["subject"] == ["Cat", "dog"] and p.xmp["record"].keywords == ("dog",)


def test_legacy_tags_are_kept_as_the_users():
    target = Fields(subject=["old", "mine"], record=CaptionerRecord(caption="c", legacy_tags=("old",)))
    p = plan(MetadataUpdate("c", keywords=("new",)), target)
    assert p.xmp["subject"] == ["old", "mine", "new"] and p.xmp["record"].legacy_tags == ()


def test_hierarchical_replaces_only_captioners_paths():
    target = Fields(
        lr_paths=["places|home", "animal|cat"],
        tags_list=["places/home", "animal/cat"],
        record=CaptionerRecord(hierarchical=("animal/cat",)),
    )
    p = plan(MetadataUpdate("c", hierarchical=("animal/ dog /", "places/home")), target)
    assert p.xmp["lr_paths"] == ["places|home", "animal|dog"]
    assert p.xmp["tags_list"] == ["places/home", "animal/dog"]
    assert p.xmp["record"].hierarchical == ("animal/dog",)


def test_same_update_twice_plans_nothing():
    packet = XmpPacket(None)
    update = MetadataUpdate("a cat", keywords=("cat",), hierarchical=("a/b",), score=-1.2345678, confidence=0.5)
    apply_plan(packet, plan(update, xmp_fields(packet)))
    again = XmpPacket(packet.to_bytes())
    assert not plan(update, xmp_fields(again)).changed


def test_long_values_truncated_for_iptc_are_still_recognised(lib):
    photo = lib["plain.jpg"]
    update = MetadataUpdate("ä" * 1500, keywords=("ö" * 40,))  # 3000 and 80 UTF-8 bytes: over IPTC's limits
    assert embed(photo, update).changed
    assert not embed(photo, update).changed
    md = read_metadata(photo)
    assert md.description == "ä" * 1500 and md.keywords == ("ö" * 40,) and not md.hand_written


def test_packet_reads_attribute_forms_and_several_descriptions():
    packet = XmpPacket(
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" dc:description="attr"/>'
        b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        b"<dc:subject>simple</dc:subject></rdf:Description>"
        b'<rdf:Description rdf:about="" xmlns:c="http://captioner.invalid/ns/1.0/">'
        b'<c:caption rdf:parseType="Resource"><rdf:value>qualified</rdf:value></c:caption></rdf:Description>'
        b"</rdf:RDF></x:xmpmeta>"
    )
    assert packet.alt(DC, "description") == {"x-default": "attr"}
    assert packet.items(DC, "subject") == ["simple"]
    assert packet.text(CAPTIONER, "caption") == "qualified"
    packet.set_items(DC, "dc", "subject", ["a"])
    again = XmpPacket(packet.to_bytes())
    assert again.items(DC, "subject") == ["a"] and again.alt(DC, "description") == {"x-default": "attr"}


def test_packet_uses_a_free_prefix_when_the_usual_one_is_taken():
    packet = XmpPacket(xmp("", 'xmlns:captioner="http://example.com/someone-else/"').encode())
    packet.set_text(CAPTIONER, "captioner", "model", "m")
    again = XmpPacket(packet.to_bytes())
    assert again.text(CAPTIONER, "model") == "m"
    assert b'xmlns:captioner1="http://captioner.invalid/ns/1.0/"' in packet.to_bytes()


def test_packet_escapes_what_xml_would_normalise():
    packet = XmpPacket(None)
    packet.set_text(CAPTIONER, "captioner", "model", 'a\r\nb\t"<&>"')
    assert XmpPacket(packet.to_bytes()).text(CAPTIONER, "model") == 'a\r\nb\t"<&>"'


@pytest.mark.parametrize(
    "data",
    [b"<x:xmpmeta>", b'<!DOCTYPE x [<!ENTITY a "b">]><x/>', b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"],
)
def test_packet_refuses_what_it_cannot_edit_safely(data):
    with pytest.raises(XmpError):
        XmpPacket(data)
