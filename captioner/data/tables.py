"""Caption tables: CSV/TSV and JSON Lines files with a photo column and a caption column, one row per caption.

Columns are found by name (``--image-column``/``--caption-column``, else the first of the usual names below, in
any case); several rows may name the same photo, and in JSON Lines a caption may also be a list of captions. A CSV
whose first row already names a photo (``a.jpg,a dog runs``) has no header: its first two columns are used.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path

from captioner.data.coco import safe_relative
from captioner.data.rows import PHOTO_SUFFIXES, CaptionRow, RowErrors, normalise_name
from captioner.errors import CaptionerError
from captioner.jsonl import read_text

IMAGE_COLUMNS = ("file_name", "filename", "file", "image", "image_file", "image_name", "image_path", "img", "path")
CAPTION_COLUMNS = ("caption", "captions", "text", "description", "sentence", "raw", "prompt")


def _pick(columns: list[str], wanted: str | None, usual: tuple[str, ...], what: str, source: Path) -> str:
    """The column called ``wanted`` (else the first usual name present), matched without regard to case."""
    lower = {c.strip().lower(): c for c in columns}
    if wanted is not None:
        if wanted.lower() in lower:
            return lower[wanted.lower()]
        raise CaptionerError(f"{source}: no column {wanted!r} (columns: {', '.join(columns)})")
    for name in usual:
        if name in lower:
            return lower[name]
    if what == "photo":  # Hugging Face imagefolder also accepts any "*_file_name" column
        named = [c for c in columns if c.strip().lower().endswith("_file_name")]
        if named:
            return named[0]
    option = "--image-column" if what == "photo" else "--caption-column"
    raise CaptionerError(
        f"{source}: no {what} column among {', '.join(columns) or 'none'} (expected one of {', '.join(usual[:4])}, "
        f"...; name it with {option})"
    )


def _text(source: Path) -> str:
    text = read_text(source, "caption file")
    return text.removeprefix("\ufeff")  # Excel writes a byte-order mark


def _delimiter(header: str, default: str) -> str:
    """ "," for CSV unless the header line has none and a tab or ";" (a European spreadsheet) instead."""
    if default != "," or "," in header:
        return default
    return max(("\t", ";", "|"), key=header.count) if any(c in header for c in "\t;|") else default


def csv_rows(
    source: Path, image_column: str | None, caption_column: str | None, delimiter: str = ","
) -> Iterator[CaptionRow]:
    """Rows of a CSV (``delimiter`` ",") or TSV ("\\t") file; malformed rows are one error naming the line."""
    text = _text(source)
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first, delimiter), strict=True)
    errors = RowErrors()
    last = 0  # the line the previous row ended on: the next row starts after it
    try:
        header = next(reader, None)
        if header is None:
            raise CaptionerError(f"{source}: empty file")
        if header and Path(header[0].strip().lower()).suffix in PHOTO_SUFFIXES:  # no header: photo, caption
            columns, image_at, caption_at, first_row = ["photo", "caption"], 0, 1, [header]
        else:
            columns = header
            image_at = header.index(_pick(header, image_column, IMAGE_COLUMNS, "photo", source))
            caption_at = header.index(_pick(header, caption_column, CAPTION_COLUMNS, "caption", source))
            first_row, last = [], reader.line_num
        width = None if first_row else len(columns)
        for row in itertools.chain(first_row, reader):
            where, last = f"{source}:{last + 1}", reader.line_num
            if not row or not any(cell.strip() for cell in row):
                continue
            if width is not None and len(row) != width:
                errors.add(where, f"has {len(row)} fields, the header has {width}")
            elif len(row) <= max(image_at, caption_at):
                errors.add(where, f"expected a photo and a caption, got {len(row)} field(s)")
            elif not row[image_at].strip():
                errors.add(where, "no photo file name")
            else:
                yield CaptionRow(normalise_name(row[image_at]), row[caption_at], where)
    except csv.Error as e:
        raise CaptionerError(f"{source}:{last + 1}: malformed CSV ({e}; an unclosed quote?)") from None
    errors.raise_if_any()


def _captions_of(value: object) -> list[str] | None:
    """A caption field: a string or a list of strings (None if it is neither)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def jsonl_rows(source: Path, image_column: str | None, caption_column: str | None) -> Iterator[CaptionRow]:
    """Rows of a JSON Lines file, one object per line; malformed lines are one error naming the line."""
    errors = RowErrors()
    keys: tuple[str, str] | None = None
    for n, line in enumerate(_text(source).splitlines(), 1):
        if not line.strip():
            continue
        where = f"{source}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            errors.add(where, f"not JSON ({e.msg})")
            continue
        if not isinstance(obj, dict):
            errors.add(where, f"expected a JSON object, got {type(obj).__name__}")
            continue
        if keys is None:  # the first object names the columns
            columns = list(obj)
            keys = (
                _pick(columns, image_column, IMAGE_COLUMNS, "photo", source),
                _pick(columns, caption_column, CAPTION_COLUMNS, "caption", source),
            )
        name, caps = obj.get(keys[0]), _captions_of(obj.get(keys[1]))
        if not isinstance(name, str) or not name.strip():
            errors.add(where, f"no photo file name in {keys[0]!r}")
        elif caps is None:
            errors.add(where, f"{keys[1]!r} must be a caption or a list of captions")
        else:
            for caption in caps:
                yield CaptionRow(normalise_name(name), caption, where)
    errors.raise_if_any()


def table_rows(
    source: Path, fmt: str, image_column: str | None = None, caption_column: str | None = None
) -> Iterator[CaptionRow]:
    """Rows of ``source`` read as ``fmt`` ("csv", "tsv" or "jsonl")."""
    if fmt == "jsonl":
        return jsonl_rows(source, image_column, caption_column)
    return csv_rows(source, image_column, caption_column, "\t" if fmt == "tsv" else ",")


def prefixed(rows: Iterator[CaptionRow], folder: str | os.PathLike) -> Iterator[CaptionRow]:
    """``rows`` with ``folder/`` before each file name (metadata files in subfolders of an imagefolder)."""
    prefix = Path(folder).as_posix()
    for row in rows:
        if prefix in ("", ".") or not safe_relative(row.file_name):  # an unsafe name is refused as it was written
            yield row
        else:
            yield CaptionRow(f"{prefix}/{row.file_name}", row.caption, row.where)
