"""Guided decoding: what the classifier is sure of steers the caption.

For each photo, the concepts at least ``threshold`` probable (objects by default) become constraints of a
constrained beam search: each is met by its noun, a synonym, or their plurals. The captions that meet them compete
with those that do not, a caption gaining ``bonus`` times the concept's probability for each one it meets, so the
classifier decides only when the language model finds the mention plausible enough.

Nouns the model never learned (``labels.words.novel_nouns``, added to the model as copies of a stand-in word) may be
said only by photos whose classifier names them, and there they take the stand-in's place.

Legend: N images, C classes, V vocabulary, K constraints per image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from captioner.labels.concepts import RULED_OUT, Concept
from captioner.labels.words import forms, visual_nouns
from captioner.model.decode import Guidance
from captioner.model.vocab import Vocabulary


@dataclass(frozen=True)
class GuideOptions:
    threshold: float = 0.3  # a concept at least this probable steers the caption
    bonus: float = 2.0  # a caption naming a concept of probability p gains bonus * p in score
    max_constraints: int = 1  # concepts per photo (each doubles the beams of that photo)
    kinds: tuple[str, ...] = ("object",)  # which kinds of classes steer (object, scene, detail)
    veto: float = 2.0  # log-probability taken from words naming objects the classifier rules out (0: none)
    label_captions: bool = True  # a caption that misses or contradicts a sure object is replaced by the label
    sure: float = 0.5  # how probable an object must be for its label to replace a caption that misses it
    novel_words: bool = True  # add the label nouns the model lacks (each a copy of a stand-in word)
    window: int = 0  # also look for objects in every window of this many grid cells a side (0: the whole photo)


DEFAULT_GUIDE = GuideOptions()


def guiding_concepts(image_concepts: list[Concept], options: GuideOptions) -> list[Concept]:
    """The concepts of one photo that steer its caption."""
    chosen = [c for c in image_concepts if c.probability >= options.threshold and c.kind in options.kinds]
    return chosen[: options.max_constraints]


def build_guidance(
    photo_concepts: list[list[Concept]], vocab: Vocabulary, options: GuideOptions, novel: dict[str, str] | None = None
) -> Guidance:
    """Constraints, bonuses and word bans for N photos from the concepts each shows (``labels.concepts``), most
    probable first.

    ``novel`` maps the model's added nouns to their stand-ins (see ``captioner.labels.words``).
    """
    novel = novel or {}
    N, V, K = len(photo_concepts), len(vocab), max(options.max_constraints, 1)
    bits = torch.zeros(N, V, dtype=torch.long)
    bonus = torch.zeros(N, K)
    bias = torch.zeros(N, V)
    novel_ids = [vocab.index[w] for w in novel if w in vocab.index]
    if novel_ids:
        bias[:, novel_ids] = -torch.inf  # never said unless the photo's classifier names them
    visual = [(w, vocab.index[w]) for w in visual_nouns() if w in vocab.index]
    for n, found in enumerate(photo_concepts):
        sure = {w for c in found if c.probability >= options.threshold for w in forms(c.words)}
        if options.veto and guiding_concepts(found, options):  # sure of an object: do not name ones it rules out
            seen = {w for c in found if c.probability >= RULED_OUT for w in forms(c.agreeing)}
            ruled_out = [i for w, i in visual if w not in seen]
            bias[n, ruled_out] -= options.veto
        for k, concept in enumerate(guiding_concepts(found, options)):
            ids = [vocab.index[w] for w in forms((*concept.words, *concept.broader)) if w in vocab.index]
            for w in forms((*concept.words, *concept.broader)):
                if w in novel and w in vocab.index:
                    bias[n, vocab.index[w]] = 0.0
                    stand_in = novel[w]
                    if stand_in not in sure:  # the new word takes its stand-in's place
                        bias[n, vocab.index[stand_in]] = -torch.inf
            if ids:
                bits[n, ids] |= 1 << k
                bonus[n, k] = options.bonus * concept.probability
    return Guidance(bits, bonus, bias if novel_ids or options.veto else None)
