"""Training curves from ``metrics.jsonl``: losses, learning rate, BLEU-1..4 and CIDEr-D per epoch (matplotlib)."""

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


def _legend_below(ax, *twins) -> None:
    """One legend for ``ax`` and its twin axes, under the panel, where it cannot cover a curve."""
    handles, labels = [], []
    for a in (ax, *twins):
        h, lab = a.get_legend_handles_labels()
        handles, labels = handles + h, labels + lab
    if handles:
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize=8, frameon=False)


def plot_curves(rows: list[dict], out: str | os.PathLike, title: str = "training") -> Path:
    """Write a PNG with three panels (losses / rewards, learning rate, validation scores by epoch); returns its path."""
    fig = curves_figure(rows, title)  # selects the Agg backend before pyplot is imported
    import matplotlib.pyplot as plt

    out = Path(out)
    with atomic_write(out, "wb") as f:
        fig.savefig(f, format="png")
    plt.close(fig)
    return out


def curves_figure(rows: list[dict], title: str):
    """The matplotlib figure of ``plot_curves`` (legends under the panels, so they never cover a curve)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in rows]
    fig, (left, middle, right) = plt.subplots(
        1, 3, figsize=(14, 4.6), dpi=110, gridspec_kw={"width_ratios": [1, 0.7, 1]}, layout="constrained"
    )
    for key, label, style in (("train_loss", "train loss (cross-entropy)", "-o"), ("val_loss", "val loss", "-s")):
        pts = [(r["epoch"], r[key]) for r in rows if key in r]
        if pts:
            left.plot(*zip(*pts), style, label=label, markersize=4)
    left.set_xlabel("epoch")
    left.set_ylabel("cross-entropy per token")
    twins = []
    rewards = [(r["epoch"], r["reward"]) for r in rows if "reward" in r]
    if rewards:
        twin = left.twinx()
        twin.plot(*zip(*rewards), "-^", color="tab:green", label="self-critical reward (CIDEr-D)", markersize=4)
        twin.set_ylabel("mean sampled CIDEr-D")
        twins.append(twin)
    _legend_below(left, *twins)
    left.set_title("losses")
    lrs = [(r["epoch"], r["lr"]) for r in rows if r.get("lr")]
    if lrs:
        middle.plot(*zip(*lrs), "-o", color="tab:purple", label="learning rate at the end of the epoch", markersize=4)
        middle.yaxis.set_major_formatter(lambda value, _: f"{value:.1e}" if value else "0")
        middle.set_ylim(bottom=0)
    middle.set_xlabel("epoch")
    middle.set_title("learning rate")
    _legend_below(middle)
    for n in range(1, 5):
        pts = [(r["epoch"], r[f"bleu{n}"]) for r in rows if f"bleu{n}" in r]
        if pts:
            right.plot(*zip(*pts), "-o", label=f"BLEU-{n}", markersize=4)
    right.set_xlabel("epoch")
    right.set_ylabel("val BLEU (x100)")
    twins = []
    cider = [(r["epoch"], r["cider"]) for r in rows if "cider" in r]
    if cider:
        twin = right.twinx()
        twin.plot(*zip(*cider), "--", color="black", label="CIDEr-D", linewidth=1)
        twin.set_ylabel("val CIDEr-D")
        twins.append(twin)
    _legend_below(right, *twins)
    right.set_title("validation (free-running beam search)")
    scst_start = next((r["epoch"] for r in rows if r.get("phase") == "scst"), None)
    for ax in (left, middle, right):
        ax.grid(alpha=0.3)
        ax.set_xticks(sorted(set(epochs)))
        if scst_start is not None:
            ax.axvline(scst_start - 0.5, color="grey", linestyle=":", linewidth=1)
    fig.suptitle(title)
    return fig
