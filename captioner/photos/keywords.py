"""Keywords for asset libraries: what the classifier is sure of, and the content words of confident captions."""

from __future__ import annotations

import math
from collections.abc import Sequence

from captioner.labels.describe import Description
from captioner.model.vocab import tokenize

# Function words and vague fillers that make poor keywords (our own list).
STOP_WORDS = frozenset(
    """
a an the and or but of in on at to from by with without into onto over under near through across along around
behind beside between above below up down out off about against during for as while than then there here this that
these those it its it's is are was were be been being am has have had do does did doing can could will would
some any each every other another one two three four five several many much more most few lot lots
his her their them they he she him its our we you your my me i
who whom which what where when why how very just also too not no yes
front side top bottom middle background foreground next together back away
something someone thing things stuff while is are
""".split()
)

_IRREGULAR = {
    "men": "man",
    "women": "woman",
    "children": "child",
    "people": "person",
    "feet": "foot",
    "teeth": "tooth",
    "mice": "mouse",
    "geese": "goose",
    "oxen": "ox",
    "dice": "die",
    "sheep": "sheep",
    "fish": "fish",
    "deer": "deer",
    "knives": "knife",
    "leaves": "leaf",
    "wolves": "wolf",
    "shelves": "shelf",
    "calves": "calf",
    "halves": "half",
    "loaves": "loaf",
    "lives": "life",
    "wives": "wife",
    "scarves": "scarf",
}
_NO_FOLD_ENDINGS = ("ss", "us", "is", "ous", "'s")


def singular(word: str) -> str:
    """Fold simple English plurals: dogs -> dog, puppies -> puppy, boxes -> box, children -> child."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or not word.endswith("s") or word.endswith(_NO_FOLD_ENDINGS):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "zes", "sses", "oes")):
        return word[:-2]
    return word[:-1]


def keywords(captions: Sequence[tuple[str, float]], limit: int = 8) -> list[str]:
    """Ranked keywords from (caption, score) pairs; a word's weight is the summed softmax weight of its captions.

    Scores are log-probabilities (or length-normalised ones): better captions vote more. Ties keep first-seen order.
    """
    if not captions or limit <= 0:
        return []
    top = max(s for _, s in captions)
    weights = [math.exp(s - top) for _, s in captions]
    norm = sum(weights)
    votes: dict[str, float] = {}
    for (text, _), w in zip(captions, weights):
        seen = set()
        for word in tokenize(text):
            if word in STOP_WORDS or word.isdigit() or len(word) < 2:
                continue
            word = singular(word)
            if word in seen or word in STOP_WORDS:
                continue
            seen.add(word)
            votes[word] = votes.get(word, 0.0) + w / norm
    ranked = sorted(votes.items(), key=lambda kv: -kv[1])  # stable: ties keep first-seen order
    return [w for w, _ in ranked[:limit]]


CAPTION_KEYWORDS_CONFIDENCE = 0.4  # a caption this sure lends its best words to the keywords
CAPTION_KEYWORDS = 4  # how many of its words at most
AGREEMENT = 0.05  # an object the caption names and the classifier gives at least this is a keyword too


def photo_keywords(
    description: Description, limit: int = 8, label_threshold: float = 0.3
) -> tuple[list[str], list[str]]:
    """A photo's keywords and category paths: what the classifier is sure of, what it and the caption agree on, and
    a confident caption's words.

    Flat keywords, ``limit`` in all: the caption noun of every concept at least ``label_threshold`` probable
    (objects and scenes; worn things and parts are left to the caption); the noun of every concept the caption names
    that the classifier gives at least ``AGREEMENT``; and, when the caption's confidence is at least
    ``CAPTION_KEYWORDS_CONFIDENCE``, its ``CAPTION_KEYWORDS`` best words. On Flickr8k val this keeps 62% of keywords
    right (named by a reference) and names 48% of the photos' ImageNet-visible objects
    (``scripts/evaluate_open_world.py``). Category paths: each concept's path ("animal/mammal/cat"), with its
    class's own name below when that class alone passes the threshold ("animal/mammal/cat/Egyptian Mau").
    """
    if limit <= 0:
        return [], []
    sure = [c for c in description.concepts if c.probability >= label_threshold and c.kind != "detail"]
    flat = [c.noun for c in sure]
    if not description.from_labels:
        said = {singular(w) for w in tokenize(description.captions[0].text)}
        agreed = [
            c for c in description.concepts if c.probability >= AGREEMENT and said & set(map(singular, c.agreeing))
        ]
        flat += [c.noun for c in agreed]
        sure += [c for c in agreed if c not in sure]
        if description.confidence >= CAPTION_KEYWORDS_CONFIDENCE:
            flat += keywords([(c.text, c.hypothesis.logprob) for c in description.captions], CAPTION_KEYWORDS)
    paths = []
    for c in sure:
        path = "/".join(c.path)
        top_alone = float(description.probs[c.top.index]) >= label_threshold
        paths.append(f"{path}/{c.top.name}" if top_alone and c.top.name != c.noun else path)
    return list(dict.fromkeys(flat))[:limit], list(dict.fromkeys(paths))
