"""Encoder fine-tuning during training: the last encoder blocks train, so features are computed on the fly.

Legend: I images, S image size, P grid positions, D channels.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch

from captioner.model.encoder import Encoder
from captioner.training.batches import Split
from captioner.training.config import Recipe


class EncoderTuner:
    """The encoder (built on first use), its trainable tail, and features from it instead of the cache."""

    def __init__(self, recipe: Recipe, builder: Callable[[], Encoder] | None, device: torch.device):
        self.recipe, self.builder, self.device = recipe, builder, device
        self.encoder: Encoder | None = None
        self.stale = False  # True once the encoder trains: cached features no longer match it

    @property
    def enabled(self) -> bool:
        return self.recipe.fine_tune_encoder_from_epoch is not None

    def active(self, epoch: int) -> bool:
        """Whether the encoder trains in ``epoch`` (0-based): from the chosen epoch to the last cross-entropy one."""
        k = self.recipe.fine_tune_encoder_from_epoch
        return k is not None and epoch + 1 >= k and epoch < self.recipe.epochs

    def ensure(self) -> Encoder:
        if self.encoder is None:
            from captioner.errors import CaptionerError

            if self.builder is None:
                raise CaptionerError("encoder fine-tuning needs the encoder; no builder was given")
            self.encoder = self.builder().to(self.device).eval()  # BatchNorm statistics stay frozen
            for p in self.encoder.parameters():
                p.requires_grad_(False)
        return self.encoder

    def trainable(self) -> list[torch.nn.Parameter]:
        features = self.ensure().features
        return list(features[len(features) - self.recipe.fine_tune_blocks :].parameters())

    def begin(self, epoch: int, log: Callable[[str], None]) -> None:
        """At the first tuned epoch (or on resuming into one): unfreeze the tail; the feature cache stops applying."""
        k = self.recipe.fine_tune_encoder_from_epoch
        if self.active(epoch) and (epoch + 1 == k or self.encoder is None):
            for p in self.trainable():
                p.requires_grad_(True)
            self.stale = True
            log(
                f"epoch {epoch + 1}: fine-tuning the last {self.recipe.fine_tune_blocks} encoder blocks at lr "
                f"{self.recipe.encoder_lr:g}; features are now computed on the fly "
                "(the feature cache no longer applies)"
            )

    def features(self, split: Split, images: list[int], train: bool, autocast=contextlib.nullcontext) -> torch.Tensor:
        """(I, P, D) float32 features: cached ones, or from the (partly trainable) encoder while fine-tuning."""
        if not train:
            return split.features[images].to(self.device).float()
        from captioner.data.images import read_tensor

        size = self.encoder.spec.image_size
        x = torch.stack([read_tensor(split.paths[i], size) for i in images]).to(self.device)  # (I, 3, S, S)
        with autocast():
            grid = self.encoder.forward_features(x, grad_blocks=self.recipe.fine_tune_blocks)  # (I, P, D)
        return grid.float()

    def state(self) -> dict[str, torch.Tensor] | None:
        """The tuned trunk's weights (for a checkpoint), or None when the encoder is not being tuned."""
        if self.encoder is None or not self.enabled:
            return None
        return self.encoder.trunk_state()

    @torch.no_grad()
    def refresh(self, splits: list[Split | None], best: dict[str, torch.Tensor] | None) -> None:
        """After fine-tuning, recompute the cached features once with the best tuned encoder (for self-critical)."""
        if best is not None:
            self.encoder.load_trunk_state(best)
        for split in splits:
            if split is not None:
                n = len(split.names)
                chunks = [
                    self.features(split, list(range(i, min(i + 32, n))), True).half().cpu() for i in range(0, n, 32)
                ]
                split.features = torch.cat(chunks)
        self.stale = False
