"""Beam search, batched across images: all B*K beams advance in one decoder call per step.

Legend: B images still decoding, K beam size, N = B*K rows, V vocabulary, T steps, P attention positions.
Greedy decoding is beam size 1. Images whose search is over leave the batch, so late steps run on fewer rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch

Tensors = tuple[torch.Tensor, ...]


class StepDecoder(Protocol):
    """What beam search needs from a decoder. Every tensor's first dimension is a row (one beam)."""

    def start(self, features: torch.Tensor) -> tuple[Tensors, Tensors]:
        """(memory, state) for a batch of encoder outputs; memory is fixed per image, state changes each step."""

    def step(self, tokens: torch.Tensor, state: Tensors, memory: Tensors) -> tuple[torch.Tensor, Tensors, torch.Tensor]:
        """Log-probabilities (N, V) of the next token after ``tokens`` (N,), the new state, attention (N, P)."""


@dataclass
class Hypothesis:
    tokens: list[int]  # the words, without <start> and <end>
    score: float  # logprob / length_penalty: what the beams are ranked by
    logprob: float
    finished: bool  # False: max_length was reached before <end>
    attention: torch.Tensor | None = None  # (T, P) for the T generated tokens, when asked for


def length_penalty(length: int, alpha: float) -> float:
    """GNMT length penalty ((5 + length) / 6) ** alpha (Wu et al. 2016, eq. 14); alpha 0 ranks by logprob."""
    return ((5.0 + length) / 6.0) ** alpha


