"""What the model looked at: for each word of the caption, the photo overlaid with that step's attention map.

Legend: T generated tokens, P grid positions (H*W).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from captioner.atomic import atomic_write
from captioner.data.images import load_image, to_tensor
from captioner.model.decode import Caption, DecodeOptions
from captioner.paths import display_path
from captioner.photos.pipeline import Captioner


@dataclass
class Explanation:
    path: str
    image: object  # the photo as the user sees it (PIL, EXIF orientation applied)
    captions: list[Caption]  # n-best, best first, each with attention (T, P)
    grid: tuple[int, int]  # (H, W) of the encoder's feature grid


def explain_image(captioner: Captioner, path: str | os.PathLike, options: DecodeOptions) -> Explanation:
    """Caption one photo and keep the attention weights of every step of the chosen beams."""
    img = load_image(path, captioner.size)
    found = captioner.describe_tensors(to_tensor(img, captioner.size)[None], options, return_attention=True)[0]
    return Explanation(display_path(path), img, found.captions, captioner.model.encoder.spec.grid)


def _heat(attention: np.ndarray, grid: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """(P,) weights -> (h, w) map upsampled smoothly (bicubic) over the photo and scaled to [0, 1]."""
    a = torch.tensor(attention, dtype=torch.float32).view(1, 1, *grid)
    up = torch.nn.functional.interpolate(a, size=(size[1], size[0]), mode="bicubic", align_corners=False)[0, 0]
    up = up.clamp(min=0)
    return (up / up.max().clamp(min=1e-12)).numpy()


def render(expl: Explanation, out: str | os.PathLike, max_side: int = 320, columns: int = 5) -> Path:
    """Write the figure: the photo, then one panel per word (and <end>) of the best caption; n-best listed on top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    best = expl.captions[0]
    words = best.text.split() + (["<end>"] if best.hypothesis.finished else [])
    att = best.hypothesis.attention.cpu().numpy()  # (T, P)
    img = expl.image.copy()
    img.thumbnail((max_side, max_side))
    photo = np.asarray(img)
    panels = len(words) + 1
    rows = math.ceil(panels / columns)
    aspect = photo.shape[0] / photo.shape[1]
    n_lines = len(expl.captions)
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(columns * 2.6, rows * (2.6 * aspect + 0.45) + 0.3 * n_lines + 0.2),
        dpi=110,
        layout="constrained",
    )
    axes = np.atleast_1d(axes).ravel()
    for ax in axes:
        ax.axis("off")
    axes[0].imshow(photo)
    axes[0].set_title("photo", fontsize=11)
    for i, word in enumerate(words):
        ax = axes[i + 1]
        ax.imshow(photo)
        ax.imshow(
            _heat(att[i], expl.grid, img.size), cmap="inferno", alpha=0.6, extent=(0, img.size[0], img.size[1], 0)
        )
        ax.set_title(word, fontsize=13, fontweight="bold")
    lines = [f"{c.text}   (score {c.score:.2f})" for c in expl.captions]
    if len(lines) > 1:
        lines = [f"{k}. {line}" for k, line in enumerate(lines, 1)]
    fig.suptitle("\n".join(lines), fontsize=12)
    out = Path(out)
    with atomic_write(out, "wb") as f:
        fig.savefig(f, format="png")
    plt.close(fig)
    return out
