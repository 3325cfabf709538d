"""Training curves from ``metrics.jsonl``: losses, BLEU-1..4 and CIDEr-D per epoch, drawn with matplotlib."""

from __future__ import annotations

import os
from pathlib import Path

from captioner.atomic import atomic_write
from captioner.errors import CaptionerError
from captioner.jsonl import iter_jsonl, read_text


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """Rows of a ``metrics.jsonl`` file (a folder means the file inside it); averaged-weights rows are skipped."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    rows = [
        row
        for _, row in iter_jsonl(read_text(path, "metrics"), path)
        if isinstance(row, dict) and "epoch" in row and "averaged_last" not in row
    ]
    if not rows:
        raise CaptionerError(f"{path}: no epochs recorded")
    return rows


def plot_curves(rows: list[dict], out: str | os.PathLike, title: str = "training") -> Path:
    """Write a PNG with two panels (losses / rewards, and validation scores per epoch); returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    for key, label, style in (("train_loss", "train loss (cross-entropy)", "-o"), ("val_loss", "val loss", "-s")):
        pts = [(r["epoch"], r[key]) for r in rows if key in r]
        if pts:
            left.plot(*zip(*pts), style, label=label, markersize=4)
    left.set_xlabel("epoch")
    left.set_ylabel("cross-entropy per token")
    rewards = [(r["epoch"], r["reward"]) for r in rows if "reward" in r]
    if rewards:
        twin = left.twinx()
        twin.plot(*zip(*rewards), "-^", color="tab:green", label="self-critical reward (CIDEr-D)", markersize=4)
        twin.set_ylabel("mean sampled CIDEr-D")
        twin.legend(loc="upper right", fontsize=8)
    if left.lines:
        left.legend(loc="upper left" if rewards else "best", fontsize=8)
    left.set_title("losses")
    for n in range(1, 5):
        pts = [(r["epoch"], r[f"bleu{n}"]) for r in rows if f"bleu{n}" in r]
        if pts:
            right.plot(*zip(*pts), "-o", label=f"BLEU-{n}", markersize=4)
    right.set_xlabel("epoch")
    right.set_ylabel("val BLEU (x100)")
    cider = [(r["epoch"], r["cider"]) for r in rows if "cider" in r]
    if cider:
        twin = right.twinx()
        twin.plot(*zip(*cider), "--", color="black", label="CIDEr-D", linewidth=1)
        twin.set_ylabel("val CIDEr-D")
        twin.legend(loc="lower right", fontsize=8)
    if right.lines:
        right.legend(loc="upper left", fontsize=8, ncol=2)
    right.set_title("validation (free-running beam search)")
    scst_start = next((r["epoch"] for r in rows if r.get("phase") == "scst"), None)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.set_xticks(sorted(set(epochs)))
        if scst_start is not None:
            ax.axvline(scst_start - 0.5, color="grey", linestyle=":", linewidth=1)
    fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    with atomic_write(out, "wb") as f:
        fig.savefig(f, format="png")
    plt.close(fig)
    return out
