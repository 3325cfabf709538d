"""Every caption format ``train`` and ``prepare`` read, told apart automatically, each read into a ``CaptionSet``.

Detection (``--format auto``), in order:

- a folder holding ``metadata.jsonl``/``metadata.csv`` (or a ``train/``-style subfolder with one): ``imagefolder``;
- any other folder: ``sidecar`` (``photo.jpg`` + ``photo.txt``/``photo.caption``);
- a file named ``metadata.jsonl``/``metadata.csv``: ``jsonl``/``csv``, photos beside it (imagefolder style);
- by suffix: ``.json`` COCO, ``.jsonl``/``.ndjson`` JSON Lines, ``.csv`` CSV, ``.tsv``/``.tab`` TSV.

Photos are found under the image folder: ``--train-images`` when given, else the caption file's own folder (or the
folder itself). Missing photos are dropped with a note unless fewer than half are left (``rows.check_photos``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from captioner.data.coco import CaptionSet, load_captions
from captioner.data.imagefolder import has_metadata, imagefolder_rows
from captioner.data.rows import caption_set_from_rows, check_photos
from captioner.data.sidecars import sidecar_rows
from captioner.data.tables import table_rows
from captioner.errors import CaptionerError

FORMATS = ("auto", "coco", "csv", "tsv", "jsonl", "imagefolder", "sidecar")
SUFFIXES = {".json": "coco", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv", ".tab": "tsv"}
FORMAT_NAMES = {
    "coco": "COCO captions JSON",
    "csv": "CSV",
    "tsv": "TSV",
    "jsonl": "JSON Lines",
    "imagefolder": "Hugging Face imagefolder",
    "sidecar": "photos with .txt/.caption sidecars",
}


@dataclass
class ReadOptions:
    """How to read a caption source: its format and, for tables, which columns hold the photo and the caption."""

    format: str = "auto"  # one of FORMATS
    image_column: str | None = None  # None: the first of file_name, filename, file, image, ... present
    caption_column: str | None = None  # None: the first of caption, captions, text, description, ... present


def detect_format(source: Path) -> str:
    """The format of ``source`` by the rules above; a file that fits none is an error that lists them."""
    if source.is_dir():
        return "imagefolder" if has_metadata(source) else "sidecar"
    if not source.exists():
        raise CaptionerError(f"{source}: no such file or folder")
    fmt = SUFFIXES.get(source.suffix.lower())
    if fmt is None:
        hint = " (for .txt captions beside photos pass their folder)" if source.suffix.lower() == ".txt" else ""
        raise CaptionerError(
            f"{source}: cannot tell the caption format from the name{hint}; expected a folder, .json (COCO), "
            ".jsonl, .csv or .tsv, or pass --format"
        )
    return fmt


def read_caption_set(
    source: Path,
    images: Path | None = None,
    options: ReadOptions | None = None,
    *,
    max_images: int | None = None,
    images_option: str = "--train-images",
) -> tuple[CaptionSet, str]:
    """Read ``source`` in any format into a ``CaptionSet``; returns it and the format name.

    ``images``: the folder photos are relative to (default: ``source`` if a folder, else its folder).
    ``max_images`` keeps the first N photos (quick runs); ``images_option`` names the option in messages.
    """
    options = options or ReadOptions()
    if options.format not in FORMATS:
        raise CaptionerError(f"unknown caption format {options.format!r} (one of {', '.join(FORMATS)})")
    fmt = detect_format(source) if options.format == "auto" else options.format
    if fmt in ("imagefolder", "sidecar") and not source.is_dir():
        raise CaptionerError(f"{source}: the {fmt} format reads a folder, not a file")
    if fmt not in ("imagefolder", "sidecar") and source.is_dir():
        raise CaptionerError(f"{source}: is a folder; the {fmt} format reads a file")
    if source.is_dir() and images is not None and images.resolve() != source.resolve():
        raise CaptionerError(f"{source}: a caption folder's photos are in the folder itself; drop {images_option}")
    root = images if images is not None else (source if source.is_dir() else source.parent)
    if fmt == "coco":
        captions = load_captions(source, root, check_files=False)
    else:
        notes: list[str] = []
        if fmt == "sidecar":
            rows = sidecar_rows(source, notes)
        elif fmt == "imagefolder":
            rows = imagefolder_rows(source, options.image_column, options.caption_column)
        else:
            rows = table_rows(source, fmt, options.image_column, options.caption_column)
        captions = caption_set_from_rows(source, root, rows)
        captions.notes[:0] = notes
    captions = check_photos(captions, root, images_option)
    if max_images is not None:
        captions = replace(captions, images=captions.images[:max_images])
    return captions, fmt
