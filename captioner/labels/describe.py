"""Features to descriptions: the classifier's labels and concepts, guided captions, and their confidence.

The one place that puts the ImageNet head, guided decoding and confidence together, used by ``caption``, ``score``
and ``explain`` alike. The model is extended with the label nouns it lacks (``labels.words``), which guided
decoding allows only where the classifier names them, so without guidance it captions exactly as before.

Legend: N photos, P grid positions, D channels, C classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from captioner.labels.concepts import Concept, Label, concepts, top_labels
from captioner.labels.confidence import ConfidenceModel, confidence
from captioner.labels.guide import DEFAULT_GUIDE, GuideOptions, build_guidance
from captioner.labels.words import with_novel_nouns
from captioner.model.caption_model import CaptionModel
from captioner.model.checkpoint import Checkpoint, build_model
from captioner.model.decode import Caption, DecodeOptions, decode
from captioner.model.vocab import Vocabulary


@dataclass
class Description:
    """One photo: its n-best captions, what the classifier saw, and how sure to be of the first caption."""

    captions: list[Caption]
    labels: list[Label]  # the top classes, named
    concepts: list[Concept]  # the classes pooled by caption noun
    confidence: float
    probs: torch.Tensor = field(repr=False)  # (C,) class probabilities


class Describer:
    """A checkpoint's model, ready to turn encoder features into descriptions."""

    def __init__(self, ckpt: Checkpoint, guide: GuideOptions | None = DEFAULT_GUIDE, with_encoder: bool = True):
        """``guide`` None captions without guidance (the model exactly as trained)."""
        self.guide = guide
        self.novel: dict[str, str] = {}
        if guide is not None:
            ckpt, self.novel = with_novel_nouns(ckpt)
        self.model: CaptionModel = build_model(ckpt, with_encoder=with_encoder)
        self.vocab: Vocabulary = ckpt.vocab
        self.confidence_model = ConfidenceModel.from_meta(ckpt.meta.get("confidence"))

    @torch.inference_mode()
    def class_probabilities(self, features: torch.Tensor) -> torch.Tensor:
        """(N, P, D) features -> (N, C) ImageNet probabilities, from the encoder's head on the same features."""
        head = self.model.encoder
        return torch.cat([head.forward_head(features[i : i + 256]).softmax(-1) for i in range(0, len(features), 256)])

    def describe(
        self, features: torch.Tensor, options: DecodeOptions, return_attention: bool = False
    ) -> list[Description]:
        """Descriptions of N photos from their (N, P, D) features; ``options.n_best`` captions each (at least 2 are
        decoded, for the confidence)."""
        probs = self.class_probabilities(features).cpu()  # (N, C)
        guidance = build_guidance(probs, self.vocab, self.guide, self.novel) if self.guide is not None else None
        wide = DecodeOptions(**{**options.__dict__, "n_best": max(options.n_best, min(2, options.beam_size))})
        captions = decode(self.model.decoder, features, self.vocab, wide, return_attention, guidance)
        out = []
        for caps, p in zip(captions, probs):
            found = concepts(p)
            sure = confidence(caps, found, p, self.confidence_model)
            out.append(Description(caps[: options.n_best], top_labels(p), found, sure, p))
        return out
