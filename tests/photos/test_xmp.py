import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from captioner.errors import CaptionerError
from captioner.photos.keywords import keywords, singular
from captioner.photos.xmp import read_xmp, update_xmp, xml_text

LIGHTROOM_SIDECAR = b"""<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
    xmp:Rating="4" crs:Exposure2012="+0.35">
   <dc:subject><rdf:Bag><rdf:li>holiday</rdf:li><rdf:li>family</rdf:li></rdf:Bag></dc:subject>
   <dc:creator><rdf:Seq><rdf:li>Ada</rdf:li></rdf:Seq></dc:creator>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>"""


def test_new_sidecar_round_trip():
    packet = update_xmp(None, "a dog runs on the grass", ["dog", "grass"], "flickr8k-lite0", -0.52).packet
    assert packet.startswith(b"<?xpacket begin=")
    got = read_xmp(packet)
    assert got["description"] == "a dog runs on the grass"
    assert got["subjects"] == ["dog", "grass"] and got["tags"] == ["dog", "grass"]
    assert got["model"] == "flickr8k-lite0" and float(got["score"]) == pytest.approx(-0.52)


def test_merge_keeps_other_fields_and_prefixes():
    out = update_xmp(LIGHTROOM_SIDECAR, "two kids on a beach", ["kid", "beach"], "m", None)
    text = out.packet.decode()
    assert 'xmp:Rating="4"' in text and 'crs:Exposure2012="+0.35"' in text and "Ada" in text
    got = read_xmp(out.packet)
    assert got["subjects"] == ["holiday", "family", "kid", "beach"]
    assert got["description"] == "two kids on a beach" and not out.kept_description


def test_rerun_replaces_our_tags_and_caption_but_not_a_human_description():
    first = update_xmp(LIGHTROOM_SIDECAR, "a dog", ["dog"], "m", None).packet
    second = update_xmp(first, "a cat", ["cat"], "m", None).packet
    got = read_xmp(second)
    assert got["subjects"] == ["holiday", "family", "cat"] and got["description"] == "a cat"
    human = second.replace(b">a cat</rdf:li>", b">Grandma's cat, summer 1998</rdf:li>")
    third = update_xmp(human, "a dog", ["dog"], "m", None)
    assert third.kept_description and read_xmp(third.packet)["description"] == "Grandma's cat, summer 1998"
    assert read_xmp(third.packet)["caption"] == "a dog"


def test_escaping():
    got = read_xmp(update_xmp(None, "a <b> & \"c\" 'd'", ["<&>"], "m&m", 1.0).packet)
    assert got["description"] == "a <b> & \"c\" 'd'" and got["subjects"] == ["<&>"] and got["model"] == "m&m"


def test_broken_sidecar_is_an_error_not_overwritten():
    with pytest.raises(CaptionerError, match="photo.xmp: existing XMP is not valid XML"):
        update_xmp(b"<x:xmpmeta><oops", "a", [], "m", None, source="photo.xmp")


@settings(max_examples=300, deadline=None)
@given(st.text(), st.lists(st.text(max_size=15), max_size=5))
def test_any_caption_gives_valid_xml_that_reads_back(caption, tags):
    packet = update_xmp(None, caption, tags, "m", 0.0).packet
    ET.fromstring(packet.split(b"?>", 1)[1].rsplit(b"<?xpacket", 1)[0])  # valid XML
    got = read_xmp(packet)
    assert got["description"] == xml_text(caption)
    assert got["tags"] == [xml_text(t) for t in tags]


def test_singular_and_keywords():
    assert [singular(w) for w in ["dogs", "puppies", "boxes", "grass", "bus", "children", "dress", "men"]] == [
        "dog",
        "puppy",
        "box",
        "grass",
        "bus",
        "child",
        "dress",
        "man",
    ]
    tags = keywords(
        [
            ("two dogs are running on the grass", -1.0),
            ("a dog runs through the grass", -1.5),
            ("a brown dog in a field", -4.0),
        ]
    )
    assert tags[:2] == ["dog", "grass"]
    assert "the" not in tags and "two" not in tags and "field" in tags
    assert keywords([], 5) == [] and len(keywords([("a b c d e f g h i j k", 0.0)], 3)) <= 3
