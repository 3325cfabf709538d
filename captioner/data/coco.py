"""COCO caption files: ``{"images": [{"id", "file_name"}], "annotations": [{"image_id", "caption"}]}``.

Every problem a user can make in such a file becomes one ``CaptionerError`` that says how many entries are affected
and shows the first few; nothing else escapes from here, whatever JSON comes in.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from captioner.errors import CaptionerError
from captioner.model.vocab import tokenize

_SHOW = 3  # how many offending entries an error message lists


@dataclass
class CaptionedImage:
    image_id: int | str
    file_name: str
    path: Path
    captions: list[str]


@dataclass
class CaptionSet:
    """The images of one COCO caption file, in file order, each with its (non-empty) captions."""

    source: Path
    images: list[CaptionedImage]
    notes: list[str] = field(default_factory=list)  # things worth telling the user that are not errors

    def by_file_name(self) -> dict[str, CaptionedImage]:
        return {im.file_name: im for im in self.images}


def _few(items: list) -> str:
    shown = ", ".join(repr(x) for x in items[:_SHOW])
    return shown + (", ..." if len(items) > _SHOW else "")


def safe_relative(file_name: str) -> bool:
    """True if ``file_name`` stays inside the image root: relative, no ``..``, no drive or root."""
    if not file_name or "\x00" in file_name:
        return False
    for pure in (PurePosixPath(file_name), PureWindowsPath(file_name)):
        if pure.is_absolute() or pure.drive or pure.root or ".." in pure.parts:
            return False
    return True


def read_json(path: Path) -> object:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise CaptionerError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CaptionerError(f"{path}: is a directory, expected a JSON file") from None
    except PermissionError:
        raise CaptionerError(f"{path}: permission denied") from None
    except UnicodeDecodeError as e:
        raise CaptionerError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise CaptionerError(f"{path}: malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except (OSError, RecursionError, ValueError) as e:
        raise CaptionerError(f"{path}: cannot read JSON ({type(e).__name__}: {str(e)[:100]})") from None


def load_captions(
    captions: str | os.PathLike,
    image_root: str | os.PathLike,
    *,
    check_files: bool = True,
    max_images: int | None = None,
) -> CaptionSet:
    """Read and validate a COCO caption file whose ``file_name``s are relative to ``image_root``.

    Images without any usable caption are dropped (and noted); captions that are empty once tokenized are dropped.
    ``max_images`` keeps the first N images, for quick runs.
    """
    source, root = Path(captions), Path(image_root)
    data = read_json(source)
    if not isinstance(data, dict):
        raise CaptionerError(
            f"{source}: expected a JSON object with 'images' and 'annotations', got {type(data).__name__}"
        )
    for key in ("images", "annotations"):
        if key not in data:
            raise CaptionerError(f"{source}: missing key {key!r} (a COCO caption file has 'images' and 'annotations')")
        if not isinstance(data[key], list):
            raise CaptionerError(f"{source}: {key!r} must be a list, got {type(data[key]).__name__}")

    bad, ids, order, names = [], set(), [], {}
    for i, im in enumerate(data["images"]):
        ok = (
            isinstance(im, dict)
            and isinstance(im.get("id"), (int, str))
            and not isinstance(im.get("id"), bool)
            and isinstance(im.get("file_name"), str)
        )
        if not ok:
            bad.append(i)
            continue
        if im["id"] in ids:
            raise CaptionerError(f"{source}: duplicate image id {im['id']!r}")
        ids.add(im["id"])
        order.append(im["id"])
        names[im["id"]] = im["file_name"]
    if bad:
        raise CaptionerError(
            f"{source}: {len(bad)} entries of 'images' lack an integer or string 'id' and a string "
            f"'file_name' (indices {_few(bad)})"
        )
    unsafe = [n for n in names.values() if not safe_relative(n)]
    if unsafe:
        raise CaptionerError(
            f"{source}: {len(unsafe)} file_name(s) point outside the image root, refused ({_few(unsafe)})"
        )

    caps: dict[int | str, list[str]] = {i: [] for i in ids}
    bad, unknown, non_str, empty = [], [], [], 0
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict) or "image_id" not in ann or "caption" not in ann:
            bad.append(i)
        elif (
            not isinstance(ann["image_id"], (int, str))
            or isinstance(ann["image_id"], bool)
            or ann["image_id"] not in caps
        ):
            unknown.append(ann["image_id"])
        elif not isinstance(ann["caption"], str):
            non_str.append(i)
        elif not tokenize(ann["caption"]):
            empty += 1
        else:
            caps[ann["image_id"]].append(ann["caption"])
    if bad:
        raise CaptionerError(f"{source}: {len(bad)} annotations lack 'image_id' or 'caption' (indices {_few(bad)})")
    if unknown:
        raise CaptionerError(f"{source}: {len(unknown)} annotations refer to unknown image ids ({_few(unknown)})")
    if non_str:
        raise CaptionerError(f"{source}: {len(non_str)} captions are not strings (annotation indices {_few(non_str)})")

    notes = []
    if empty:
        notes.append(f"{source}: skipped {empty} empty caption(s)")
    uncaptioned = [i for i in order if not caps[i]]
    if uncaptioned:
        notes.append(f"{source}: skipped {len(uncaptioned)} image(s) with no caption ({_few(uncaptioned)})")
    order = [i for i in order if caps[i]]
    if max_images is not None:
        order = order[:max_images]
    if not order:
        raise CaptionerError(f"{source}: no captioned images")
    images = [CaptionedImage(i, names[i], root / names[i], caps[i]) for i in order]
    if check_files:
        missing = [im.file_name for im in images if not im.path.is_file()]
        if missing:
            raise CaptionerError(
                f"{source}: {len(missing)} of {len(images)} image files are missing under {root} ({_few(missing)})"
            )
    return CaptionSet(source, images, notes)