@torch.inference_mode()
def beam_search(
    decoder: StepDecoder,
    features: torch.Tensor,
    start: int,
    end: int,
    beam_size: int = 3,
    max_length: int = 20,
    alpha: float = 0.0,
    n_best: int = 1,
    banned: tuple[int, ...] = (),
    return_attention: bool = False,
    min_length: int = 0,
) -> list[list[Hypothesis]]:
    """Decode every image in ``features`` (B, ...) and return, per image, its ``n_best`` hypotheses, best first.

    At each step the K best extensions over all K*V candidates are kept; an extension that is ``end`` moves to the
    image's finished pool and its beam is refilled from the others at the next step. An image stops as soon as no
    live beam can still beat its n-th best finished hypothesis (an exact bound), or when all its beams are done.
    Beams still live after ``max_length`` tokens are returned unfinished, ranked with the rest. ``end`` is not
    allowed before ``min_length`` words (1 rules out empty captions).
    """
    if beam_size < 1 or not 1 <= n_best <= beam_size:
        raise ValueError(f"need beam_size >= 1 and 1 <= n_best <= beam_size, got {beam_size} and {n_best}")
    if max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}")
    K, L = beam_size, max_length
    banned_ids = sorted({start, *banned} - {end})  # <start> is never generated
    B = features.size(0)
    device = features.device
    lp = torch.tensor([length_penalty(t, alpha) for t in range(L + 2)], device=device)
    bound_lp = lp[L] if alpha >= 0 else None  # the largest penalty any live beam can still get

    memory, state = decoder.start(features)
    memory = tuple(m.repeat_interleave(K, 0) for m in memory)  # (N, ...) K copies of each image
    state = tuple(s.repeat_interleave(K, 0) for s in state)
    images = torch.arange(B, device=device)  # which input image each still-active block of K rows is
    live_logp = torch.full((B, K), -math.inf, device=device)
    live_logp[:, 0] = 0.0  # one live beam at first, so the K initial beams are not copies
    live_seqs = torch.zeros(B, K, 0, dtype=torch.long, device=device)
    live_att: torch.Tensor | None = None
    tokens = torch.full((B * K,), start, dtype=torch.long, device=device)
    # Finished pool per image: K slots of (score, logprob, length, tokens padded to L, attention).
    fin_score = torch.full((B, K), -math.inf, device=device)
    fin_logp = torch.full((B, K), -math.inf, device=device)
    fin_len = torch.zeros(B, K, dtype=torch.long, device=device)
    fin_seqs = torch.zeros(B, K, L, dtype=torch.long, device=device)
    fin_att: torch.Tensor | None = None
    results: list[list[Hypothesis]] = [[] for _ in range(B)]

    for t in range(L):
        logp, state, att = decoder.step(tokens, state, memory)  # (N, V), ..., (N, P)
        b, V = images.numel(), logp.size(-1)
        logp = logp.float().view(b, K, V)
        logp[:, :, banned_ids] = -math.inf
        if t < min_length:
            logp[:, :, end] = -math.inf
        cand = (live_logp.unsqueeze(2) + logp).view(b, K * V)  # (b, K*V)
        top_logp, top_idx = cand.topk(K, dim=1)  # (b, K)
        beam = torch.div(top_idx, V, rounding_mode="floor")  # (b, K) which live beam each extends
        word = top_idx % V  # (b, K)
        rows = (torch.arange(b, device=device).unsqueeze(1) * K + beam).view(-1)  # (N,) source row per new beam
        seqs = torch.cat([live_seqs.gather(1, beam.unsqueeze(2).expand(-1, -1, t)), word.unsqueeze(2)], 2)
        if return_attention:
            step_att = att.view(b, K, 1, -1)
            prev = live_att if live_att is not None else step_att[:, :, :0]
            live_att = torch.cat(
                [
                    prev.gather(1, beam[:, :, None, None].expand(-1, -1, t, prev.size(-1))),
                    step_att.gather(1, beam[:, :, None, None].expand(-1, -1, 1, step_att.size(-1))),
                ],
                2,
            )
            if fin_att is None:
                fin_att = torch.zeros(B, K, L, step_att.size(-1), device=device)

        ended = (word == end) & torch.isfinite(top_logp)  # (b, K)
        if ended.any():  # merge the new ends into each image's pool and keep the K best
            new_score = torch.where(ended, top_logp / lp[t + 1], torch.full_like(top_logp, -math.inf))
            new_seqs = torch.nn.functional.pad(seqs[:, :, :t], (0, L - t))  # drop <end>, pad to L
            pool_score = torch.cat([fin_score, new_score], 1)  # (b, 2K)
            keep = pool_score.topk(K, dim=1).indices  # (b, K)
            fin_score = pool_score.gather(1, keep)
            fin_logp = torch.cat([fin_logp, top_logp], 1).gather(1, keep)
            fin_len = torch.cat([fin_len, torch.full_like(fin_len, t)], 1).gather(1, keep)
            fin_seqs = torch.cat([fin_seqs, new_seqs], 1).gather(1, keep.unsqueeze(2).expand(-1, -1, L))
            if return_attention:
                new_att = torch.nn.functional.pad(live_att, (0, 0, 0, L - t - 1))  # (b, K, L, P)
                both = torch.cat([fin_att, new_att], 1)
                fin_att = both.gather(1, keep[:, :, None, None].expand(-1, -1, L, both.size(-1)))
            top_logp = top_logp.masked_fill(ended, -math.inf)  # an ended beam does not go on

        live_logp, live_seqs = top_logp, seqs
        state = tuple(s.index_select(0, rows) for s in state)
        tokens = word.view(-1)

        # An image is done when no live beam could still enter its n-best (exact for alpha >= 0 and < 0 alike).
        best_live = live_logp.max(1).values / (bound_lp if bound_lp is not None else lp[t + 2])
        done = ~torch.isfinite(best_live) | (best_live <= fin_score[:, n_best - 1])
        if t == L - 1:
            done = torch.ones_like(done)
        if done.any():
            for j in done.nonzero().flatten().tolist():
                live = (live_logp, live_seqs, live_att, lp[t + 1]) if t == L - 1 else None
                results[int(images[j])] = _collect(j, n_best, fin_score, fin_logp, fin_len, fin_seqs, fin_att, live)
            keep_img = (~done).nonzero().flatten()
            if keep_img.numel() == 0:
                break
            keep_rows = (keep_img.unsqueeze(1) * K + torch.arange(K, device=device)).view(-1)
            images = images[keep_img]
            live_logp, live_seqs = live_logp[keep_img], live_seqs[keep_img]
            fin_score, fin_logp, fin_len, fin_seqs = (x[keep_img] for x in (fin_score, fin_logp, fin_len, fin_seqs))
            if return_attention:
                live_att, fin_att = live_att[keep_img], fin_att[keep_img]
            state = tuple(s.index_select(0, keep_rows) for s in state)
            memory = tuple(m.index_select(0, keep_rows) for m in memory)
            tokens = tokens.index_select(0, keep_rows)
    return results


def _collect(j: int, n_best: int, fin_score, fin_logp, fin_len, fin_seqs, fin_att, live) -> list[Hypothesis]:
    """The n-best of image row ``j``: finished hypotheses plus, if the search ran out (``live``), the unfinished."""
    hyps = []
    for k in range(fin_score.size(1)):
        if math.isfinite(fin_score[j, k]):
            n = int(fin_len[j, k])
            att = fin_att[j, k, : n + 1].clone() if fin_att is not None else None  # words and <end>
            hyps.append(
                Hypothesis(fin_seqs[j, k, :n].tolist(), float(fin_score[j, k]), float(fin_logp[j, k]), True, att)
            )
    live_logp, live_seqs, live_att, live_lp = live if live is not None else (fin_logp[:, :0], None, None, None)
    for k in range(live_logp.size(1)):
        if math.isfinite(live_logp[j, k]):
            att = live_att[j, k].clone() if live_att is not None else None
            hyps.append(
                Hypothesis(
                    live_seqs[j, k].tolist(), float(live_logp[j, k] / live_lp), float(live_logp[j, k]), False, att
                )
            )
    hyps.sort(key=lambda h: h.score, reverse=True)
    return hyps[:n_best]
