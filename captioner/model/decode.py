"""From encoder features to caption text: batched beam search plus vocabulary decoding.

``caption``, ``score``, ``explain`` and training-time validation all decode through ``decode``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from captioner.model.beam import Hypothesis, beam_search
from captioner.model.decoder import AttentionDecoder
from captioner.model.vocab import Vocabulary


@dataclass
class DecodeOptions:
    beam_size: int = 3
    max_length: int = 20  # tokens per caption, <end> included
    length_penalty: float | None = 0.0  # GNMT alpha; 0 ranks by total log-probability; None: the model's own
    n_best: int = 1
    batch_size: int = 64  # images per beam-search batch
    min_length: int = 1  # words before <end> may come: no empty captions


def model_defaults(options: DecodeOptions, meta: dict) -> DecodeOptions:
    """``options`` with what it leaves open (``length_penalty`` None) taken from a checkpoint's ``meta``."""
    if options.length_penalty is not None:
        return options
    return replace(options, length_penalty=float(meta.get("decode", {}).get("length_penalty", 0.0)))


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
                beam_size=options.beam_size,
                max_length=options.max_length,
                alpha=options.length_penalty or 0.0,
                n_best=options.n_best,
                banned=banned,
                return_attention=return_attention,
                min_length=options.min_length,
            )
            out.extend([Caption(vocab.decode(h.tokens), h.score, h) for h in image] for image in hyps)
    finally:
        decoder.train(was_training)
    return out
