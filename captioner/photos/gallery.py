"""One self-contained HTML page of captioned photos: thumbnail, caption, confidence, tags, and the files that failed.

- Each card links to the original photo by a URL relative to the page, percent-encoded from the file name's bytes,
  so names with ``#``, ``?``, ``%``, spaces, non-ASCII or bytes that are not UTF-8 work.
- Up to ``MAX_EMBEDDED`` photos the thumbnails are embedded and the page is one file; beyond that the cards show
  the originals themselves (link mode). Either way a photo keeps its aspect ratio, fitted into same-sized boxes.
- The percentage is the caption's confidence (``CaptionRecord.confidence``): about how often captions this sure
  describe their photo (calibrated on human judgments, see captioner/labels/confidence.py). Cards below the run's
  ``--min-confidence`` are marked: their metadata was not written. Records without a confidence (text outputs)
  show the beam score instead. The classifier's labels are listed under the keywords.
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
from captioner.photos.records import CaptionRecord, labels_text

MAX_EMBEDDED = 3000  # beyond this many photos the page links to the originals instead of embedding thumbnails
CONFIDENCE_HELP = (
    "Confidence: of captions this sure, about this share describe their photo (calibrated on Flickr8k's human "
    "judgments)."
)
LEGEND = "Percentages: how likely each caption describes its photo (calibrated confidence)."
SCORE_HELP = "The beam score of this caption (log-probability, length-normalised); higher is surer."
_STYLE = (
    "<style>figure a.photo{display:block}figure img{object-fit:contain;background:#e6e6e3}"
    "a.path{display:block;color:#667;text-decoration:none}a.path:hover{text-decoration:underline}"
    ".score{cursor:help}figure.unsure{border-left:4px solid #d08c00}.unsure .score{color:#a86400;font-weight:600}"
    ".labels{color:#556;font-size:12px;margin-top:4px}</style>"
)


def photo_url(path: str, page_dir: Path) -> str:
    """A URL for the photo at record path ``path`` from a page in ``page_dir``: relative where possible, each byte
    of the name that is not a plain URL character percent-encoded."""
    try:
        rel = os.path.relpath(path, page_dir)
    except ValueError:  # another drive on Windows
        return Path(os.path.abspath(path)).as_uri()
    return urllib.parse.quote(os.fsencode(Path(rel).as_posix()), safe="/")


def _confidence(record: CaptionRecord, unsure: bool) -> str:
    if record.confidence is not None:
        percent = record.confidence * 100
        shown = "<1%" if 0 < percent < 0.5 else f"{percent:.0f}%"
        note = ", too unsure: metadata not written" if unsure else ""
        return f'<div class="score" title="{html.escape(CONFIDENCE_HELP)}">confidence {shown}{note}</div>'
    if record.score is not None:
        return f'<div class="score" title="{html.escape(SCORE_HELP)}">beam score {record.score:.2f}</div>'
    return ""


def _card(record: CaptionRecord, src: str | None, href: str, unsure: float) -> str:
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
    names = [label["name"] for label in record.labels or []]
    labels = labels_text(record.labels)
    labels = f'<div class="labels">{html.escape(labels)}</div>' if labels else ""
    text = " ".join([name, record.caption, *(record.tags or []), *names]).lower()
    low = record.confidence is not None and record.confidence < unsure
    return (
        f'<figure{" class=unsure" if low else ""} data-text="{html.escape(text, quote=True)}">{image}'
        f'<figcaption>{caption}{_confidence(record, low)}<div class="tags">{tags}</div>{labels}{link}'
        "</figcaption></figure>"
    )


def write_gallery(
    path: str | os.PathLike,
    records: Iterable[CaptionRecord],
    thumbs: dict[str, bytes] | None = None,
    title: str = "captioner",
    unsure: float = 0.0,
) -> int:
    """Write the page atomically; ``records`` are caption or error records, those with a confidence below
    ``unsure`` are marked. Returns how many."""
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
        cards.append(_card(r, src, href, unsure))
    low = sum(1 for r in records if r.ok and r.confidence is not None and r.confidence < unsure)
    marked = f", {low} too unsure for metadata (marked)" if low else ""
    subtitle = f"{len(records) - failed} captioned, {failed} failed{marked}. {LEGEND}"
    body = page(title, subtitle, f"{_STYLE}<main>{''.join(cards)}</main>")
    with atomic_write(path) as f:
        f.write(body)
    return len(records)
