"""Hugging Face ``imagefolder`` datasets: photos with a ``metadata.jsonl`` or ``metadata.csv`` beside them.

As in the ``datasets`` library, a metadata file names each photo in a ``file_name`` column (or any
``*_file_name`` column), relative to the metadata file's own folder, and may sit at the top of the dataset or in
subfolders; every metadata file in the tree is read. The caption column is found as in any caption table
(``text``, ``caption``, ...; ``--caption-column`` names another). A dataset with ``train/`` and ``validation/``
folders is two datasets: pass each folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from captioner.data.rows import CaptionRow
from captioner.data.tables import prefixed, table_rows
from captioner.errors import CaptionerError

METADATA_NAMES = {"metadata.jsonl": "jsonl", "metadata.csv": "csv"}
_UNSUPPORTED = ("metadata.parquet", "metadata.json")


def metadata_files(root: Path) -> list[Path]:
    """The metadata files under ``root`` (hidden folders skipped), top-level first, then in sorted order."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(folder) / name for name in sorted(files) if name in METADATA_NAMES)
    return sorted(found, key=lambda p: (len(p.relative_to(root).parts), p.as_posix()))


def has_metadata(folder: Path) -> bool:
    """Whether ``folder`` or one of its direct subfolders (``train/``, ...) holds an imagefolder metadata file."""
    names = (*METADATA_NAMES, *_UNSUPPORTED)
    if any((folder / name).is_file() for name in names):
        return True
    try:
        subfolders = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return False
    return any((sub / name).is_file() for sub in subfolders for name in names)


def imagefolder_rows(root: Path, image_column: str | None, caption_column: str | None) -> Iterator[CaptionRow]:
    """Rows of every metadata file under ``root``, file names made relative to ``root``."""
    files = metadata_files(root)
    if not files:
        other = next((root / n for n in _UNSUPPORTED if (root / n).is_file()), None)
        if other is not None:
            raise CaptionerError(f"{other}: only metadata.jsonl and metadata.csv are read; convert it to one of them")
        raise CaptionerError(f"{root}: no metadata.jsonl or metadata.csv (a Hugging Face imagefolder needs one)")
    for path in files:
        fmt = METADATA_NAMES[path.name]
        rows = table_rows(path, fmt, image_column, caption_column)  # "file_name" is the first usual photo column
        yield from prefixed(rows, path.parent.relative_to(root))
