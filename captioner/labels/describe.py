"""Features to descriptions: the classifier's labels and concepts, guided captions, and their confidence.

The one place that puts the ImageNet head, guided decoding and confidence together, used by ``caption``, ``score``
and ``explain`` alike. The model is extended with the label nouns it lacks (``labels.words``), which guided
decoding allows only where the classifier names them, so without guidance it captions exactly as before.

Legend: N photos, P grid positions, D channels, C classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from captioner.labels.concepts import Concept, Label, concepts, joined, top_labels
from captioner.labels.confidence import ConfidenceModel, confidence, contradiction, label_precision
from captioner.labels.guide import DEFAULT_GUIDE, GuideOptions, build_guidance
from captioner.labels.noun_head import NounHead, noun_concept
from captioner.labels.words import forms, noun_phrase, with_novel_nouns
from captioner.model.beam import Hypothesis
from captioner.model.caption_model import CaptionModel
from captioner.model.checkpoint import Checkpoint, build_model
from captioner.model.decode import Caption, DecodeOptions, decode
from captioner.model.vocab import Vocabulary, tokenize


@dataclass
class Description:
    """One photo: its n-best captions, what the classifier saw, and how sure to be of the first caption."""

    captions: list[Caption]
    labels: list[Label]  # the top classes, named
    concepts: list[Concept]  # the classes pooled by caption noun
    confidence: float
    probs: torch.Tensor = field(repr=False)  # (C,) class probabilities
    from_labels: bool = False  # the first caption is the label itself (the model's captions follow it)


LABEL_CAPTION_BELOW = 0.2  # a caption less confident than this that misses a sure object gives way to the label


def label_caption(description: Description, sure: float) -> Description | None:
    """The description with the label as its caption ("a cat"), when the model's caption misses an object the
    classifier is at least ``sure`` of and either contradicts it or is unsure itself; else None.

    Its confidence is the label's: the probability that a concept that probable is named by people describing the
    photo (``label_precision``).
    """
    objects = [c for c in description.concepts if c.kind == "object"]
    if not objects or objects[0].probability < sure or not description.captions:
        return None
    top, text = objects[0], description.captions[0].text
    if set(tokenize(text)) & set(forms(top.agreeing)):
        return None
    if contradiction(text, description.concepts, sure) == 0.0 and description.confidence >= LABEL_CAPTION_BELOW:
        return None
    phrase = noun_phrase(top.noun)
    caption = Caption(phrase, 0.0, Hypothesis([], 0.0, 0.0, True))
    return replace(
        description,
        captions=[caption, *description.captions],
        confidence=label_precision(top.probability),
        from_labels=True,
    )


class Describer:
    """A checkpoint's model, ready to turn encoder features into descriptions."""

    def __init__(self, ckpt: Checkpoint, guide: GuideOptions | None = DEFAULT_GUIDE, with_encoder: bool = True):
        """``guide`` None captions without guidance (the model exactly as trained)."""
        self.guide = guide
        self.novel: dict[str, str] = {}
        self.model: CaptionModel = build_model(ckpt, with_encoder=with_encoder)
        if guide is not None and guide.novel_words:
            encoder = self.model.encoder
            heads = [m for m in encoder.head.modules() if isinstance(m, torch.nn.Linear)] if encoder else []
            ckpt, self.novel = with_novel_nouns(ckpt, vectors=heads[-1].weight.detach() if heads else None)
            self.model.decoder = build_model(ckpt, with_encoder=False).decoder
        self.vocab: Vocabulary = ckpt.vocab
        self.confidence_model = ConfidenceModel.from_meta(ckpt.meta.get("confidence"))
        self.noun_head: NounHead | None = NounHead.from_meta(ckpt.meta.get("noun_head"))

    @torch.inference_mode()
    def class_probabilities(self, features: torch.Tensor) -> torch.Tensor:
        """(N, P, D) features -> (N, C) ImageNet probabilities, from the encoder's head on the same features."""
        head = self.model.encoder
        return torch.cat([head.forward_head(features[i : i + 256]).softmax(-1) for i in range(0, len(features), 256)])

    @torch.inference_mode()
    def window_probabilities(self, features: torch.Tensor, window: int) -> torch.Tensor:
        """(N, P, D) features -> (N, C): per class, its probability in the grid window where it is surest (the
        ImageNet head on the mean features of every ``window`` x ``window`` window of the grid)."""
        H, W = self.model.encoder.spec.grid
        out = []
        for i in range(0, len(features), 64):
            f = features[i : i + 64].float()
            grid = f.view(f.size(0), H, W, -1).permute(0, 3, 1, 2)  # (n, D, H, W)
            pooled = torch.nn.functional.avg_pool2d(grid, min(window, H, W), stride=1)  # (n, D, h, w)
            logits = self.model.encoder.head(pooled.flatten(2).transpose(1, 2))  # (n, R, C)
            out.append(logits.softmax(-1).max(1).values)
        return torch.cat(out)

    def head_concepts(self, features: torch.Tensor, floor: float = 0.01) -> list[list[Concept]]:
        """Per photo, the noun head's concepts at least ``floor`` probable (none without a head)."""
        if self.noun_head is None:
            return [[] for _ in range(len(features))]
        q = self.noun_head.probabilities(features).cpu()  # (N, M)
        nouns = self.noun_head.nouns
        return [
            [noun_concept(nouns[j], float(row[j])) for j in torch.nonzero(row >= floor).flatten().tolist()] for row in q
        ]

    def describe(
        self, features: torch.Tensor, options: DecodeOptions, return_attention: bool = False
    ) -> list[Description]:
        """Descriptions of N photos from their (N, P, D) features; ``options.n_best`` captions each (at least 2 are
        decoded, for the confidence), after the label caption when there is one."""
        probs = self.class_probabilities(features).cpu()  # (N, C)
        guidance = None
        if self.guide is not None:
            seen = probs
            if self.guide.window:  # small objects: the head on each window of the grid, the surest window per class
                seen = torch.maximum(probs, self.window_probabilities(features, self.guide.window).cpu())
            found = [concepts(p) for p in seen]
            if self.noun_head is not None:
                found = [joined(f, e) for f, e in zip(found, self.head_concepts(features))]
            guidance = build_guidance(found, self.vocab, self.guide, self.novel)
        wide = DecodeOptions(**{**options.__dict__, "n_best": max(options.n_best, min(2, options.beam_size))})
        captions = decode(self.model.decoder, features, self.vocab, wide, return_attention, guidance)
        out = []
        for caps, p in zip(captions, probs):
            found = concepts(p)
            sure = confidence(caps, found, p, self.confidence_model)
            d = Description(caps, top_labels(p), found, sure, p)
            if self.guide is not None and self.guide.label_captions:
                d = label_caption(d, self.guide.sure) or d
            out.append(replace(d, captions=d.captions[: options.n_best + d.from_labels]))
        return out
