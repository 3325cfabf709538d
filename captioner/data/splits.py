"""Seeded splits of a ``CaptionSet`` by photo: the validation share ``train`` holds out, ``prepare``'s splits.

A photo goes to exactly one split with all its captions, so no photo is validated on that was trained on. The
same seed and the same photos give the same split on every machine; each split keeps the file's order.
"""

from __future__ import annotations

import random
from dataclasses import replace

from captioner.data.coco import CaptionSet
from captioner.errors import CaptionerError

MIN_PHOTOS_FOR_HOLDOUT = 10  # fewer photos than this: train on all of them, no validation
MAX_HOLDOUT = 500  # validation decodes every held-out photo each epoch: more would only cost time


def split_counts(n: int, shares: list[float]) -> list[int]:
    """Photos per split for ``n`` photos and ``shares`` (summing to 1): rounded, every share > 0 gets at least one
    photo when there are enough, and the first split takes what rounding leaves over."""
    if any(s < 0 for s in shares) or abs(sum(shares) - 1) > 1e-6:
        raise CaptionerError(f"split shares must be non-negative and add up to 1, got {shares}")
    counts = [0] + [max(1, round(s * n)) if s > 0 else 0 for s in shares[1:]]
    counts[0] = n - sum(counts[1:])
    if counts[0] < 1:
        raise CaptionerError(f"{n} photos are too few to split {len(shares)} ways")
    return counts


def split_caption_set(captions: CaptionSet, shares: list[float], seed: int = 0) -> list[CaptionSet]:
    """``captions`` split by photo into ``len(shares)`` sets, in proportion to ``shares``, shuffled by ``seed``."""
    counts = split_counts(len(captions.images), shares)
    order = list(range(len(captions.images)))
    random.Random(seed).shuffle(order)
    out, start = [], 0
    for count in counts:
        chosen = sorted(order[start : start + count])
        start += count
        out.append(replace(captions, images=[captions.images[i] for i in chosen], notes=[]))
    return out


def holdout_size(n: int, share: float) -> int:
    """How many of ``n`` photos ``train`` holds out for validation at ``share`` (0: none)."""
    if share <= 0 or n < MIN_PHOTOS_FOR_HOLDOUT:
        return 0
    return min(MAX_HOLDOUT, max(1, round(share * n)))


def hold_out(captions: CaptionSet, share: float, seed: int = 0) -> tuple[CaptionSet, CaptionSet | None]:
    """(train, validation) with ``holdout_size`` photos, chosen by ``seed``, in validation; (all, None) if none."""
    n_val = holdout_size(len(captions.images), share)
    if n_val == 0:
        return captions, None
    train, val = split_caption_set(captions, [1 - n_val / len(captions.images), n_val / len(captions.images)], seed)
    return replace(train, notes=captions.notes), val
