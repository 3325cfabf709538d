"""A run's vocabulary: built from the training captions, or a fine-tuned model's own, extended by the new words.

When fine-tuning (``--init``), every word of the new captions seen at least ``min_word_freq`` times that the model
does not know gets new embedding and output rows (``model.vocab_extension``); the known rows are kept. A new word
starts as the known word the model itself expects in its place: teacher-forced on the new captions, the model's
mean next-word distribution at the positions where the new word stands is read, and its most likely known word is
the source ("canine" replacing "dog" starts as "dog"). It costs one forward pass over a few captions per word and
finds the word that plays the same role in the same photos (DCC-style transfer, Hendricks et al. 2016), which a
spelling or an embedding neighbour cannot. A word the model has no opinion on starts from the mean row.

Legend: B captions, T steps, V vocabulary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

import torch

from captioner.model.checkpoint import Checkpoint, build_model
from captioner.model.vocab import SPECIALS, Vocabulary, tokenize
from captioner.model.vocab_extension import extend_vocabulary
from captioner.training.batches import Split

PER_WORD = 64  # occurrences read to find a new word's source word
MIN_CONFIDENCE = 0.02  # below this mean probability the best known word is no better than the mean row
_LISTED = 12  # new words named in the status line


def unknown_words(captions: Iterable[str], vocab: Vocabulary, min_freq: int) -> tuple[list[str], int]:
    """Words of ``captions`` not in ``vocab``: those seen at least ``min_freq`` times (most frequent first), and
    how many distinct rarer ones there are (they stay ``<unk>``)."""
    counts = Counter(w for c in captions for w in tokenize(c) if w not in vocab.index)
    kept = sorted((w for w, n in counts.items() if n >= min_freq), key=lambda w: (-counts[w], w))
    return kept, len(counts) - len(kept)


@torch.no_grad()
def source_words(ckpt: Checkpoint, split: Split, words: list[str]) -> dict[str, str]:
    """For each new word, the known word ``ckpt``'s model finds most likely where the new word stands in ``split``'s
    captions (none when the model is unsure: mean probability under ``MIN_CONFIDENCE``)."""
    wanted = set(words)
    slots: dict[str, list[tuple[int, list[int], int]]] = {w: [] for w in words}  # (image, ids, step of the word)
    for image, caps in enumerate(split.captions):
        for caption in caps:
            tokens = tokenize(caption)
            ids = [ckpt.vocab.start, *(ckpt.vocab.index.get(t, ckpt.vocab.unk) for t in tokens)]
            for position, token in enumerate(tokens):
                if token in wanted and len(slots[token]) < PER_WORD:
                    slots[token].append((image, ids[: position + 2], position))
    decoder = build_model(ckpt, with_encoder=False).decoder
    found = {}
    for word, items in slots.items():
        if not items:
            continue
        items.sort(key=lambda it: -len(it[1]))  # the decoder wants the longest first
        length = len(items[0][1])
        caps = torch.full((len(items), length), ckpt.vocab.pad, dtype=torch.long)  # (B, T)
        for row, (_, ids, _) in enumerate(items):
            caps[row, : len(ids)] = torch.tensor(ids)
        feats = split.features[[image for image, _, _ in items]].float()  # (B, P, D)
        logits, _ = decoder(feats, caps, lengths=[len(ids) for _, ids, _ in items])  # (B, T-1, V)
        at = torch.tensor([position for _, _, position in items])
        probs = logits[torch.arange(len(items)), at].softmax(-1).mean(0)  # (V,)
        probs[: len(SPECIALS)] = 0
        best = int(probs.argmax())
        if float(probs[best]) >= MIN_CONFIDENCE:
            found[word] = ckpt.vocab.words[best]
    return found


def extend_for_training(
    init: Checkpoint, split: Split, min_freq: int, say: Callable[[str], None], source: str
) -> tuple[Checkpoint, list[str]]:
    """``init`` with the new words of ``split``'s captions added (see the module docstring); says what it did."""
    new, rare = unknown_words((c for caps in split.captions for c in caps), init.vocab, min_freq)
    rarer = f"; {rare} rarer unknown word(s) stay <unk>" if rare else ""
    if not new:
        say(f"vocabulary: the {len(init.vocab)} words of {source}, no new word seen {min_freq}+ times{rarer}")
        return init, []
    sources = source_words(init, split, new)
    extended, added = extend_vocabulary(init, new, sources)
    named = ", ".join(f"{w} (from {sources[w]})" if w in sources else f"{w} (from the mean)" for w in added[:_LISTED])
    more = f", ... (+{len(added) - _LISTED} more)" if len(added) > _LISTED else ""
    say(
        f"vocabulary: the {len(init.vocab)} words of {source} + {len(added)} new word(s) seen {min_freq}+ times in "
        f"the training captions: {named}{more}{rarer}"
    )
    return extended, added


def scratch_vocabulary(split: Split, min_freq: int, say: Callable[[str], None]) -> Vocabulary:
    vocab = Vocabulary.build((c for caps in split.captions for c in caps), min_freq)
    times = "once" if min_freq == 1 else f"{min_freq} times"
    say(f"vocabulary: {len(vocab)} words seen at least {times} in the training captions")
    return vocab
