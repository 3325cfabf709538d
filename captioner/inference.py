"""From encoder features to caption text: batched beam search plus vocabulary decoding.

``caption``, ``score``, ``explain`` and training-time validation all decode through ``decode``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from captioner.beam import Hypothesis, beam_search
from captioner.model import AttentionDecoder
from captioner.vocab import Vocabulary


@dataclass
class DecodeOptions:
    beam_size: int = 3
    max_length: int = 20  # tokens per caption, <end> included
    length_penalty: float = 0.0  # GNMT alpha; 0 ranks by total log-probability
    n_best: int = 1
    batch_size: int = 64  # images per beam-search batch
    min_length: int = 1  # words before <end> may come: no empty captions


@dataclass
class Caption:
    text: str
    score: float
    hypothesis: Hypothesis


def decode(
    decoder: AttentionDecoder,
    features: torch.Tensor,
    vocab: Vocabulary,
    options: DecodeOptions,
    return_attention: bool = False,
) -> list[list[Caption]]:
    """The n-best captions of each image in ``features`` (N, P, D) or (N, D, H, W), best first."""
    banned = (vocab.pad, vocab.start, vocab.unk)
    out: list[list[Caption]] = []
    param = next(decoder.parameters())
    was_training = decoder.training
    decoder.eval()
    try:
        for i in range(0, features.size(0), options.batch_size):
            chunk = features[i : i + options.batch_size].to(param.device, param.dtype)
            hyps = beam_search(
                decoder,
                chunk,
                vocab.start,
                vocab.end,
                options.beam_size,
                options.max_length,
                options.length_penalty,
                options.n_best,
                banned,
                return_attention,
                options.min_length,
            )
            out.extend([Caption(vocab.decode(h.tokens), h.score, h) for h in image] for image in hyps)
    finally:
        decoder.train(was_training)
    return out
