"""One self-contained HTML page of captioned photos: thumbnail, caption, score, tags, and the files that failed."""

from __future__ import annotations

import html
import os
from collections.abc import Iterable
from pathlib import Path

from captioner.atomic import atomic_write
from captioner.pages import data_uri, page
from captioner.photos.records import CaptionRecord

MAX_EMBEDDED = 3000  # beyond this many photos the page links to the originals instead of embedding thumbnails


def _src(record: CaptionRecord, thumbs: dict[str, bytes], page_dir: Path, embed: bool) -> str:
    data = thumbs.get(record.path) if embed else None
    if data:
        return data_uri(data)
    try:
        rel = os.path.relpath(record.path, page_dir)
    except ValueError:  # another drive on Windows
        rel = os.path.abspath(record.path)
    return html.escape(Path(rel).as_posix(), quote=True)


def _card(record: CaptionRecord, src: str) -> str:
    if not record.ok:
        text = f"{record.path} {record.error}".lower()
        return (
            f'<figure class="error" data-text="{html.escape(text, quote=True)}"><figcaption>'
            f'<div class="err">{html.escape(record.error)}</div></figcaption></figure>'
        )
    tags = "".join(f"<span>{html.escape(t)}</span>" for t in record.tags or [])
    text = " ".join([record.path, record.caption, *(record.tags or [])]).lower()
    score = f'<div class="score">score {record.score:.3f}</div>' if record.score is not None else ""
    return (
        f'<figure data-text="{html.escape(text, quote=True)}">'
        f'<img loading="lazy" src="{src}" alt="{html.escape(record.caption, quote=True)}">'
        f'<figcaption><div class="cap">{html.escape(record.caption)}</div>{score}'
        f'<div class="tags">{tags}</div><div class="path">{html.escape(record.path)}</div></figcaption></figure>'
    )


def write_gallery(
    path: str | os.PathLike,
    records: Iterable[CaptionRecord],
    thumbs: dict[str, bytes] | None = None,
    title: str = "captioner",
) -> int:
    """Write the page atomically; ``records`` are caption or error records. Returns how many."""
    path = Path(path)
    records = list(records)
    thumbs = thumbs or {}
    embed = len(records) <= MAX_EMBEDDED
    failed = sum(1 for r in records if not r.ok)
    cards = [_card(r, _src(r, thumbs, path.parent, embed) if r.ok else "") for r in records]
    body = page(title, f"{len(records) - failed} captioned, {failed} failed", f"<main>{''.join(cards)}</main>")
    with atomic_write(path) as f:
        f.write(body)
    return len(records)
