"""Teaching a trained model new words: extra embedding and output rows, every existing row left as it was.

A new word starts either as a copy of a known word that plays the same role in a sentence (DCC-style transfer,
Hendricks et al. 2016: "zebra" starts as "horse"), or, without one, from the mean of the known content words (so it
starts as an average, unremarkable word that fine-tuning then shapes).

Legend: V vocabulary, E embedding dims, O classifier input dims.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import torch

from captioner.errors import CaptionerError
from captioner.model.checkpoint import Checkpoint
from captioner.model.vocab import SPECIALS, Vocabulary

# The decoder weights with one row per vocabulary word.
ROW_KEYS = ("embed.weight", "classifier.weight", "classifier.bias")


def extend_vocabulary(
    ckpt: Checkpoint, words: Sequence[str], init: Mapping[str, str] | None = None
) -> tuple[Checkpoint, list[str]]:
    """A copy of ``ckpt`` whose vocabulary ends with those of ``words`` it lacks; returns it and the words added.

    ``init`` maps a new word to the known word it starts as; words without one start from the mean row of the known
    words (specials excluded). The known words keep their ids and rows, so the extended model decodes exactly as
    before until a new word's rows are trained or allowed.
    """
    init = dict(init or {})
    added = [w for w in dict.fromkeys(words) if w not in ckpt.vocab.index]
    if not added:
        return ckpt, []
    state = dict(ckpt.decoder_state)
    old = len(ckpt.vocab)
    for key in ROW_KEYS:
        rows = state[key]  # (V, ...)
        if rows.shape[0] != old:
            raise CaptionerError(f"{key} has {rows.shape[0]} rows for a vocabulary of {old} words")
        mean = rows[len(SPECIALS) :].float().mean(0).to(rows.dtype)
        new_rows = []
        for word in added:
            source = init.get(word)
            if source is not None and source not in ckpt.vocab.index:
                raise CaptionerError(f"cannot start {word!r} from {source!r}: {source!r} is not in the vocabulary")
            new_rows.append(rows[ckpt.vocab.index[source]].clone() if source is not None else mean.clone())
        state[key] = torch.cat([rows, torch.stack(new_rows)])  # (V + added, ...)
    vocab = Vocabulary([*ckpt.vocab.words, *added])
    config = replace(ckpt.config, vocab_size=len(vocab))
    return replace(ckpt, config=config, vocab=vocab, decoder_state=state), added
