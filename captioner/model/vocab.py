"""Tokenizer and vocabulary: lowercase words, punctuation dropped, no NLTK data packages."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from captioner.errors import CaptionerError

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIALS = (PAD, START, END, UNK)
PAD_ID, START_ID, END_ID, UNK_ID = range(len(SPECIALS))  # the same ids in every vocabulary

# A word is a run of letters/digits (any script), optionally joined by apostrophes ("dog's", "isn't").
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def tokenize(text: str) -> list[str]:
    """Split a caption into lowercase words; punctuation and underscores are dropped.

    ``"A dog's ball, on the GRASS ."`` becomes ``a / dog's / ball / on / the / grass``.
    """
    return _WORD.findall(text.lower().replace("\u2019", "'"))


class Vocabulary:
    """Maps words to ids. Ids 0-3 are always ``<pad> <start> <end> <unk>``."""

    def __init__(self, words: Sequence[str]):
        words = list(words)
        if tuple(words[: len(SPECIALS)]) != SPECIALS:
            raise CaptionerError(f"vocabulary must start with {' '.join(SPECIALS)}")
        if len(set(words)) != len(words):
            raise CaptionerError("vocabulary has duplicate words")
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}
        self.pad, self.start, self.end, self.unk = range(len(SPECIALS))

    @classmethod
    def build(cls, captions: Iterable[str], min_freq: int = 5) -> Vocabulary:
        """Build from training captions, keeping words seen at least ``min_freq`` times.

        Words are ordered by decreasing frequency, ties alphabetically, so the result is deterministic.
        """
        counts = Counter(w for c in captions for w in tokenize(c))
        kept = sorted(
            (w for w, n in counts.items() if n >= min_freq and w not in SPECIALS), key=lambda w: (-counts[w], w)
        )
        return cls([*SPECIALS, *kept])

    def __len__(self) -> int:
        return len(self.words)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.words == other.words

    def encode(self, caption: str, max_length: int | None = None) -> list[int]:
        """Token ids for ``caption``, ``<start>`` and ``<end>`` added; words beyond ``max_length`` are cut."""
        words = tokenize(caption)[:max_length]
        return [self.start, *(self.index.get(w, self.unk) for w in words), self.end]

    def decode(self, ids: Iterable[int]) -> str:
        """Caption text for ``ids``: stops at ``<end>``, skips ``<start>`` and ``<pad>``."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.end:
                break
            if i in (self.start, self.pad):
                continue
            out.append(self.words[i])
        return " ".join(out)
