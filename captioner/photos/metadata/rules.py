"""The rules: which description and keywords a photo should carry after captioner's update (MWG-style reconciling).

Pure functions over decoded values; no files. A description anywhere (EXIF ImageDescription, IPTC Caption-Abstract,
XMP dc:description in any language, embedded or in a sidecar) that is not captioner's own earlier caption is the
user's: it wins unless ``overwrite``, and captioner's own earlier text is then removed where it would hide it. Keywords
are merged: the user's are never removed, captioner replaces only the values its record says it added.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from captioner.photos.metadata.model import MetadataUpdate
from captioner.photos.metadata.namespace import CaptionerRecord, number
from captioner.photos.metadata.text import IPTC_CAPTION_BYTES, IPTC_KEYWORD_BYTES, clean, same, truncate_utf8

UNCHANGED = object()  # a field the plan leaves alone


@dataclass
class Fields:
    """What one place says: a photo's embedded metadata, or one sidecar."""

    descriptions: dict[str, str] = field(default_factory=dict)  # XMP dc:description
    alt_text: dict[str, str] = field(default_factory=dict)  # Iptc4xmpCore:AltTextAccessibility
    subject: list[str] = field(default_factory=list)  # dc:subject
    lr_paths: list[str] = field(default_factory=list)  # lr:hierarchicalSubject, "a|b|c"
    tags_list: list[str] = field(default_factory=list)  # digiKam:TagsList, "a/b/c"
    record: CaptionerRecord = CaptionerRecord()
    exif_description: str | None = None
    iptc_caption: str | None = None
    iptc_keywords: list[str] = field(default_factory=list)
    exif_writable: bool = False  # the plan may set EXIF ImageDescription
    iptc_writable: bool = False  # the plan may set IPTC Caption-Abstract and Keywords


@dataclass
class Plan:
    """The new values of the fields that change; everything else stays as it is."""

    xmp: dict[str, object]  # "description", "alt_text", "subject", "lr_paths", "tags_list", "record"
    exif_description: object  # str, None (remove) or UNCHANGED
    iptc: dict[str, object]  # "caption" (str | None), "keywords" (list)
    kept_description: bool

    @property
    def changed(self) -> bool:
        return bool(self.xmp or self.iptc or self.exif_description is not UNCHANGED)


def iptc_caption(text: str) -> str:
    return truncate_utf8(text, IPTC_CAPTION_BYTES)


def iptc_keyword(text: str) -> str:
    return truncate_utf8(text, IPTC_KEYWORD_BYTES)


def lr_path(path: str) -> str:
    """A "/" category path in Lightroom's "|" form."""
    return "|".join(path.split("/"))


def _unique(values: Iterable[str], key: Callable[[str], str] = lambda v: v) -> list[str]:
    seen, out = set(), []
    for v in values:
        if key(v) not in seen:
            seen.add(key(v))
            out.append(v)
    return out


def _fold(value: str) -> str:
    return value.casefold()


def _norm_path(path: str) -> str:
    return "/".join(p.strip() for p in clean(path).split("/") if p.strip())


def is_hand_written(sources: Sequence[Fields]) -> bool:
    """Some description in ``sources`` is non-empty and not captioner's own earlier caption."""
    ours = _ours(sources)
    for f in sources:
        if any(not ours(v, clean) for v in f.descriptions.values()):
            return True
        if f.exif_description and f.exif_description.strip() and not ours(f.exif_description, clean):
            return True
        if f.iptc_caption and f.iptc_caption.strip() and not ours(f.iptc_caption, iptc_caption):
            return True
    return False


def _ours(sources: Sequence[Fields]) -> Callable[[str | None, Callable[[str], str]], bool]:
    captions = [f.record.caption for f in sources if f.record.caption]

    def ours(value: str | None, form: Callable[[str], str]) -> bool:
        return any(same(value, form(c)) for c in captions)

    return ours


