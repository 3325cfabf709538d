"""The XMP side of the rules: read captioner's fields from a packet, and write a plan's changes into it."""

from __future__ import annotations

from datetime import datetime

from captioner.photos.metadata.namespace import DC, DIGIKAM, IPTC_CORE, LR, XMP_BASIC, read_record, write_record
from captioner.photos.metadata.rules import Fields, Plan
from captioner.photos.metadata.xmp_packet import XmpPacket


def xmp_fields(packet: XmpPacket) -> Fields:
    """Description, alt text, keywords and captioner's record as ``packet`` holds them."""
    return Fields(
        descriptions=packet.alt(DC, "description"),
        alt_text=packet.alt(IPTC_CORE, "AltTextAccessibility"),
        subject=packet.items(DC, "subject"),
        lr_paths=packet.items(LR, "hierarchicalSubject"),
        tags_list=packet.items(DIGIKAM, "TagsList"),
        record=read_record(packet),
    )


def apply_plan(packet: XmpPacket, plan: Plan) -> None:
    """Write the plan's XMP changes, and xmp:MetadataDate because something changed."""
    changes = plan.xmp
    if "description" in changes:
        packet.set_alt(DC, "dc", "description", changes["description"])
    if "alt_text" in changes:
        packet.set_alt(IPTC_CORE, "Iptc4xmpCore", "AltTextAccessibility", changes["alt_text"])
    if "subject" in changes:
        packet.set_items(DC, "dc", "subject", changes["subject"])
    if "lr_paths" in changes:
        packet.set_items(LR, "lr", "hierarchicalSubject", changes["lr_paths"])
    if "tags_list" in changes:
        packet.set_items(DIGIKAM, "digiKam", "TagsList", changes["tags_list"], kind="Seq")
    if "record" in changes:
        write_record(packet, changes["record"])
    now = datetime.now().astimezone().isoformat(timespec="seconds")
    packet.set_text(XMP_BASIC, "xmp", "MetadataDate", now)
