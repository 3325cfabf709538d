"""Training data in memory: splits of cached features and captions, caption batches, and each rank's steps.

Legend: I images, B captions in a batch, T tokens, P grid positions, D channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from captioner.errors import CaptionerError
from captioner.model.vocab import Vocabulary, tokenize
from captioner.training.config import Recipe
from captioner.training.distributed import World


@dataclass
class Split:
    """One split: cached features (N, P, D) float16 and, per image, its captions (and file, for fine-tuning)."""

    features: torch.Tensor
    captions: list[list[str]]
    names: list[str]
    paths: list[Path] | None = None

    def references(self) -> list[list[list[str]]]:
        return [[tokenize(c) for c in caps] for caps in self.captions]


def encode_captions(split: Split, vocab: Vocabulary, max_words: int) -> list[list[list[int]]]:
    return [[vocab.encode(c, max_words) for c in caps] for caps in split.captions]


def make_batch(images: list[int], tokens: list[list[list[int]]], pad: int):
    """Captions of ``images``, longest first: (B, T) ids, (B,) index into ``images``, and the lengths."""
    rows = sorted(((len(seq), k, seq) for k, i in enumerate(images) for seq in tokens[i]), key=lambda r: -r[0])
    lengths = [r[0] for r in rows]
    caps = torch.full((len(rows), lengths[0]), pad, dtype=torch.long)  # (B, T)
    for j, (n, _, seq) in enumerate(rows):
        caps[j, :n] = torch.tensor(seq)
    return caps, torch.tensor([r[1] for r in rows]), lengths


def local_steps(n: int, recipe: Recipe, world: World, epoch: int) -> list[list[list[int]]]:
    """This rank's optimizer steps for an epoch, each a list of ``grad_accum`` micro-batches of image indices.

    The order is DistributedSampler's (seed + epoch), so step s covers the same images whatever the world size:
    a rank takes every world-th image of the permutation.
    """
    per_rank = recipe.batch_images // world.size
    if per_rank * world.size != recipe.batch_images or per_rank % recipe.grad_accum:
        raise CaptionerError(
            f"batch of {recipe.batch_images} images does not split into {world.size} processes x "
            f"{recipe.grad_accum} accumulation steps"
        )
    sampler = torch.utils.data.DistributedSampler(range(n), world.size, world.rank, shuffle=True, seed=recipe.seed)
    sampler.set_epoch(epoch)
    mine = list(sampler)
    micro = per_rank // recipe.grad_accum
    steps = []
    for s in range(0, len(mine), per_rank):
        chunk = mine[s : s + per_rank]
        steps.append([chunk[m : m + micro] for m in range(0, len(chunk), micro) if chunk[m : m + micro]])
    return steps
