"""Beam search, batched across images: all beams advance in one decoder call per step.

Legend: B images still decoding, M constraint banks, K beam size, N = B*M*K rows, V vocabulary, T steps,
P attention positions. Greedy decoding is beam size 1. Images whose search is over leave the batch, so late steps
run on fewer rows.

With ``constraints`` the search is constrained beam search (Anderson et al. 2017, "Guided Open Vocabulary Image
Captioning with Constrained Beam Search"): each of C constraints is a set of words (any one satisfies it), and the
beams are kept in M = 2**C banks, one per set of satisfied constraints, each bank with its own K best. A word moves
a beam to the bank of the constraints it satisfies as well, so every bank holds the most probable captions that
mention exactly its constraints, and the caller chooses between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch

Tensors = tuple[torch.Tensor, ...]


class StepDecoder(Protocol):
    """What beam search needs from a decoder. Every tensor's first dimension is a row (one beam), except memory for
    a decoder whose ``memory_per_image`` attribute is True: it gets one memory row per image, the image's beams
    being consecutive rows of the state (no copy of the image's memory per beam)."""

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
    satisfied: int = 0  # bit mask of the constraints the caption meets (constrained search)


def length_penalty(length: int, alpha: float) -> float:
    """GNMT length penalty ((5 + length) / 6) ** alpha (Wu et al. 2016, eq. 14); alpha 0 ranks by logprob."""
    return ((5.0 + length) / 6.0) ** alpha


@dataclass
class _Finished:
    """Finished hypotheses per image and bank: K slots of (score, logprob, length, tokens, attention)."""

    score: torch.Tensor  # (B, M, K), -inf in empty slots
    logp: torch.Tensor  # (B, M, K)
    length: torch.Tensor  # (B, M, K) words, <end> not counted
    seqs: torch.Tensor  # (B, M, K, L)
    att: torch.Tensor | None = None  # (B, M, K, L, P) when attention is kept

    @classmethod
    def empty(cls, B: int, M: int, K: int, L: int, device: torch.device) -> _Finished:
        inf = torch.full((B, M, K), -math.inf, device=device)
        zeros = torch.zeros(B, M, K, dtype=torch.long, device=device)
        return cls(inf, inf.clone(), zeros, torch.zeros(B, M, K, L, dtype=torch.long, device=device))

    def merge(self, new_score: torch.Tensor, new_logp: torch.Tensor, t: int, new_seqs, new_att) -> None:
        """Add the beams that ended at step ``t`` (score -inf elsewhere) and keep each bank's K best."""
        K, L = self.score.size(2), self.seqs.size(3)
        pool = torch.cat([self.score, new_score], 2)  # (b, M, 2K)
        keep = pool.topk(K, dim=2).indices  # (b, M, K)
        self.score = pool.gather(2, keep)
        self.logp = torch.cat([self.logp, new_logp], 2).gather(2, keep)
        self.length = torch.cat([self.length, torch.full_like(self.length, t)], 2).gather(2, keep)
        self.seqs = torch.cat([self.seqs, new_seqs], 2).gather(2, keep.unsqueeze(3).expand(-1, -1, -1, L))
        if new_att is not None:
            both = torch.cat([self.att, new_att], 2)  # (b, M, 2K, L, P)
            self.att = both.gather(2, keep[..., None, None].expand(-1, -1, -1, L, both.size(-1)))

    def select(self, rows: torch.Tensor) -> None:
        """Keep only the images ``rows`` (those still decoding)."""
        self.score, self.logp, self.length, self.seqs = (
            x[rows] for x in (self.score, self.logp, self.length, self.seqs)
        )
        if self.att is not None:
            self.att = self.att[rows]

    def collect(self, j: int, n_best: int, live: tuple | None) -> list[Hypothesis]:
        """Image row ``j``'s n-best of every bank: finished hypotheses plus, if the search ran out (``live``), the
        unfinished ones; all banks together, best first."""
        out = []
        for m in range(self.score.size(1)):
            hyps = []
            for k in range(self.score.size(2)):
                if math.isfinite(self.score[j, m, k]):
                    n = int(self.length[j, m, k])
                    att = self.att[j, m, k, : n + 1].clone() if self.att is not None else None  # words and <end>
                    score, logp = float(self.score[j, m, k]), float(self.logp[j, m, k])
                    hyps.append(Hypothesis(self.seqs[j, m, k, :n].tolist(), score, logp, True, att, m))
            if live is not None:
                live_logp, live_seqs, live_att, live_lp = live
                for k in range(live_logp.size(2)):
                    if math.isfinite(live_logp[j, m, k]):
                        att = live_att[j, m, k].clone() if live_att is not None else None
                        logp = float(live_logp[j, m, k])
                        hyps.append(Hypothesis(live_seqs[j, m, k].tolist(), logp / live_lp, logp, False, att, m))
            hyps.sort(key=lambda h: h.score, reverse=True)
            out.extend(hyps[:n_best])
        out.sort(key=lambda h: h.score, reverse=True)
        return out


def _gather_beams(x: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
    """x (b, M, K, ...) -> the new beams' copies (b, M, K, ...), new beam (m, k) taken from flat source ``src``."""
    b, M, K = src.shape
    flat = x.reshape(b, M * K, *x.shape[3:])
    index = src.view(b, M * K, *([1] * (x.dim() - 3))).expand(-1, -1, *x.shape[3:])
    return flat.gather(1, index).view(b, M, K, *x.shape[3:])


def _top_per_bank(cand: torch.Tensor, bits: torch.Tensor | None, K: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The K best extensions landing in each bank: cand (b, M, K, V) -> scores and flat source indices (b, M, K)."""
    b, M, _, V = cand.shape
    if bits is None:  # one bank: plain beam search
        top, idx = cand.view(b, 1, -1).topk(K, dim=2)
        return top, idx
    target = torch.arange(M, device=cand.device).view(1, M, 1) | bits.unsqueeze(1)  # (b, M, V) bank after word
    tops, idxs = [], []
    for bank in range(M):
        masked = cand.masked_fill((target != bank).unsqueeze(2), -math.inf).view(b, -1)  # (b, M*K*V)
        top, idx = masked.topk(K, dim=1)
        tops.append(top)
        idxs.append(idx)
    return torch.stack(tops, 1), torch.stack(idxs, 1)


def _extend_attention(live_att, att: torch.Tensor, src: torch.Tensor, t: int) -> torch.Tensor:
    """Each new beam's attention history (b, M, K, t+1, P): its source beam's history plus this step's weights."""
    b, M, K = src.shape
    step_att = att.view(b, M, K, 1, -1)
    prev = live_att if live_att is not None else step_att[..., :0, :]
    return torch.cat([_gather_beams(prev, src), _gather_beams(step_att, src)], 3)


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
    constraints: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
) -> list[list[Hypothesis]]:
    """Decode every image in ``features`` (B, ...) and return, per image, its ``n_best`` hypotheses, best first.

    At each step the K best extensions over all K*V candidates are kept; an extension that is ``end`` moves to the
    image's finished pool and its beam is refilled from the others at the next step. An image stops as soon as no
    live beam can still beat its n-th best finished hypothesis (an exact bound), or when all its beams are done.
    Beams still live after ``max_length`` tokens are returned unfinished, ranked with the rest. ``end`` is not
    allowed before ``min_length`` words (1 rules out empty captions).

    ``constraints`` (B, V) integer bit masks turn on constrained search: bit c of ``constraints[b, w]`` says that
    word w satisfies constraint c of image b (at most 4 constraints). Each image then gets the ``n_best`` of every
    bank (``Hypothesis.satisfied`` says which), all together, best first. ``bias`` (B, V) is added to every step's
    log-probabilities of image b before they are renormalised (-inf bans a word for that image alone).
    """
    if beam_size < 1 or not 1 <= n_best <= beam_size:
        raise ValueError(f"need beam_size >= 1 and 1 <= n_best <= beam_size, got {beam_size} and {n_best}")
    if max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}")
    K, L = beam_size, max_length
    banned_ids = sorted({start, *banned} - {end})  # <start> is never generated
    B = features.size(0)
    device = features.device
    bits = None
    M = 1
    if constraints is not None and int(constraints.max()) > 0:
        C = int(constraints.max()).bit_length()
        if C > 4:
            raise ValueError(f"at most 4 constraints, got {C}")
        bits, M = constraints.to(device).long().clone(), 2**C
        bits[:, end] = 0  # ending never satisfies a constraint: a finished beam stays in its bank
    if bias is not None:
        bias = bias.to(device).float()
    subset = torch.tensor([[(m | n) == n for n in range(M)] for m in range(M)], device=device)  # (M, M) m within n
    lp = torch.tensor([length_penalty(t, alpha) for t in range(L + 2)], device=device)
    bound_lp = lp[L] if alpha >= 0 else None  # the largest penalty any live beam can still get

    memory, state = decoder.start(features)
    per_image = getattr(decoder, "memory_per_image", False)  # memory (b, ...) instead of M*K copies (N, ...)
    if not per_image:
        memory = tuple(m.repeat_interleave(M * K, 0) for m in memory)  # (N, ...) M*K copies of each image
    state = tuple(s.repeat_interleave(M * K, 0) for s in state)
    images = torch.arange(B, device=device)  # which input image each still-active block of M*K rows is
    live_logp = torch.full((B, M, K), -math.inf, device=device)
    live_logp[:, 0, 0] = 0.0  # one live beam at first, so the initial beams are not copies
    live_seqs = torch.zeros(B, M, K, 0, dtype=torch.long, device=device)
    live_att: torch.Tensor | None = None
    tokens = torch.full((B * M * K,), start, dtype=torch.long, device=device)
    fin = _Finished.empty(B, M, K, L, device)
    results: list[list[Hypothesis]] = [[] for _ in range(B)]

    for t in range(L):
        logp, state, att = decoder.step(tokens, state, memory)  # (N, V), ..., (N, P)
        b, V = images.numel(), logp.size(-1)
        logp = logp.float().view(b, M, K, V)
        if bias is not None:  # renormalised: a word the bias bans gives its probability to the others
            logp = (logp + bias.view(b, 1, 1, V)).log_softmax(-1)
        logp[..., banned_ids] = -math.inf
        if t < min_length:
            logp[..., end] = -math.inf
        cand = live_logp.unsqueeze(3) + logp  # (b, M, K, V)
        top_logp, top_idx = _top_per_bank(cand, bits, K)  # (b, M, K)
        src = torch.div(top_idx, V, rounding_mode="floor")  # (b, M, K) source beam (m * K + k) of each new beam
        word = top_idx % V  # (b, M, K)
        rows = (torch.arange(b, device=device).view(b, 1, 1) * (M * K) + src).view(-1)  # (N,) source rows
        seqs = torch.cat([_gather_beams(live_seqs, src), word.unsqueeze(3)], 3)  # (b, M, K, t+1)
        if return_attention:
            live_att = _extend_attention(live_att, att, src, t)
            if fin.att is None:
                fin.att = torch.zeros(B, M, K, L, att.size(-1), device=device)

        ended = (word == end) & torch.isfinite(top_logp)  # (b, M, K)
        if ended.any():  # merge the new ends into each bank's pool and keep the K best
            new_score = torch.where(ended, top_logp / lp[t + 1], torch.full_like(top_logp, -math.inf))
            new_seqs = torch.nn.functional.pad(seqs[..., :t], (0, L - t))  # drop <end>, pad to L
            new_att = torch.nn.functional.pad(live_att, (0, 0, 0, L - t - 1)) if return_attention else None
            fin.merge(new_score, top_logp, t, new_seqs, new_att)
            top_logp = top_logp.masked_fill(ended, -math.inf)  # an ended beam does not go on

        live_logp, live_seqs = top_logp, seqs
        state = tuple(s.index_select(0, rows) for s in state)
        tokens = word.view(-1)

        # A bank is done when no live beam that can still reach it could enter its n-best (exact for any alpha);
        # an image is done when all its banks are.
        best_live = live_logp.max(2).values / (bound_lp if bound_lp is not None else lp[t + 2])  # (b, M)
        reach = best_live.unsqueeze(2).masked_fill(~subset, -math.inf).max(1).values  # (b, M) from banks within
        done = (~torch.isfinite(reach) | (reach <= fin.score[:, :, n_best - 1])).all(1)  # (b,)
        if t == L - 1:
            done = torch.ones_like(done)
        if done.any():
            live = (live_logp, live_seqs, live_att, float(lp[t + 1])) if t == L - 1 else None  # scores are floats
            for j in done.nonzero().flatten().tolist():
                results[int(images[j])] = fin.collect(j, n_best, live)
            keep_img = (~done).nonzero().flatten()
            if keep_img.numel() == 0:
                break
            keep_rows = (keep_img.unsqueeze(1) * (M * K) + torch.arange(M * K, device=device)).view(-1)
            images = images[keep_img]
            live_logp, live_seqs = live_logp[keep_img], live_seqs[keep_img]
            live_att = live_att[keep_img] if return_attention else None
            if bits is not None:
                bits = bits[keep_img]
            if bias is not None:
                bias = bias[keep_img]
            fin.select(keep_img)
            state = tuple(s.index_select(0, keep_rows) for s in state)
            memory = tuple(m.index_select(0, keep_img if per_image else keep_rows) for m in memory)
            tokens = tokens.index_select(0, keep_rows)
    return results
