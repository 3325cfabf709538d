"""The training losses: teacher-forced cross-entropy with the attention penalty, and the self-critical loss.

Losses are sums divided by global counts (tokens, captions or samples over all processes and accumulation steps),
so a step gives the same update whatever the number of processes or micro-batches that share its batch.

Legend: B captions in a batch, T steps, P grid positions, V vocabulary, N real tokens, I images, n samples each.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from captioner.model.decoder import pack_targets
from captioner.training.config import Recipe


def doubly_stochastic_penalty(alphas: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Xu et al. eq. 14: push each position's attention, summed over the caption, towards 1.

    alphas (B, T, P), mask (B, T) true at real tokens; returns (1 - sum_t a)^2 averaged over positions and batch.
    Averaging over positions (not summing, as the paper's per-caption loss does) keeps it on the scale of a
    per-token cross-entropy: summed over 49 positions it would outweigh the caption loss tenfold.
    """
    total = (alphas * mask.unsqueeze(2)).sum(1)  # (B, P)
    return ((1.0 - total) ** 2).mean()


def xe_loss(
    logits: torch.Tensor, alphas: torch.Tensor, captions: torch.Tensor, lengths: list[int], pad: int, recipe: Recipe
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Summed terms of the teacher-forced loss of one micro-batch.

    ``logits`` (N, V) come packed (real tokens only, ``forward(..., packed=True)``), ``alphas`` (B, T, P).
    Returns (label-smoothed cross-entropy summed over tokens, attention penalty summed over captions, plain
    cross-entropy summed over tokens, detached: what is logged).
    """
    targets = pack_targets(captions, lengths)  # (N,)
    flat = logits.float()
    ce = F.cross_entropy(flat, targets, reduction="sum", label_smoothing=recipe.label_smoothing)
    mask = captions[:, 1:] != pad  # (B, T)
    penalty = doubly_stochastic_penalty(alphas.float(), mask) * captions.size(0)
    with torch.no_grad():
        plain = F.cross_entropy(flat.detach(), targets, reduction="sum")
    return ce, penalty, plain


def scst_advantage(rewards: torch.Tensor) -> torch.Tensor:
    """(I, n) rewards -> (I*n,) advantages: each sample's reward minus the mean reward of its image's others."""
    n = rewards.size(1)
    baseline = (rewards.sum(1, keepdim=True) - rewards) / (n - 1)  # (I, n)
    return (rewards - baseline).view(-1)


def scst_loss(advantage: torch.Tensor, logp: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Self-critical policy gradient (Rennie et al. 2017), summed over samples: -A * log p / length."""
    return -(advantage * logp.float() / lengths.clamp(min=1).float()).sum()
