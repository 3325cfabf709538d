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


@dataclass
class _Finished:
    """Each image's pool of finished hypotheses: K slots of (score, logprob, length, tokens padded to L, attention)."""

    score: torch.Tensor  # (B, K), -inf in empty slots
    logp: torch.Tensor  # (B, K)
    length: torch.Tensor  # (B, K) words, <end> not counted
    seqs: torch.Tensor  # (B, K, L)
    att: torch.Tensor | None = None  # (B, K, L, P) when attention is kept

    @classmethod
    def empty(cls, B: int, K: int, L: int, device: torch.device) -> _Finished:
        inf = torch.full((B, K), -math.inf, device=device)
        zeros = torch.zeros(B, K, dtype=torch.long, device=device)
        return cls(inf, inf.clone(), zeros, torch.zeros(B, K, L, dtype=torch.long, device=device))

    def merge(self, new_score: torch.Tensor, new_logp: torch.Tensor, t: int, new_seqs, new_att) -> None:
        """Add the beams that ended at step ``t`` (score -inf elsewhere) and keep each image's K best."""
        K, L = self.score.size(1), self.seqs.size(2)
        pool = torch.cat([self.score, new_score], 1)  # (b, 2K)
        keep = pool.topk(K, dim=1).indices  # (b, K)
        self.score = pool.gather(1, keep)
        self.logp = torch.cat([self.logp, new_logp], 1).gather(1, keep)
        self.length = torch.cat([self.length, torch.full_like(self.length, t)], 1).gather(1, keep)
        self.seqs = torch.cat([self.seqs, new_seqs], 1).gather(1, keep.unsqueeze(2).expand(-1, -1, L))
        if new_att is not None:
            both = torch.cat([self.att, new_att], 1)  # (b, 2K, L, P)
            self.att = both.gather(1, keep[:, :, None, None].expand(-1, -1, L, both.size(-1)))

    def select(self, rows: torch.Tensor) -> None:
        """Keep only the images ``rows`` (those still decoding)."""
        self.score, self.logp, self.length, self.seqs = (
            x[rows] for x in (self.score, self.logp, self.length, self.seqs)
        )
        if self.att is not None:
            self.att = self.att[rows]

    def collect(self, j: int, n_best: int, live: tuple | None) -> list[Hypothesis]:
        """The n-best of image row ``j``: finished hypotheses plus, if the search ran out (``live``), the unfinished."""
        hyps = []
        for k in range(self.score.size(1)):
            if math.isfinite(self.score[j, k]):
                n = int(self.length[j, k])
                att = self.att[j, k, : n + 1].clone() if self.att is not None else None  # words and <end>
                hyps.append(
                    Hypothesis(self.seqs[j, k, :n].tolist(), float(self.score[j, k]), float(self.logp[j, k]), True, att)
                )
        if live is not None:
            live_logp, live_seqs, live_att, live_lp = live
            for k in range(live_logp.size(1)):
                if math.isfinite(live_logp[j, k]):
                    att = live_att[j, k].clone() if live_att is not None else None
                    score = float(live_logp[j, k] / live_lp)
                    hyps.append(Hypothesis(live_seqs[j, k].tolist(), score, float(live_logp[j, k]), False, att))
        hyps.sort(key=lambda h: h.score, reverse=True)
        return hyps[:n_best]


def _extend_attention(live_att, att: torch.Tensor, beam: torch.Tensor, t: int) -> torch.Tensor:
    """Each new beam's attention history (b, K, t+1, P): its source beam's history plus this step's weights."""
    b, K = beam.shape
    step_att = att.view(b, K, 1, -1)
    prev = live_att if live_att is not None else step_att[:, :, :0]
    return torch.cat(
        [
            prev.gather(1, beam[:, :, None, None].expand(-1, -1, t, prev.size(-1))),
            step_att.gather(1, beam[:, :, None, None].expand(-1, -1, 1, step_att.size(-1))),
        ],
        2,
    )


@torch.inference_mode()
def beam_search(
    decoder: StepDecoder,
    features: torch.Tensor,
    start: int,
    end: int,
    *,
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
    fin = _Finished.empty(B, K, L, device)
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
            live_att = _extend_attention(live_att, att, beam, t)
            if fin.att is None:
                fin.att = torch.zeros(B, K, L, att.size(-1), device=device)

        ended = (word == end) & torch.isfinite(top_logp)  # (b, K)
        if ended.any():  # merge the new ends into each image's pool and keep the K best
            new_score = torch.where(ended, top_logp / lp[t + 1], torch.full_like(top_logp, -math.inf))
            new_seqs = torch.nn.functional.pad(seqs[:, :, :t], (0, L - t))  # drop <end>, pad to L
            new_att = torch.nn.functional.pad(live_att, (0, 0, 0, L - t - 1)) if return_attention else None
            fin.merge(new_score, top_logp, t, new_seqs, new_att)
            top_logp = top_logp.masked_fill(ended, -math.inf)  # an ended beam does not go on

        live_logp, live_seqs = top_logp, seqs
        state = tuple(s.index_select(0, rows) for s in state)
        tokens = word.view(-1)

        # An image is done when no live beam could still enter its n-best (exact for alpha >= 0 and < 0 alike).
        best_live = live_logp.max(1).values / (bound_lp if bound_lp is not None else lp[t + 2])
        done = ~torch.isfinite(best_live) | (best_live <= fin.score[:, n_best - 1])
        if t == L - 1:
            done = torch.ones_like(done)
        if done.any():
            live = (live_logp, live_seqs, live_att, lp[t + 1]) if t == L - 1 else None
            for j in done.nonzero().flatten().tolist():
                results[int(images[j])] = fin.collect(j, n_best, live)
            keep_img = (~done).nonzero().flatten()
            if keep_img.numel() == 0:
                break
            keep_rows = (keep_img.unsqueeze(1) * K + torch.arange(K, device=device)).view(-1)
            images = images[keep_img]
            live_logp, live_seqs = live_logp[keep_img], live_seqs[keep_img]
            live_att = live_att[keep_img] if return_attention else None
            fin.select(keep_img)
            state = tuple(s.index_select(0, keep_rows) for s in state)
            memory = tuple(m.index_select(0, keep_rows) for m in memory)
            tokens = tokens.index_select(0, keep_rows)
    return results
