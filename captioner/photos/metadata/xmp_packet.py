"""An XMP packet as a namespace-aware DOM: read and replace single properties, leave every other node as it was.

pyexiv2 2.16's ``modify_xmp`` writes every array as ``rdf:Seq`` (``dc:subject`` and ``lr:hierarchicalSubject`` must
be ``rdf:Bag``), so the few properties captioner owns are edited here with the standard library's DOM. Embedded
packets are then handed to exiv2 (``modify_raw_xmp``), which parses, embeds and re-serialises them with its XMP
toolkit. Sidecars are written as serialised here, so other tools' properties, prefixes and layout stay as they were
(exiv2's sidecar image type would also run its XMP-to-EXIF/IPTC converters on every read and write).
"""

from __future__ import annotations

from xml.dom import Node, minidom
from xml.parsers.expat import ExpatError

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML = "http://www.w3.org/XML/1998/namespace"
XMLNS = "http://www.w3.org/2000/xmlns/"
EMPTY_PACKET = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
    f' <rdf:RDF xmlns:rdf="{RDF}">\n'
    '  <rdf:Description rdf:about=""/>\n'
    " </rdf:RDF>\n"
    "</x:xmpmeta>\n"
    '<?xpacket end="w"?>'
).encode()
_CONTAINERS = ("Bag", "Seq", "Alt")


class XmpError(ValueError):
    """The packet is not XMP this module can edit without losing something."""


def _is(node: Node, ns: str, name: str) -> bool:
    return node.nodeType == Node.ELEMENT_NODE and node.namespaceURI == ns and node.localName == name


def _elements(node: Node) -> list[minidom.Element]:
    return [c for c in node.childNodes if c.nodeType == Node.ELEMENT_NODE]


def _text(el: minidom.Element) -> str:
    value = next((c for c in _elements(el) if _is(c, RDF, "value")), None)  # a qualified value
    src = value if value is not None else el
    return "".join(c.data for c in src.childNodes if c.nodeType in (Node.TEXT_NODE, Node.CDATA_SECTION_NODE))


