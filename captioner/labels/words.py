"""Caption words for label nouns: plurals, and stand-ins for nouns a model's vocabulary lacks.

A model trained on Flickr8k knows "horse" but not "zebra". Such a novel noun is added to the model as a copy of a
known word that plays the same role in a sentence (DCC-style transfer, Hendricks et al. 2016): the table's proxy
when the model knows it, else the most frequent known noun of the closest category.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import torch

from captioner.labels.table import LabelClass, label_table
from captioner.model.vocab import Vocabulary

_IRREGULAR = {
    "man": "men",
    "woman": "women",
    "child": "children",
    "person": "people",
    "foot": "feet",
    "mouse": "mice",
    "goose": "geese",
    "sheep": "sheep",
    "fish": "fish",
    "deer": "deer",
    "ox": "oxen",
    "knife": "knives",
    "leaf": "leaves",
    "wolf": "wolves",
    "shelf": "shelves",
    "calf": "calves",
    "loaf": "loaves",
    "bison": "bison",
    "moose": "moose",
    "salmon": "salmon",
    "scissors": "scissors",
}


def plural(noun: str) -> str:
    """English plural of a simple noun: dog -> dogs, bus -> buses, puppy -> puppies, wolf -> wolves."""
    if noun in _IRREGULAR:
        return _IRREGULAR[noun]
    if noun.endswith(("fish", "sheep", "deer")):
        return noun
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and len(noun) > 2 and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def forms(words: Iterable[str]) -> list[str]:
    """Each single word and its plural, in order, without repeats (two-word nouns are left out)."""
    out: dict[str, None] = {}
    for w in words:
        if " " not in w and "-" not in w:
            out[w] = None
            out[plural(w)] = None
    return list(out)


def _candidates(cls: LabelClass, table: tuple[LabelClass, ...]) -> list[str]:
    """Stand-in candidates for a class's noun: its proxy, then nouns of classes sharing ever shorter path prefixes."""
    out = [cls.proxy] if cls.proxy else []
    path = cls.noun_path[:-1]
    for depth in range(len(path), 0, -1):
        out.extend(c.noun for c in table if c.noun_path[:depth] == path[:depth] and c.noun != cls.noun)
    return out


WELL_KNOWN = 1500  # vocabulary ids below this are words seen often enough in training to stand in for others


def _nearest_known(noun: str, vocab: Vocabulary, unit: torch.Tensor, kinds: tuple[str, ...]) -> str | None:
    """The known label noun of the same top category (animal, vehicle, food ...) whose classes the ImageNet head sees
    as most like ``noun``'s: the cosine between the mean head rows (``unit``, (C, D), each row of unit length) of the
    two nouns' classes.
    Only words among the vocabulary's ``WELL_KNOWN`` most frequent qualify: their rows are well trained."""
    table = label_table()
    top = next(c.path[0] for c in table if c.noun == noun)
    rows: dict[str, list[int]] = {}
    for c in table:
        known = c.noun in vocab.index and vocab.index[c.noun] < WELL_KNOWN
        if c.kind in kinds and c.path[0] == top and " " not in c.noun and (c.noun == noun or known):
            rows.setdefault(c.noun, []).append(c.index)
    if noun not in rows or len(rows) < 2:
        return None
    names = [w for w in rows if w != noun]
    means = torch.stack([torch.nn.functional.normalize(unit[rows[w]].mean(0), dim=0) for w in names])  # (W, D)
    target = torch.nn.functional.normalize(unit[rows[noun]].mean(0), dim=0)  # (D,)
    return names[int((means @ target).argmax())]


