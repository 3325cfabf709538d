"""The encoder + decoder pair: photos in, teacher-forced word logits out."""

from __future__ import annotations

import torch
from torch import nn

from captioner.model.decoder import AttentionDecoder
from captioner.model.encoder import Encoder


class CaptionModel(nn.Module):
    """An encoder (photo -> grid) and a decoder (grid -> words). ``encoder`` may be None when features are cached."""

    def __init__(self, encoder: Encoder | None, decoder: AttentionDecoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) photos, uint8 or 0..255 floats -> (B, P, D) features."""
        if self.encoder is None:
            raise RuntimeError("this model has no encoder; pass features instead of images")
        return self.encoder.forward_features(images)

    def forward(self, images_or_features: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, T-1, V); photos are (B, 3, S, S), features (B, P, D) or (B, D, H, W)."""
        x = images_or_features
        if x.dim() == 4 and x.size(1) == 3:
            x = self.features(x)
        return self.decoder(x, captions)[0]
