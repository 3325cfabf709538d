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
    score: float  # the beam score (length-normalised log-probability)
    hypothesis: Hypothesis


@dataclass
class Guidance:
    """Per-image steering of the search, from what the classifier saw (built by ``captioner.labels.guide``).

    Images with constraints are decoded by constrained beam search; each image's captions are then ranked by their
    beam score plus the ``bonus`` of every constraint they meet, so a caption that names what the classifier is
    sure of wins unless the language model finds it much less likely.
    """

    constraints: torch.Tensor  # (N, V) long bit masks: bit c of [n, w] says word w meets constraint c of image n
    bonus: torch.Tensor  # (N, C) what meeting constraint c of image n adds to a caption's score
    bias: torch.Tensor | None = None  # (N, V) added to every step's log-probabilities (-inf: never say the word)

    def wanted(self) -> list[int]:
        """Per image, the bit mask of all its constraints."""
        masks = torch.zeros(self.constraints.size(0), dtype=torch.long)
        for c in range(self.bonus.size(1)):
            masks |= ((self.constraints >> c) & 1).any(1).long() << c
        return masks.tolist()

    def rows(self, index: torch.Tensor) -> Guidance:
        return Guidance(self.constraints[index], self.bonus[index], None if self.bias is None else self.bias[index])

    def ranked(self, n: int, hyps: list[Hypothesis], n_best: int) -> list[Hypothesis]:
        """Image ``n``'s hypotheses by score plus the bonus of the constraints each one meets, best first."""

        def key(h: Hypothesis) -> float:
            return h.score + sum(float(self.bonus[n, c]) for c in range(self.bonus.size(1)) if h.satisfied >> c & 1)

        return sorted(hyps, key=key, reverse=True)[:n_best]


def decode(
    decoder: AttentionDecoder,
    features: torch.Tensor,
    vocab: Vocabulary,
    options: DecodeOptions,
    return_attention: bool = False,
    guidance: Guidance | None = None,
) -> list[list[Caption]]:
    """The n-best captions of each image in ``features`` (N, P, D) or (N, D, H, W), best first."""
    out: list[list[Caption]] = []
    param = next(decoder.parameters())
    was_training = decoder.training
    decoder.eval()
    try:
        for i in range(0, features.size(0), options.batch_size):
            chunk = features[i : i + options.batch_size].to(param.device, param.dtype)
            g = guidance.rows(torch.arange(i, i + chunk.size(0))) if guidance is not None else None
            hyps = _search(decoder, chunk, vocab, options, return_attention, g)
            out.extend([Caption(vocab.decode(h.tokens), h.score, h) for h in image] for image in hyps)
    finally:
        decoder.train(was_training)
    return out


def _search(decoder, features, vocab, options, return_attention, guidance) -> list[list[Hypothesis]]:
    """One chunk: plain beam search for the images without constraints, constrained beam search for the others (its
    banks hold both the best captions that name a constraint and the best that do not; ``Guidance.ranked`` chooses).

    One constrained search, rather than a plain search and a constrained one for the images whose plain caption
    misses a constraint, decodes 22% faster and gives the same best caption for 94 of 96 photos (measured on crops
    of the examples)."""
    search = {
        "beam_size": options.beam_size,
        "max_length": options.max_length,
        "alpha": options.length_penalty or 0.0,
        "n_best": options.n_best,
        "banned": (vocab.pad, vocab.start, vocab.unk),
        "return_attention": return_attention,
        "min_length": options.min_length,
    }
    if guidance is None:
        return beam_search(decoder, features, vocab.start, vocab.end, **search)
    wanted = guidance.wanted()  # (b,) the constraint bits each image has
    results: list[list[Hypothesis]] = [[] for _ in wanted]
    for constrained in (False, True):
        group = [n for n, w in enumerate(wanted) if bool(w) == constrained]
        if not group:
            continue
        index = torch.tensor(group)
        g = guidance.rows(index)
        found = beam_search(
            decoder,
            features[index],
            vocab.start,
            vocab.end,
            **search,
            constraints=g.constraints if constrained else None,
            bias=g.bias,
        )
        for j, n in enumerate(group):
            results[n] = g.ranked(j, found[j], options.n_best) if constrained else found[j]
    return results
