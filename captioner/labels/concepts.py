"""From ImageNet probabilities to labels (the top classes, named) and concepts (classes pooled by caption noun).

ImageNet spreads a cat over tabby, tiger cat and Egyptian Mau; a photographer and a caption just say "cat". A
concept sums the probabilities of the classes that share a noun, so three 30% cat classes make one 90% cat.

Legend: N images, C classes (1000).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import torch

from captioner.labels.table import LabelClass, label_table

RULED_OUT = 0.02  # a concept the classifier gives less than this is not in the photo, as far as it can tell


@dataclass(frozen=True)
class Label:
    """One ImageNet class as a record shows it."""

    name: str  # "Egyptian Mau"
    probability: float
    path: str  # "animal/mammal/cat/Egyptian Mau"

    def to_json(self) -> dict:
        return {"name": self.name, "probability": round(self.probability, 4), "path": self.path}


@dataclass(frozen=True)
class Concept:
    """What the photo shows, in a caption's word: the classes sharing a noun, their probabilities summed."""

    noun: str  # "cat"
    probability: float
    path: tuple[str, ...]  # category path down to the noun: ("animal", "mammal", "cat")
    kind: str  # the kind of its most probable class: object, scene or detail
    words: tuple[str, ...]  # the noun and every synonym of its classes
    top: LabelClass  # its most probable class
    broader: tuple[str, ...] = ()  # broader nouns of its path that are label nouns themselves: canoe -> boat

    @property
    def agreeing(self) -> tuple[str, ...]:
        """Every word that names it, exactly or more broadly: its words, the nouns above it, its categories."""
        return (*self.words, *self.broader, *(p.lower() for p in self.path[:-1]))


@functools.cache
def _label_nouns() -> frozenset[str]:
    return frozenset(c.noun for c in label_table())


def top_labels(probs: torch.Tensor, k: int = 5, floor: float = 0.02) -> list[Label]:
    """The ``k`` most probable classes of one image's (C,) probabilities, those at least ``floor``."""
    table = label_table()
    values, index = probs.float().topk(k)
    return [
        Label(table[i].name, float(p), "/".join(table[i].path))
        for p, i in zip(values.tolist(), index.tolist())
        if p >= floor
    ]


def concepts(probs: torch.Tensor, floor: float = 0.01) -> list[Concept]:
    """One image's (C,) probabilities pooled by noun, most probable first; classes under ``floor`` are ignored."""
    table = label_table()
    pooled: dict[str, list[tuple[float, LabelClass]]] = {}
    for i in torch.nonzero(probs >= floor).flatten().tolist():
        pooled.setdefault(table[i].noun, []).append((float(probs[i]), table[i]))
    out = []
    for noun, members in pooled.items():
        members.sort(key=lambda m: -m[0])
        top = members[0][1]
        words = tuple(dict.fromkeys(w for _, c in members for w in c.words))
        broader = tuple(p for p in top.noun_path[1:-1] if p in _label_nouns())
        out.append(Concept(noun, sum(p for p, _ in members), top.noun_path, top.kind, words, top, broader))
    return sorted(out, key=lambda c: -c.probability)


def joined(found: list[Concept], extra: list[Concept], sure: float = 0.5) -> list[Concept]:
    """``found`` (ImageNet's concepts) joined by concepts from another view of the photo: a noun both name keeps
    ImageNet's classes and takes the higher probability; most probable first.

    Where ImageNet is at least ``sure`` of an object, a noun it rules out stays out whatever the other view says:
    ImageNet knows a cat from a dog on any photo, a view fitted to a few thousand captioned photos may not.
    """
    by_noun = {c.noun: c for c in found}
    objects = [c for c in found if c.kind == "object"]
    trusted = bool(objects) and objects[0].probability >= sure
    for c in extra:
        mine = by_noun.get(c.noun)
        if mine is None:
            if not trusted:
                by_noun[c.noun] = c
        elif c.probability > mine.probability and (mine.probability >= RULED_OUT or not trusted):
            by_noun[c.noun] = replace(mine, probability=c.probability)
    return sorted(by_noun.values(), key=lambda c: -c.probability)
