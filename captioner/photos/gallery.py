"""One self-contained HTML page of captioned photos: thumbnail, caption, confidence, tags, and the files that failed.

- Each card links to the original photo by a URL relative to the page, percent-encoded from the file name's bytes,
  so names with ``#``, ``?``, ``%``, spaces, non-ASCII or bytes that are not UTF-8 work.
- Up to ``MAX_EMBEDDED`` photos the thumbnails are embedded and the page is one file; beyond that the cards show
  the originals themselves (link mode). Either way a photo keeps its aspect ratio, fitted into same-sized boxes.
- The percentage is the caption's probability per word (``CaptionRecord.word_probability``, the geometric mean of
  the model's probability for each word), labelled as such: how sure the model was, not a calibrated chance of
  being right. Records without it (CSV and text outputs) show the beam score instead.
- An error card shows the error and the file name.
"""

from __future__ import annotations

import html
import os
import urllib.parse
from collections.abc import Iterable
from pathlib import Path

from captioner.atomic import atomic_write
from captioner.pages import data_uri, page
from captioner.paths import display_path
from captioner.photos.records import CaptionRecord

MAX_EMBEDDED = 3000  # beyond this many photos the page links to the originals instead of embedding thumbnails
PROBABILITY_HELP = (
    "The model's probability per word of this caption (geometric mean over its words): how sure the model was, "
    "not a calibrated chance that the caption is right."
)
LEGEND = (
    "Percentages: the model's probability per word of each caption, i.e. how sure it was; not a calibrated chance "
    "that the caption is right."
)
SCORE_HELP = "The beam score of this caption (log-probability, length-normalised); higher is surer."
_STYLE = (
    "<style>figure a.photo{display:block}figure img{object-fit:contain;background:#e6e6e3}"
    "a.path{display:block;color:#667;text-decoration:none}a.path:hover{text-decoration:underline}"
    ".score{cursor:help}</style>"
)


def photo_url(path: str, page_dir: Path) -> str:
    """A URL for the photo at record path ``path`` from a page in ``page_dir``: relative where possible, each byte
    of the name that is not a plain URL character percent-encoded."""
    try:
        rel = os.path.relpath(path, page_dir)
    except ValueError:  # another drive on Windows
        return Path(os.path.abspath(path)).as_uri()
    return urllib.parse.quote(os.fsencode(Path(rel).as_posix()), safe="/")


def _confidence(record: CaptionRecord) -> str:
    if record.word_probability is not None:
        percent = record.word_probability * 100
        shown = "<1%" if 0 < percent < 0.5 else f"{percent:.0f}%"
        return f'<div class="score" title="{html.escape(PROBABILITY_HELP)}">{shown} probability per word</div>'
    if record.score is not None:
        return f'<div class="score" title="{html.escape(SCORE_HELP)}">beam score {record.score:.2f}</div>'
    return ""


def _card(record: CaptionRecord, src: str | None, href: str) -> str:
    name = display_path(record.path)
    href = html.escape(href, quote=True)
    link = f'<a class="path" href="{href}">{html.escape(name)}</a>'
    image = ""
    if src:
        alt = html.escape(record.caption or name, quote=True)
        image = f'<a class="photo" href="{href}"><img loading="lazy" src="{src}" alt="{alt}"></a>'
    caption = f'<div class="cap">{html.escape(record.caption)}</div>' if record.caption else ""
    if not record.ok:
        text = f"{name} {record.error}".lower()
        return (
            f'<figure class="error" data-text="{html.escape(text, quote=True)}">{image}<figcaption>'
            f'<div class="err">{html.escape(record.error)}</div>{caption}{link}</figcaption></figure>'
        )
    tags = "".join(f"<span>{html.escape(t)}</span>" for t in record.tags or [])
    text = " ".join([name, record.caption, *(record.tags or [])]).lower()
    return (
        f'<figure data-text="{html.escape(text, quote=True)}">{image}'
        f'<figcaption>{caption}{_confidence(record)}<div class="tags">{tags}</div>{link}</figcaption></figure>'
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
    cards = []
    for r in records:
        href = photo_url(r.path, path.parent)
        thumb = thumbs.get(r.path) if embed else None
        src = data_uri(thumb) if thumb else (html.escape(href, quote=True) if r.ok or r.caption else None)
        cards.append(_card(r, src, href))
    subtitle = f"{len(records) - failed} captioned, {failed} failed. {LEGEND}"
    body = page(title, subtitle, f"{_STYLE}<main>{''.join(cards)}</main>")
    with atomic_write(path) as f:
        f.write(body)
    return len(records)
