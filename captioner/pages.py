"""The skeleton of captioner's self-contained HTML pages (the caption gallery, the score report) and thumbnails."""

from __future__ import annotations

import base64
import html
import io

THUMBNAIL_SIZE = 256

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


def page(title: str, subtitle: str, body: str, search: bool = True) -> str:
    """A whole HTML document: header, optional filter box (filters ``figure`` cards by ``data-text``), body."""
    box = '<input id="q" type="search" placeholder="Filter by caption, tag or path">' if search else ""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><header><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(subtitle)}</p></header>{box}{body}<script>{_SCRIPT if search else ''}</script>"
        "</body></html>\n"
    )


def thumbnail_jpeg(img, size: int = THUMBNAIL_SIZE) -> bytes:
    """A small JPEG of a Pillow image, for embedding in a page."""
    thumb = img.copy()
    thumb.thumbnail((size, size))
    buf = io.BytesIO()
    thumb.convert("RGB").save(buf, "JPEG", quality=80)
    return buf.getvalue()


def data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