def novel_nouns(
    vocab: Vocabulary, kinds: tuple[str, ...] = ("object", "scene"), vectors: torch.Tensor | None = None
) -> dict[str, str]:
    """Every single-word label noun (and its plural) that ``vocab`` lacks, mapped to the known word it starts as.

    The stand-in is the table's hand-picked proxy when the vocabulary knows it well (zebra -> horse); else, with
    ``vectors`` (the ImageNet head's (C, D) class rows), the known label noun the head finds most alike
    (``_nearest_known``: bicycle -> unicycle, car -> truck); else the most frequent known noun of the closest
    category (a vocabulary built by ``Vocabulary.build`` is ordered by frequency).
    Nouns without any known stand-in are left out.
    """
    table = label_table()
    unit = torch.nn.functional.normalize(vectors.float(), dim=1) if vectors is not None else None  # (C, D)
    out: dict[str, str] = {}
    for cls in table:
        noun = cls.noun
        if cls.kind not in kinds or noun in vocab.index or noun in out or " " in noun or "-" in noun:
            continue
        if cls.proxy and cls.proxy in vocab.index and vocab.index[cls.proxy] < WELL_KNOWN:
            proxy = cls.proxy
        else:
            proxy = _nearest_known(noun, vocab, unit, kinds) if unit is not None else None
        if proxy is None:
            known = [w for w in dict.fromkeys(_candidates(cls, table)) if w in vocab.index]
            if not known:
                continue
            proxy = min(known, key=lambda w: vocab.index[w])
        out[noun] = proxy
        many, proxies = plural(noun), plural(proxy)
        if many not in vocab.index and proxies in vocab.index:
            out[many] = proxies
    return out


def with_novel_nouns(ckpt, kinds: tuple[str, ...] = ("object", "scene"), vectors: torch.Tensor | None = None):
    """``ckpt`` extended with the label nouns it lacks, each starting as its stand-in; and the {noun: stand-in} map.

    The known words keep their rows, and guided decoding bans every added noun unless the photo's classifier names
    it, so the extended model captions everything else exactly as before.
    """
    from captioner.model.vocab_extension import extend_vocabulary

    novel = novel_nouns(ckpt.vocab, kinds, vectors)
    extended, added = extend_vocabulary(ckpt, list(novel), novel)
    return extended, {w: novel[w] for w in added}


# Object nouns that are also everyday words in another sense ("orange" the colour, "swing" the verb, a tennis
# "player"), so a caption saying them is no evidence of an object the classifier rules out.
AMBIGUOUS = frozenset(
    """orange fly flies player players trunks tank tanks bar bars sign signs swing swings ski skis top tops lighter
    iron can cans pick seal seals crane cranes mouse cricket bow bows bat bats ram rams jersey boxer racer pitcher
    band drum stage court goal net nets block blocks board boards stick sticks""".split()
)


@functools.cache
def visual_nouns() -> frozenset[str]:
    """Words naming objects the classifier can see (people it cannot: its three person classes are left out)."""
    table = label_table()
    return (
        frozenset(w for c in table if c.kind == "object" and c.path[0] != "person" for w in forms(c.words)) - AMBIGUOUS
    )


MASS_NOUNS = frozenset(
    "broccoli cauliflower corn guacamole hay ice cream meatloaf pasta soup bread dough chocolate rapeseed".split()
) | {"ice cream"}
_CUPS = {"coffee": "cup", "eggnog": "glass", "beer": "glass", "wine": "glass"}


def noun_phrase(noun: str) -> str:
    """The noun as a caption would say it on its own: a cat, an elephant, broccoli, a cup of coffee."""
    if noun in _CUPS:
        return f"a {_CUPS[noun]} of {noun}"
    if noun in MASS_NOUNS:
        return noun
    return ("an " if _vowel_sound(noun) else "a ") + noun


def _vowel_sound(word: str) -> bool:
    """Whether a word starts with a vowel sound: an apple, an hour, but a unicycle, a European."""
    if word.startswith(("hour", "honest", "honor", "heir")):
        return True
    return word[0] in "aeiou" and not word.startswith(("uni", "use", "usu", "uti", "eu", "one", "ewe", "ukulele"))
