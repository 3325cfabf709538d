"""One self-contained HTML page of captioned photos: thumbnail, caption, score, tags, and the files that failed."""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Iterable
from pathlib import Path

from captioner.atomic import atomic_write

THUMBNAIL_SIZE = 256
MAX_EMBEDDED = 3000  # beyond this many photos the page links to the originals instead of embedding thumbnails

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f4f4f2;color:#222}
header{padding:16px 24px;background:#1f2933;color:#fff}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#cbd2d9;font-size:14px}
input{margin:12px 24px;padding:8px 12px;width:min(480px,80vw);font-size:15px;border:1px solid #bbb;border-radius:6px}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:16px;padding:0 24px 24px}
figure{margin:0;background:#fff;border-radius:8px;overflow:hidden;box-shadow:0 1px 3px rgba(0,0,0,.12)}
figure img{width:100%;aspect-ratio:4/3;object-fit:cover;display:block;background:#ddd}
figcaption{padding:10px 12px;font-size:14px;line-height:1.35}
.cap{font-weight:600}.path{color:#667;font-size:12px;word-break:break-all;margin-top:4px}
.score{color:#667;font-size:12px}.tags span{display:inline-block;background:#e4ecf7;color:#234;border-radius:10px;
padding:1px 8px;margin:4px 4px 0 0;font-size:12px}
figure.error{border-left:4px solid #c0392b}.err{color:#c0392b}
.refs{margin:6px 0 0;padding-left:18px;color:#444;font-size:12px}
"""

_SCRIPT = """
const q=document.getElementById('q');q.addEventListener('input',()=>{const t=q.value.toLowerCase();
for(const f of document.querySelectorAll('figure')){f.style.display=f.dataset.text.includes(t)?'':'none';}});
"""


def _page(title: str, subtitle: str, body: str, search: bool = True) -> str:
    box = '<input id="q" type="search" placeholder="Filter by caption, tag or path">' if search else ""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><header><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(subtitle)}</p></header>{box}{body}<script>{_SCRIPT if search else ''}</script>"
        "</body></html>\n"
    )


def write_score_report(
    path: str | os.PathLike, items: list[dict], per_side: int = 24, title: str = "captioner score"
) -> Path:
    """The best and worst captioned images by per-image CIDEr-D, prediction beside the references.

    ``items``: dicts with ``file_name``, ``image`` (path), ``prediction``, ``references``, ``cider``.
    """
    from captioner.images import load_image

    ranked = sorted(items, key=lambda it: it["cider"], reverse=True)
    sections = []
    for name, chosen in (("Best", ranked[:per_side]), ("Worst", ranked[::-1][:per_side])):
        cards = []
        for it in chosen:
            try:
                src = "data:image/jpeg;base64," + base64.b64encode(thumbnail_jpeg(load_image(it["image"]))).decode()
            except Exception:  # a missing image must not cost the report  # noqa: BLE001
                src = ""
            refs = "".join(f"<li>{html.escape(r)}</li>" for r in it["references"])
            cards.append(
                f'<figure><img loading="lazy" src="{src}" alt=""><figcaption>'
                f'<div class="cap">{html.escape(it["prediction"])}</div>'
                f'<div class="score">CIDEr-D {it["cider"]:.3f}</div>'
                f'<ol class="refs">{refs}</ol><div class="path">{html.escape(it["file_name"])}</div>'
                "</figcaption></figure>"
            )
        sections.append(
            f'<h2 style="margin:16px 24px 8px">{name} {len(chosen)} by CIDEr-D</h2><main>{"".join(cards)}</main>'
        )
    mean = sum(it["cider"] for it in items) / max(len(items), 1)
    page = _page(
        title,
        f"{len(items)} images, mean per-image CIDEr-D {mean:.3f}; numbered lines are the reference captions",
        "".join(sections),
        search=False,
    )
    path = Path(path)
    with atomic_write(path) as f:
        f.write(page)
    return path


def thumbnail_jpeg(img, size: int = THUMBNAIL_SIZE) -> bytes:
    """A small JPEG of a Pillow image, for embedding in the gallery."""
    thumb = img.copy()
    thumb.thumbnail((size, size))
    buf = io.BytesIO()
    thumb.convert("RGB").save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _src(record: dict, thumbs: dict[str, bytes], page_dir: Path, embed: bool) -> str:
    data = thumbs.get(record["path"]) if embed else None
    if data:
        return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
    try:
        rel = os.path.relpath(record["path"], page_dir)
    except ValueError:  # another drive on Windows
        rel = os.path.abspath(record["path"])
    return html.escape(Path(rel).as_posix(), quote=True)


def write_gallery(
    path: str | os.PathLike, records: Iterable[dict], thumbs: dict[str, bytes] | None = None, title: str = "captioner"
) -> int:
    """Write the page atomically; ``records`` are JSON Lines records (caption or error). Returns how many."""
    path = Path(path)
    records = list(records)
    thumbs = thumbs or {}
    embed = len(records) <= MAX_EMBEDDED
    failed = sum(1 for r in records if "error" in r)
    cards = []
    for r in records:
        name = html.escape(r["path"])
        if "error" in r:
            text = f"{r['path']} {r['error']}".lower()
            cards.append(
                f'<figure class="error" data-text="{html.escape(text, quote=True)}"><figcaption>'
                f'<div class="err">{html.escape(r["error"])}</div></figcaption></figure>'
            )
            continue
        tags = "".join(f"<span>{html.escape(t)}</span>" for t in r.get("tags", []))
        text = " ".join([r["path"], r.get("caption", ""), *r.get("tags", [])]).lower()
        score = f'<div class="score">score {r["score"]:.3f}</div>' if r.get("score") is not None else ""
        alt = html.escape(r.get("caption", ""), quote=True)
        cards.append(
            f'<figure data-text="{html.escape(text, quote=True)}">'
            f'<img loading="lazy" src="{_src(r, thumbs, path.parent, embed)}" alt="{alt}">'
            f'<figcaption><div class="cap">{html.escape(r.get("caption", ""))}</div>{score}'
            f'<div class="tags">{tags}</div><div class="path">{name}</div></figcaption></figure>'
        )
    page = _page(title, f"{len(records) - failed} captioned, {failed} failed", f"<main>{''.join(cards)}</main>")
    with atomic_write(path) as f:
        f.write(page)
    return len(records)
