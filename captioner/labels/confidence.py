"""How sure to be of a caption: a number in [0, 1] that is low when the caption is likely wrong.

Six signals, combined by a logistic model fitted on Flickr8k val (``scripts/calibrate_confidence.py``) to the
probability that a human would judge the caption right: Flickr8k's expert judgments (Hodosh et al. 2013) give
P(expert score >= 3, "describes the image, at most minor mistakes" | per-image CIDEr-D), and each validation
caption's CIDEr-D is mapped through it. So confidence 0.7 reads: of captions like this one, about 70% describe
their photo. On top, a caption that names an object the classifier rules out while missing the object it is sure
of ("a dog" where it sees broccoli) loses that certainty outright.

The signals: the caption's probability per word, the agreement of the beam's other captions, how sure the
classifier is of anything, how much of what it sees the caption names, the classifier's entropy, the length.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from captioner.labels.concepts import RULED_OUT, Concept
from captioner.labels.words import forms, visual_nouns
from captioner.model.decode import Caption
from captioner.model.vocab import tokenize

FEATURES = ("word_logprob", "consensus", "top_probability", "named_probability", "label_entropy", "length")


@dataclass(frozen=True)
class ConfidenceModel:
    """A logistic model over ``FEATURES`` (standardised), as stored in a checkpoint's ``meta["confidence"]``."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    fitted_on: str = ""

    def probability(self, x: list[float]) -> float:
        z = self.bias + sum(w * (v - m) / s for w, v, m, s in zip(self.weights, x, self.mean, self.scale))
        return 1.0 / (1.0 + math.exp(-z))

    def to_meta(self) -> dict:
        return {"features": list(FEATURES), **asdict(self)}

    @classmethod
    def from_meta(cls, meta: dict | None) -> ConfidenceModel:
        """The model a checkpoint stores, else the one fitted for the shipped model."""
        if not meta or tuple(meta.get("features", ())) != FEATURES:
            return SHIPPED
        return cls(
            tuple(meta["mean"]),
            tuple(meta["scale"]),
            tuple(meta["weights"]),
            float(meta["bias"]),
            meta.get("fitted_on", ""),
        )


# Fitted on the shipped model's guided captions of Flickr8k val (scripts/calibrate_confidence.py); the model a
# checkpoint without its own calibration uses.
SHIPPED = ConfidenceModel(
    (-0.7401, 0.706, 0.4496, 0.2863, 3.3331, 9.397),
    (0.2541, 0.1424, 0.2817, 0.35, 1.4042, 1.8866),
    (0.4074, 0.0959, -0.0516, 0.2303, -0.1055, -0.1718),
    -0.454,
    "default.pt, Flickr8k val",
)


def features(captions: list[Caption], image_concepts: list[Concept], probs: torch.Tensor) -> list[float]:
    """The ``FEATURES`` of a photo's best caption (``captions[0]``), given its n-best and the classifier's view."""
    best = captions[0]
    h = best.hypothesis
    words = set(tokenize(best.text))
    others = [set(tokenize(c.text)) for c in captions[1:]]
    consensus = sum(len(words & o) / max(len(words | o), 1) for o in others) / len(others) if others else 1.0
    named = sum(c.probability for c in image_concepts if words & set(forms(c.agreeing)))
    entropy = float(-(probs * probs.clamp_min(1e-12).log()).sum())
    top = image_concepts[0].probability if image_concepts else 0.0
    return [h.logprob / (len(h.tokens) + h.finished), consensus, top, named, entropy, float(len(h.tokens))]


def contradiction(text: str, image_concepts: list[Concept], sure: float = 0.5) -> float:
    """The probability of the object the classifier is sure of, when the caption misses it and instead names an
    object the classifier rules out ("a dog" for a photo of broccoli); else 0."""
    objects = [c for c in image_concepts if c.kind == "object"]
    if not objects or objects[0].probability < sure:
        return 0.0
    words = set(tokenize(text))
    if words & set(forms(objects[0].agreeing)):
        return 0.0
    seen = {w for c in image_concepts if c.probability >= RULED_OUT for w in forms(c.agreeing)}
    named_objects = (words & visual_nouns()) - seen
    return objects[0].probability if named_objects else 0.0


def confidence(
    captions: list[Caption], image_concepts: list[Concept], probs: torch.Tensor, model: ConfidenceModel = SHIPPED
) -> float:
    """Confidence in [0, 1] that ``captions[0]`` describes the photo."""
    if not captions:
        return 0.0
    p = model.probability(features(captions, image_concepts, probs))
    return p * (1.0 - contradiction(captions[0].text, image_concepts))


def label_precision(probability: float) -> float:
    """How often people describing a photo name a concept the classifier gives ``probability``: measured on
    Flickr8k val with the shipped model's head (concepts at least 0.3 probable: 66% named, 0.5: 80%, 0.7: 87%,
    0.9: 89%), as a conservative line through those points."""
    return max(0.0, min(0.9, 0.45 + 0.5 * (probability - 0.3)))
