"""Validation during training: free-running beam search with BLEU-1..4 and CIDEr-D, and the teacher-forced loss.

Each rank decodes its share of the split; BLEU statistics and losses are summed over ranks, captions gathered.

Legend: I images, P grid positions, D channels, B captions, T steps, V vocabulary.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from captioner.evaluation.metrics import CiderD, bleu_from_stats, bleu_stats
from captioner.model.decode import decode
from captioner.model.decoder import AttentionDecoder
from captioner.model.vocab import Vocabulary, tokenize
from captioner.training.batches import Split, encode_captions, make_batch
from captioner.training.config import Recipe
from captioner.training.distributed import World


def my_images(split: Split, world: World) -> list[int]:
    """The indices of ``split`` that this rank validates: every world-th image from its rank."""
    return list(range(world.rank, len(split.captions), world.size))


@torch.no_grad()
def evaluate(
    decoder: AttentionDecoder, split: Split, vocab: Vocabulary, recipe: Recipe, world: World, features: torch.Tensor
) -> dict[str, float]:
    """BLEU-1..4, CIDEr-D and validation loss; ``features`` (I, P, D) are those of ``my_images(split, world)``."""
    mine = my_images(split, world)
    caps = decode(decoder, features, vocab, recipe.decode)
    hyps = {i: tokenize(c[0].text) if c else [] for i, c in zip(mine, caps)}
    refs = split.references()
    scores = bleu_from_stats(world.sum(bleu_stats([refs[i] for i in mine], [hyps[i] for i in mine])))
    all_hyps = {k: v for part in world.gather(hyps) for k, v in part.items()}
    scores["cider"] = CiderD(refs).corpus_score(refs, [all_hyps[i] for i in range(len(refs))])
    decoder.eval()
    device = next(decoder.parameters()).device
    tokens = encode_captions(split, vocab, recipe.max_caption_length)
    ce, count = 0.0, 0
    for i in range(0, len(mine), 64):
        c, index, lengths = make_batch(mine[i : i + 64], tokens, vocab.pad)
        logits, _ = decoder(features[i : i + 64].to(device).float(), c.to(device), index.to(device), lengths)
        targets = c[:, 1:].reshape(-1).to(device)  # (B*T,)
        ce += float(
            F.cross_entropy(
                logits.float().reshape(-1, logits.size(-1)), targets, ignore_index=vocab.pad, reduction="sum"
            )
        )
        count += int((c[:, 1:] != vocab.pad).sum())
    ce, count = world.sum([ce, count])
    scores["val_loss"] = ce / max(count, 1)
    return scores