def _escape(text: str, attribute: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#xD;")
    if attribute:
        text = text.replace('"', "&quot;").replace("\n", "&#xA;").replace("\t", "&#x9;")
    return text


def _serialise(node: Node) -> str:
    kind = node.nodeType
    if kind in (Node.TEXT_NODE, Node.CDATA_SECTION_NODE):
        return _escape(node.data)
    if kind == Node.COMMENT_NODE:
        return f"<!--{node.data}-->"
    if kind == Node.PROCESSING_INSTRUCTION_NODE:
        return f"<?{node.target} {node.data}?>" if node.data else f"<?{node.target}?>"
    if kind != Node.ELEMENT_NODE:
        return ""
    attrs = node.attributes
    head = node.tagName + "".join(
        f' {attrs.item(i).name}="{_escape(attrs.item(i).value, True)}"' for i in range(attrs.length)
    )
    if not node.childNodes:
        return f"<{head}/>"
    return f"<{head}>{''.join(_serialise(c) for c in node.childNodes)}</{node.tagName}>"


class XmpPacket:
    """One XMP packet (embedded or a sidecar); ``None`` or blank data starts an empty one."""

    def __init__(self, data: bytes | None) -> None:
        data = (data or b"").rstrip(b"\x00 \t\r\n")
        if not data:
            data = EMPTY_PACKET
        if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
            raise XmpError("XMP must not contain a DTD")
        try:
            self.doc = minidom.parseString(data)
        except ExpatError as e:
            raise XmpError(f"XMP is not well-formed XML ({e})") from None
        self.rdf = next((el for el in self.doc.getElementsByTagNameNS(RDF, "RDF")), None)
        if self.rdf is None:
            raise XmpError("XMP has no rdf:RDF element")

    # -- reading -------------------------------------------------------------------------------------------------

    def _descriptions(self) -> list[minidom.Element]:
        return [el for el in _elements(self.rdf) if _is(el, RDF, "Description")]

    def _found(self, ns: str, name: str) -> list[str | minidom.Element]:
        out: list[str | minidom.Element] = []
        for desc in self._descriptions():
            if desc.hasAttributeNS(ns, name):
                out.append(desc.getAttributeNS(ns, name))
            out += [el for el in _elements(desc) if _is(el, ns, name)]
        return out

    def has(self, ns: str, name: str) -> bool:
        return bool(self._found(ns, name))

    def text(self, ns: str, name: str) -> str | None:
        """A simple property's value, or None when it is absent."""
        for prop in self._found(ns, name):
            return prop if isinstance(prop, str) else _text(prop)
        return None

    def items(self, ns: str, name: str) -> list[str]:
        """The non-blank items of an array property (a lone simple value counts as one item)."""
        out = []
        for prop in self._found(ns, name):
            if isinstance(prop, str):
                out.append(prop)
                continue
            container = next((c for c in _elements(prop) if any(_is(c, RDF, k) for k in _CONTAINERS)), None)
            if container is None:
                out.append(_text(prop))
            else:
                out += [_text(li) for li in _elements(container) if _is(li, RDF, "li")]
        return [item for item in out if item.strip()]

    def alt(self, ns: str, name: str) -> dict[str, str]:
        """A language alternative as {language: text}; blank entries are left out, the first of a language wins."""
        out: dict[str, str] = {}
        for prop in self._found(ns, name):
            if isinstance(prop, str):
                pairs = [("x-default", prop)]
            else:
                container = next((c for c in _elements(prop) if any(_is(c, RDF, k) for k in _CONTAINERS)), None)
                entries = [prop] if container is None else [li for li in _elements(container) if _is(li, RDF, "li")]
                pairs = [(el.getAttributeNS(XML, "lang") or "x-default", _text(el)) for el in entries]
            for lang, value in pairs:
                if value.strip():
                    out.setdefault(lang, value)
        return out

    # -- writing -------------------------------------------------------------------------------------------------

    def remove(self, ns: str, name: str) -> None:
        for desc in self._descriptions():
            if desc.hasAttributeNS(ns, name):
                desc.removeAttributeNS(ns, name)
            for el in [el for el in _elements(desc) if _is(el, ns, name)]:
                before = el.previousSibling
                if before is not None and before.nodeType == Node.TEXT_NODE and not before.data.strip():
                    desc.removeChild(before)
                desc.removeChild(el)

    def set_text(self, ns: str, prefix: str, name: str, value: str | None) -> None:
        """Replace a simple property (``None`` removes it)."""
        self.remove(ns, name)
        if value is not None:
            el = self._property(ns, prefix, name)
            el.appendChild(self.doc.createTextNode(value))

    def set_items(self, ns: str, prefix: str, name: str, values: list[str], kind: str = "Bag") -> None:
        """Replace an array property with ``values`` (an empty list removes it)."""
        self._set_container(ns, prefix, name, kind, [(None, v) for v in values])

    def set_alt(self, ns: str, prefix: str, name: str, values: dict[str, str]) -> None:
        """Replace a language alternative ({language: text}, x-default first; empty removes it)."""
        ordered = sorted(values.items(), key=lambda kv: kv[0] != "x-default")
        self._set_container(ns, prefix, name, "Alt", ordered)

    def _set_container(self, ns: str, prefix: str, name: str, kind: str, items: list) -> None:
        self.remove(ns, name)
        if not items:
            return
        el = self._property(ns, prefix, name)
        rdf = self._prefix(el, RDF, "rdf")
        container = self.doc.createElementNS(RDF, f"{rdf}:{kind}")
        pad = "\n" + " " * self._depth(el)
        for lang, value in items:
            li = self.doc.createElementNS(RDF, f"{rdf}:li")
            if lang is not None:
                li.setAttributeNS(XML, "xml:lang", lang)
            li.appendChild(self.doc.createTextNode(value))
            container.appendChild(self.doc.createTextNode(pad + "  "))
            container.appendChild(li)
        container.appendChild(self.doc.createTextNode(pad + " "))
        el.appendChild(self.doc.createTextNode(pad + " "))
        el.appendChild(container)
        el.appendChild(self.doc.createTextNode(pad))

    def _property(self, ns: str, prefix: str, name: str) -> minidom.Element:
        """A new, empty property element at the end of the first rdf:Description."""
        descs = self._descriptions()
        if descs:
            desc = descs[0]
        else:
            desc = self.doc.createElementNS(RDF, f"{self._prefix(self.rdf, RDF, 'rdf')}:Description")
            desc.setAttributeNS(RDF, f"{self._prefix(self.rdf, RDF, 'rdf')}:about", "")
            self.rdf.appendChild(desc)
        el = self.doc.createElementNS(ns, f"{self._prefix(desc, ns, prefix)}:{name}")
        pad = "\n" + " " * self._depth(desc)
        last = desc.lastChild
        if last is not None and last.nodeType == Node.TEXT_NODE and not last.data.strip():
            desc.insertBefore(self.doc.createTextNode(pad + " "), last)
            desc.insertBefore(el, last)
        else:
            desc.appendChild(self.doc.createTextNode(pad + " "))
            desc.appendChild(el)
            desc.appendChild(self.doc.createTextNode(pad))
        return el

    @staticmethod
    def _depth(el: Node) -> int:
        depth = 0
        while el.parentNode is not None and el.parentNode.nodeType == Node.ELEMENT_NODE:
            depth, el = depth + 1, el.parentNode
        return depth

    @staticmethod
    def _prefix(el: minidom.Element, ns: str, preferred: str) -> str:
        """The prefix bound to ``ns`` where ``el`` is, declaring ``preferred`` (or a free variant) on ``el``."""
        scope: dict[str, str] = {}
        node = el
        while node is not None and node.nodeType == Node.ELEMENT_NODE:
            for i in range(node.attributes.length):
                attr = node.attributes.item(i)
                if attr.name.startswith("xmlns:"):
                    scope.setdefault(attr.name[6:], attr.value)
            node = node.parentNode
        for prefix, uri in scope.items():
            if uri == ns:
                return prefix
        prefix, n = preferred, 1
        while prefix in scope or prefix.lower().startswith("xml"):
            prefix, n = f"{preferred}{n}", n + 1
        el.setAttributeNS(XMLNS, f"xmlns:{prefix}", ns)
        return prefix

    def to_bytes(self) -> bytes:
        """The packet as UTF-8, with its xpacket wrapper when it had one."""
        return ("\n".join(_serialise(n) for n in self.doc.childNodes) + "\n").encode("utf-8")
