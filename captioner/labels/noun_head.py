"""A second view of what a photo shows: the label nouns people name when they describe photos like it.

ImageNet's head judges the whole photo among a thousand fine classes, so the ball a dog chases or the bike under
its rider rarely tops it (at p >= 0.3 it names 13-42% of the Flickr8k photos whose captions mention them). The noun
head is one logistic layer per noun on the same pooled features, fitted to a model's own training captions: a photo
is a positive for a noun when one of its captions names it (the "visual concepts" of Fang et al. 2015; DCC's lexical
classifier, Hendricks et al. 2016). It covers the label-table nouns the training captions name often enough, fits
in seconds from cached features, and travels in the checkpoint's ``meta["noun_head"]``.

Legend: N photos, P grid positions, D channels, M nouns.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from captioner.labels.concepts import Concept
from captioner.labels.table import LabelClass, label_table
from captioner.labels.words import AMBIGUOUS, forms
from captioner.model.vocab import tokenize

MIN_IMAGES = 20  # a noun needs this many training photos whose captions name it (and as many that do not)
L2 = 1e-2  # weight penalty of the fit (standardised features), chosen on Flickr8k val (mean AP, F1 at 0.3)


@dataclass(frozen=True)
class NounHead:
    nouns: tuple[str, ...]
    weight: torch.Tensor  # (M, D), on raw pooled features
    bias: torch.Tensor  # (M,)
    fitted_on: str = ""

    @torch.inference_mode()
    def probabilities(self, features: torch.Tensor) -> torch.Tensor:
        """(N, P, D) grid features -> (N, M) probabilities that a caption of the photo names each noun."""
        pooled = features.mean(1, dtype=torch.float32).to(self.weight.device)  # (N, D)
        return torch.sigmoid(pooled @ self.weight.T + self.bias)  # (N, M)

    def to_meta(self) -> dict:
        return {
            "nouns": list(self.nouns),
            "weight": self.weight.half(),
            "bias": self.bias.float(),
            "fitted_on": self.fitted_on,
        }

    @classmethod
    def from_meta(cls, meta: dict | None) -> NounHead | None:
        if not meta or not torch.is_tensor(meta.get("weight")):
            return None
        return cls(tuple(meta["nouns"]), meta["weight"].float(), meta["bias"].float(), meta.get("fitted_on", ""))


@functools.cache
def _noun_classes() -> dict[str, tuple[LabelClass, ...]]:
    """Single-word object and scene nouns of the label table (people left out), with their classes."""
    out: dict[str, list[LabelClass]] = {}
    for c in label_table():
        if c.kind in ("object", "scene") and c.path[0] != "person" and " " not in c.noun and "-" not in c.noun:
            out.setdefault(c.noun, []).append(c)
    return {noun: tuple(classes) for noun, classes in out.items()}


# Words that name a label noun in one sense and mean something else in captions ("a man's bare chest", "the engine
# of a train" aside, "a coach" of a team), so a caption saying them is no evidence of the object.
_OTHER_SENSES = frozenset(
    """chest chests scale scales balance match matches spot spots trunk trunks coach coaches engine engines range
    ranges display screen store stores rig rigs amphibian mobile comic carriage diner diners dish""".split()
)


def noun_words(noun: str) -> frozenset[str]:
    """Every single word (and plural) naming ``noun`` unambiguously: its classes' nouns and synonyms."""
    return frozenset(forms(w for c in _noun_classes()[noun] for w in c.words)) - AMBIGUOUS - _OTHER_SENSES


def caption_targets(captions: list[list[str]], min_images: int = MIN_IMAGES) -> tuple[tuple[str, ...], torch.Tensor]:
    """The nouns named in the captions of at least ``min_images`` photos and not named in as many, and the (N, M) 0/1
    targets."""
    said = [{w for c in caps for w in tokenize(c)} for caps in captions]
    nouns, columns = [], []
    for noun in _noun_classes():
        words = noun_words(noun)
        if noun not in words:
            continue
        column = [bool(s & words) for s in said]
        if min_images <= sum(column) <= len(said) - min_images:
            nouns.append(noun)
            columns.append(column)
    return tuple(nouns), torch.tensor(columns, dtype=torch.float32).reshape(len(nouns), len(said)).T


def fit_noun_head(
    pooled: torch.Tensor, captions: list[list[str]], fitted_on: str = "", l2: float = L2, steps: int = 200
) -> NounHead | None:
    """Fit the head on (N, D) pooled features and each photo's captions; None if no noun is named often enough."""
    nouns, targets = caption_targets(captions)
    if not nouns:
        return None
    x = pooled.float()
    mean, scale = x.mean(0), x.std(0).clamp_min(1e-6)
    z = (x - mean) / scale  # (N, D)
    w = torch.zeros(len(nouns), z.size(1), requires_grad=True)  # (M, D)
    prior = targets.mean(0).clamp(1e-4, 1 - 1e-4)
    b = torch.log(prior / (1 - prior)).requires_grad_(True)  # (M,)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=steps, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z @ w.T + b, targets, reduction="sum") / len(z)
        loss = loss + l2 * (w * w).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    weight = (w / scale).detach()  # fold the standardisation in: z @ w.T = x @ (w / scale).T - mean @ ...
    bias = (b - (mean / scale) @ w.T).detach()
    return NounHead(nouns, weight, bias, fitted_on)


def noun_concept(noun: str, probability: float) -> Concept:
    """The concept a noun head names: its label-table noun, with the noun's first class standing for it."""
    classes = _noun_classes()[noun]
    top = classes[0]
    words = tuple(dict.fromkeys(w for c in classes for w in c.words))
    return Concept(noun, probability, top.noun_path, top.kind, words, top)
