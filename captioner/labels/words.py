"""Caption words for label nouns: plurals, and stand-ins for nouns a model's vocabulary lacks.

A model trained on Flickr8k knows "horse" but not "zebra". Such a novel noun is added to the model as a copy of a
known word that plays the same role in a sentence (DCC-style transfer, Hendricks et al. 2016): the table's proxy
when the model knows it, else the most frequent known noun of the closest category.
"""

from __future__ import annotations

from collections.abc import Iterable

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


def novel_nouns(vocab: Vocabulary, kinds: tuple[str, ...] = ("object", "scene")) -> dict[str, str]:
    """Every single-word label noun (and its plural) that ``vocab`` lacks, mapped to the known word it starts as.

    The stand-in is the first candidate the vocabulary knows, most frequent first within a category (a vocabulary
    built by ``Vocabulary.build`` is ordered by frequency). Nouns without any known stand-in are left out.
    """
    table = label_table()
    out: dict[str, str] = {}
    for cls in table:
        noun = cls.noun
        if cls.kind not in kinds or noun in vocab.index or noun in out or " " in noun or "-" in noun:
            continue
        known = [w for w in dict.fromkeys(_candidates(cls, table)) if w in vocab.index]
        if cls.proxy and cls.proxy in vocab.index:
            proxy = cls.proxy
        elif known:
            proxy = min(known, key=lambda w: vocab.index[w])
        else:
            continue
        out[noun] = proxy
        many, proxies = plural(noun), plural(proxy)
        if many not in vocab.index and proxies in vocab.index:
            out[many] = proxies
    return out


def with_novel_nouns(ckpt, kinds: tuple[str, ...] = ("object", "scene")):
    """``ckpt`` extended with the label nouns it lacks, each starting as its stand-in; and the {noun: stand-in} map.

    The known words keep their rows, and guided decoding bans every added noun unless the photo's classifier names
    it, so the extended model captions everything else exactly as before.
    """
    from captioner.model.vocab_extension import extend_vocabulary

    novel = novel_nouns(ckpt.vocab, kinds)
    extended, added = extend_vocabulary(ckpt, list(novel), novel)
    return extended, {w: novel[w] for w in added}