def plan(update: MetadataUpdate, target: Fields, context: Sequence[Fields] = (), import_keywords: bool = False) -> Plan:
    """What ``target`` should change to, given ``update`` and what the other places (``context``) say.

    ``import_keywords`` copies the user's keywords from ``context`` into ``target`` (a sidecar shadows the photo's
    embedded keywords in most tools, so it must carry them too).
    """
    sources = [target, *context]
    ours = _ours(sources)
    caption = clean(update.caption)
    hand = is_hand_written(sources)
    write = bool(caption.strip()) and (update.overwrite or not hand)
    xmp: dict[str, object] = {}
    exif: object = UNCHANGED
    iptc: dict[str, object] = {}

    if write:
        descriptions = {"x-default": caption}
        hand_alt = any(not ours(v, clean) for v in target.alt_text.values())
        alt_text = target.alt_text if hand_alt and not update.overwrite else {"x-default": caption}
        new_exif, new_iptc = caption, iptc_caption(caption)
    else:  # keep the user's text; take ours away where it would hide theirs
        descriptions = {k: v for k, v in target.descriptions.items() if not ours(v, clean)}
        alt_text = {k: v for k, v in target.alt_text.items() if not ours(v, clean)}
        new_exif = None if ours(target.exif_description, clean) else target.exif_description
        new_iptc = None if ours(target.iptc_caption, iptc_caption) else target.iptc_caption
    if descriptions != target.descriptions:
        xmp["description"] = descriptions
    if alt_text != target.alt_text:
        xmp["alt_text"] = alt_text
    if target.exif_writable and new_exif != target.exif_description:
        exif = new_exif
    if target.iptc_writable and new_iptc != target.iptc_caption:
        iptc["caption"] = new_iptc

    subject, added = _keywords(update, target, context, import_keywords)
    if sorted(subject) != sorted(target.subject):
        xmp["subject"] = subject
    if target.iptc_writable:
        keywords = _unique(iptc_keyword(k) for k in subject)
        if sorted(keywords) != sorted(target.iptc_keywords):
            iptc["keywords"] = keywords
    lr_paths, tags_list, added_paths = _hierarchical(update, target, context, import_keywords)
    if sorted(lr_paths) != sorted(target.lr_paths):
        xmp["lr_paths"] = lr_paths
    if sorted(tags_list) != sorted(target.tags_list):
        xmp["tags_list"] = tags_list

    record = CaptionerRecord(
        caption=caption if write else None,
        keywords=tuple(added),
        hierarchical=tuple(added_paths),
        model=clean(update.model) or None,
        score=number(update.score),
        confidence=number(update.confidence),
    )
    if record != target.record:
        xmp["record"] = record
    return Plan(xmp, exif, iptc, kept_description=hand and not update.overwrite)


def _keywords(
    update: MetadataUpdate, target: Fields, context: Sequence[Fields], import_keywords: bool
) -> tuple[list[str], list[str]]:
    """The new flat keyword list and the keywords captioner adds to it."""
    mine = {_fold(k) for k in target.record.keywords}
    anyone_mine = mine | {_fold(k) for f in context for k in f.record.keywords}

    def user_keywords(f: Fields, owned: set[str]) -> list[str]:
        owned_iptc = owned | {_fold(iptc_keyword(k)) for k in owned}
        covered = {_fold(iptc_keyword(k)) for k in f.subject}  # IPTC's 64-byte copies of XMP keywords
        iptc_only = [k for k in f.iptc_keywords if _fold(k) not in covered and _fold(k) not in owned_iptc]
        return [k for k in f.subject if _fold(k) not in owned] + iptc_only

    user = user_keywords(target, mine)
    if import_keywords:
        user += [k for f in context for k in user_keywords(f, anyone_mine)]
    user = _unique(user)
    known = {_fold(k) for k in user}
    added = _unique((k for k in (clean(k).strip() for k in update.keywords) if k and _fold(k) not in known), _fold)
    return user + added, added


def _hierarchical(
    update: MetadataUpdate, target: Fields, context: Sequence[Fields], import_keywords: bool
) -> tuple[list[str], list[str], list[str]]:
    """New lr:hierarchicalSubject and digiKam:TagsList lists, and the "/" paths captioner adds to both."""
    mine = set(target.record.hierarchical)
    lr_user = [p for p in target.lr_paths if p not in {lr_path(h) for h in mine}]
    tags_user = [p for p in target.tags_list if p not in mine]
    if import_keywords:
        anyone_mine = mine | {h for f in context for h in f.record.hierarchical}
        lr_user += [p for f in context for p in f.lr_paths if p not in {lr_path(h) for h in anyone_mine}]
        tags_user += [p for f in context for p in f.tags_list if p not in anyone_mine]
    lr_user, tags_user = _unique(lr_user), _unique(tags_user)
    known = set(lr_user) | {lr_path(p) for p in tags_user}
    added = _unique(p for p in (_norm_path(h) for h in update.hierarchical) if p and lr_path(p) not in known)
    return lr_user + [lr_path(p) for p in added], tags_user + added, added
