"""XMP packets: the caption as ``dc:description``, keywords as ``dc:subject``, merged into what is already there.

Photo tools (Lightroom, darktable, digiKam, Bridge) read these from ``photo.xmp`` sidecars or from the file itself.
A description somebody wrote by hand is never overwritten: only one that captioner wrote before (recorded in
``captioner:caption``) or an empty one is replaced. Keywords captioner added before are swapped for the new ones;
other keywords stay.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from captioner.errors import CaptionerError

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC = "http://purl.org/dc/elements/1.1/"
XMETA = "adobe:ns:meta/"
XML_NS = "http://www.w3.org/XML/1998/namespace"
CAPTIONER = "http://captioner.invalid/ns/1.0/"  # a private namespace; .invalid never resolves, by design
_PREFIXES = {"x": XMETA, "rdf": RDF, "dc": DC, "captioner": CAPTIONER}
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def xml_text(text: str) -> str:
    """``text`` as XML 1.0 can carry it: characters XML forbids are dropped, line ends become ``\\n``."""
    return _XML_INVALID.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


@dataclass
class XmpUpdate:
    packet: bytes
    kept_description: bool  # True when a hand-written description was left in place


def _register_prefixes(existing: bytes) -> None:
    import io

    for prefix, uri in _PREFIXES.items():
        ET.register_namespace(prefix, uri)
    try:
        for _, (prefix, uri) in ET.iterparse(io.BytesIO(existing), events=("start-ns",)):
            if (
                prefix
                and not re.fullmatch(r"ns\d+", prefix)
                and prefix not in _PREFIXES
                and uri not in _PREFIXES.values()
            ):
                ET.register_namespace(prefix, uri)
    except ET.ParseError:
        pass


def _parse(existing: bytes | None, source: str) -> ET.Element:
    if not existing or not existing.strip():
        return ET.Element(q(XMETA, "xmpmeta"))
    _register_prefixes(existing)
    try:
        root = ET.fromstring(existing)
    except ET.ParseError as e:
        raise CaptionerError(f"{source}: existing XMP is not valid XML ({e}); left untouched") from None
    if root.tag == q(RDF, "RDF"):  # a bare RDF document: wrap it
        meta = ET.Element(q(XMETA, "xmpmeta"))
        meta.append(root)
        return meta
    return root


def _text_of(desc_nodes: list[ET.Element], ns: str, tag: str) -> str | None:
    for d in desc_nodes:
        if q(ns, tag) in d.attrib:
            return d.attrib[q(ns, tag)]
        el = d.find(q(ns, tag))
        if el is not None:
            return el.text or ""
    return None


def _bag_items(desc_nodes: list[ET.Element], ns: str, tag: str) -> list[str]:
    out = []
    for d in desc_nodes:
        for el in d.findall(f"{q(ns, tag)}/{q(RDF, 'Bag')}/{q(RDF, 'li')}"):
            out.append(el.text or "")
    return out


def _remove(desc_nodes: list[ET.Element], ns: str, tag: str) -> None:
    for d in desc_nodes:
        d.attrib.pop(q(ns, tag), None)
        for el in d.findall(q(ns, tag)):
            d.remove(el)


def _bag(parent: ET.Element, ns: str, tag: str, items: list[str]) -> None:
    bag = ET.SubElement(ET.SubElement(parent, q(ns, tag)), q(RDF, "Bag"))
    for item in items:
        ET.SubElement(bag, q(RDF, "li")).text = xml_text(item)


def update_xmp(
    existing: bytes | None, caption: str, tags: list[str], model: str, score: float | None, source: str = "XMP"
) -> XmpUpdate:
    """The XMP packet ``existing`` (may be None) with our caption, tags, model and score merged in."""
    root = _parse(existing, source)
    rdf = root if root.tag == q(RDF, "RDF") else root.find(q(RDF, "RDF"))
    if rdf is None:
        rdf = ET.SubElement(root, q(RDF, "RDF"))
    descs = rdf.findall(q(RDF, "Description"))
    if not descs:
        descs = [ET.SubElement(rdf, q(RDF, "Description"), {q(RDF, "about"): ""})]
    main = descs[0]
    caption, tags = xml_text(caption), [xml_text(t) for t in tags]

    previous_caption = _text_of(descs, CAPTIONER, "caption")
    previous_tags = set(_bag_items(descs, CAPTIONER, "tags"))

    # dc:description: a language alternative; we own the x-default entry only if we wrote it (or it is empty).
    kept = False
    alt = None
    for d in descs:
        alt = d.find(f"{q(DC, 'description')}/{q(RDF, 'Alt')}")
        if alt is not None:
            break
    if alt is None:
        alt = ET.SubElement(ET.SubElement(main, q(DC, "description")), q(RDF, "Alt"))
    default = next((li for li in alt.findall(q(RDF, "li")) if li.get(q(XML_NS, "lang")) == "x-default"), None)
    if default is None:
        default = ET.Element(q(RDF, "li"), {q(XML_NS, "lang"): "x-default"})
        alt.insert(0, default)
    current = (default.text or "").strip()
    if current and current != (previous_caption or "").strip():
        kept = True
    else:
        default.text = caption

    # dc:subject: an unordered bag; replace the keywords we added last time, keep everybody else's.
    bag = None
    for d in descs:
        bag = d.find(f"{q(DC, 'subject')}/{q(RDF, 'Bag')}")
        if bag is not None:
            break
    if bag is None:
        bag = ET.SubElement(ET.SubElement(main, q(DC, "subject")), q(RDF, "Bag"))
    for li in list(bag.findall(q(RDF, "li"))):
        if (li.text or "") in previous_tags:
            bag.remove(li)
    present = {li.text for li in bag.findall(q(RDF, "li"))}
    for t in tags:
        if t not in present:
            ET.SubElement(bag, q(RDF, "li")).text = t
            present.add(t)

    for tag in ("caption", "tags", "model", "score"):
        _remove(descs, CAPTIONER, tag)
    ET.SubElement(main, q(CAPTIONER, "caption")).text = caption
    _bag(main, CAPTIONER, "tags", tags)
    ET.SubElement(main, q(CAPTIONER, "model")).text = xml_text(model)
    if score is not None:
        ET.SubElement(main, q(CAPTIONER, "score")).text = f"{score:.4f}"

    for prefix, uri in _PREFIXES.items():
        ET.register_namespace(prefix, uri)
    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    packet = f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n{body}\n<?xpacket end="w"?>\n'
    return XmpUpdate(packet.encode("utf-8"), kept)


def read_xmp(packet: bytes) -> dict:
    """What captioner cares about in an XMP packet: description (x-default), subjects, and our own fields."""
    root = ET.fromstring(packet)
    descs = root.iter(q(RDF, "Description"))
    descs = list(descs)
    description = None
    for d in descs:
        for li in d.findall(f"{q(DC, 'description')}/{q(RDF, 'Alt')}/{q(RDF, 'li')}"):
            if li.get(q(XML_NS, "lang")) == "x-default":
                description = li.text or ""
    return {
        "description": description,
        "subjects": _bag_items(descs, DC, "subject"),
        "caption": _text_of(descs, CAPTIONER, "caption"),
        "tags": _bag_items(descs, CAPTIONER, "tags"),
        "model": _text_of(descs, CAPTIONER, "model"),
        "score": _text_of(descs, CAPTIONER, "score"),
    }
