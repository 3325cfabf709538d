"""Caption pages: ``score --html`` (the best and worst images by per-image CIDEr-D) and a training run's sample of
validation photos, each photo with the model's caption beside its references."""

from __future__ import annotations

import html
import os
from pathlib import Path

from captioner.atomic import atomic_write
from captioner.pages import data_uri, page, thumbnail_jpeg


def _card(item: dict) -> str:
    from captioner.data.images import load_image

    try:
        src = data_uri(thumbnail_jpeg(load_image(item["image"])))
    except Exception:  # a missing image must not cost the report  # noqa: BLE001
        src = ""
    refs = "".join(f"<li>{html.escape(r)}</li>" for r in item["references"])
    score = f'<div class="score">CIDEr-D {item["cider"]:.3f}</div>' if "cider" in item else ""
    return (
        f'<figure><img loading="lazy" src="{src}" alt=""><figcaption>'
        f'<div class="cap">{html.escape(item["prediction"])}</div>{score}'
        f'<ol class="refs">{refs}</ol><div class="path">{html.escape(item["file_name"])}</div>'
        "</figcaption></figure>"
    )


def write_score_report(
    path: str | os.PathLike, items: list[dict], per_side: int = 24, title: str = "captioner score"
) -> Path:
    """The best and worst captioned images by per-image CIDEr-D, prediction beside the references.

    ``items``: dicts with ``file_name``, ``image`` (path), ``prediction``, ``references``, ``cider``.
    """
    ranked = sorted(items, key=lambda it: it["cider"], reverse=True)
    sections = []
    for name, chosen in (("Best", ranked[:per_side]), ("Worst", ranked[::-1][:per_side])):
        cards = "".join(_card(it) for it in chosen)
        sections.append(f'<h2 style="margin:16px 24px 8px">{name} {len(chosen)} by CIDEr-D</h2><main>{cards}</main>')
    mean = sum(it["cider"] for it in items) / max(len(items), 1)
    subtitle = f"{len(items)} images, mean per-image CIDEr-D {mean:.3f}; numbered lines are the reference captions"
    return _write(path, page(title, subtitle, "".join(sections), search=False))


def write_sample_page(path: str | os.PathLike, items: list[dict], title: str, subtitle: str) -> Path:
    """One card per item (``file_name``, ``image``, ``prediction``, ``references``), in the given order."""
    return _write(path, page(title, subtitle, f"<main>{''.join(_card(it) for it in items)}</main>", search=False))


def _write(path: str | os.PathLike, body: str) -> Path:
    path = Path(path)
    with atomic_write(path) as f:
        f.write(body)
    return path
