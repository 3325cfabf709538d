"""The attention LSTM decoder (Show, Attend and Tell, Xu et al. 2015).

Legend: B batch, T caption steps, P grid positions (H*W), D encoder channels, F projected feature dims,
A attention dims, E embedding dims, H hidden dims, V vocabulary.
No I/O, no devices, no files here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from captioner.model.beam import Tensors


@dataclass
class DecoderConfig:
    vocab_size: int
    feature_dim: int = 1280  # D: channels of the encoder's grid
    feature_proj_dim: int = 512  # F: the grid is projected (linear + ReLU) to this before attention
    embed_dim: int = 512
    hidden_dim: int = 512
    attention_dim: int = 512
    dropout: float = 0.5  # on the LSTM output before the word classifier
    embed_dropout: float = 0.0  # on word embeddings
    feature_dropout: float = 0.0  # on the projected grid
    deep_output: bool = True  # predict from h + context + previous word (Xu et al. eq. 7) instead of h alone


class AttentionDecoder(nn.Module):
    """LSTM with soft attention over the grid; h/c start from the mean feature; a gate scales the context."""

    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.config = cfg = config
        self.feature_proj = nn.Sequential(
            nn.Linear(cfg.feature_dim, cfg.feature_proj_dim), nn.ReLU(), nn.Dropout(cfg.feature_dropout)
        )
        self.att_feature = nn.Linear(cfg.feature_proj_dim, cfg.attention_dim)
        self.att_hidden = nn.Linear(cfg.hidden_dim, cfg.attention_dim)
        self.att_score = nn.Linear(cfg.attention_dim, 1, bias=False)  # a bias would cancel in the softmax
        self.gate = nn.Linear(cfg.hidden_dim, cfg.feature_proj_dim)
        self.init_h = nn.Linear(cfg.feature_proj_dim, cfg.hidden_dim)
        self.init_c = nn.Linear(cfg.feature_proj_dim, cfg.hidden_dim)
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim)
        self.embed_dropout = nn.Dropout(cfg.embed_dropout)
        self.lstm = nn.LSTMCell(cfg.embed_dim + cfg.feature_proj_dim, cfg.hidden_dim)
        if cfg.deep_output:
            self.out_hidden = nn.Linear(cfg.hidden_dim, cfg.embed_dim)
            self.out_context = nn.Linear(cfg.feature_proj_dim, cfg.embed_dim, bias=False)
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(cfg.embed_dim if cfg.deep_output else cfg.hidden_dim, cfg.vocab_size)

    # -- pieces shared by teacher forcing and step-wise decoding ---------------------------------------------------

    def start(self, features: torch.Tensor) -> tuple[Tensors, Tensors]:
        """Memory (projected grid, its attention keys) and initial (h, c) for (B, D, H, W) or (B, P, D) features."""
        if features.dim() == 4:
            features = features.flatten(2).transpose(1, 2)  # (B, P, D)
        feats = self.feature_proj(features)  # (B, P, F)
        keys = self.att_feature(feats)  # (B, P, A), computed once per image, reused every step
        mean = feats.mean(1)  # (B, F)
        return (feats, keys), (torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean)))

    def _attend(self, h: torch.Tensor, feats: torch.Tensor, keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.att_score(torch.tanh(keys + self.att_hidden(h).unsqueeze(1))).squeeze(2)  # (B, P)
        alpha = scores.softmax(1)  # (B, P)
        context = torch.bmm(alpha.unsqueeze(1), feats).squeeze(1)  # (B, F)
        return torch.sigmoid(self.gate(h)) * context, alpha

    def _logits(self, h: torch.Tensor, context: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        if self.config.deep_output:
            h = torch.tanh(emb + self.out_hidden(h) + self.out_context(context))  # (..., E)
        return self.classifier(self.dropout(h))  # (..., V)

    # -- teacher forcing -------------------------------------------------------------------------------------------

    def forward(
        self,
        features: torch.Tensor,
        captions: torch.Tensor | None = None,
        image_index: torch.Tensor | None = None,
        lengths: list[int] | None = None,
        *,
        sample: dict | None = None,
        packed: bool = False,
    ):
        """Logits (B, T-1, V) for captions[:, 1:] given captions[:, :-1], and attention weights (B, T-1, P).

        ``image_index`` (B,) maps captions to rows of ``features`` (several captions per image share one
        projection). ``lengths`` (tokens incl. <start> and <end>, sorted descending) lets each step skip the rows
        whose caption has ended; their outputs are zeros. With ``packed`` the logits come only for real tokens,
        (N, V) in ``step_counts`` order (``pack_targets`` gives the matching targets): no work on padding.
        With ``sample`` (keyword arguments of ``sample``) it samples captions instead, so that
        DistributedDataParallel sees the call.
        """
        if sample is not None:
            return self.sample(features, **sample)
        memory, state = self.start(features)
        if image_index is not None:
            memory = tuple(m.index_select(0, image_index) for m in memory)  # (B, P, .)
            state = tuple(s.index_select(0, image_index) for s in state)  # (B, H)
        (feats, keys), (h, c) = memory, state
        B, T = captions.size(0), captions.size(1) - 1
        counts = step_counts(lengths, T) if lengths is not None else [B] * T
        emb = self.embed_dropout(self.embed(captions[:, :-1]))  # (B, T, E)
        hs, contexts, embs, alphas = [], [], [], []
        for t, n in enumerate(counts):  # n: rows whose caption is still running at step t
            h, c = h[:n], c[:n]
            context, alpha = self._attend(h, feats[:n], keys[:n])  # (n, F), (n, P)
            h, c = self.lstm(torch.cat([emb[:n, t], context], 1), (h, c))  # (n, H)
            hs.append(h)
            contexts.append(context)
            embs.append(emb[:n, t])
            alphas.append(F.pad(alpha, (0, 0, 0, B - n)))
        if packed:
            logits = self._logits(torch.cat(hs), torch.cat(contexts), torch.cat(embs))  # (N, V)
        else:
            hs, contexts = ([F.pad(x, (0, 0, 0, B - x.size(0))) for x in xs] for xs in (hs, contexts))
            logits = self._logits(torch.stack(hs, 1), torch.stack(contexts, 1), emb)  # (B, T, V)
        return logits, torch.stack(alphas, 1)

    # -- one step, for beam search ---------------------------------------------------------------------------------

    def step(self, tokens: torch.Tensor, state: Tensors, memory: Tensors) -> tuple[torch.Tensor, Tensors, torch.Tensor]:
        """Log-probabilities (N, V) of the token after ``tokens`` (N,), new (h, c), attention (N, P)."""
        h, c = state
        feats, keys = memory
        emb = self.embed(tokens)  # (N, E)
        context, alpha = self._attend(h, feats, keys)
        h, c = self.lstm(torch.cat([emb, context], 1), (h, c))
        return F.log_softmax(self._logits(h, context, emb), -1), (h, c), alpha

    def sample(
        self,
        features: torch.Tensor,
        n: int,
        max_length: int,
        start: int,
        end: int,
        *,
        banned: tuple[int, ...] = (),
        top_k: int = 0,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``n`` captions per image sampled from the model, for self-critical training.

        Returns tokens (B*n, T) with <end> and padding as ``end``, the lengths (B*n,) in tokens counting <end>
        (or ``max_length`` if it never came), and the summed log-probability of each caption (B*n,), with gradients.
        ``top_k`` > 0 draws each word from the k most likely only: a label-smoothed model spreads a tenth of its
        mass over the whole vocabulary, and full sampling then puts a random word in most captions.
        """
        memory, state = self.start(features)
        memory = tuple(m.repeat_interleave(n, 0) for m in memory)  # (B*n, ...)
        state = tuple(s.repeat_interleave(n, 0) for s in state)
        rows = memory[0].size(0)
        tokens = torch.full((rows,), start, dtype=torch.long, device=features.device)
        alive = torch.ones(rows, dtype=torch.bool, device=features.device)
        lengths = torch.zeros(rows, dtype=torch.long, device=features.device)
        logp_sum = torch.zeros(rows, device=features.device)
        ban = torch.tensor([start, *banned], device=features.device)
        out = []
        for _ in range(max_length):
            logp, state, _ = self.step(tokens, state, memory)  # (R, V)
            logp = logp.float().index_fill(1, ban, -math.inf)
            probs = logp.detach().exp()  # (R, V)
            if top_k:
                probs = probs.masked_fill(probs < probs.topk(top_k, 1).values[:, -1:], 0.0)
            tokens = torch.multinomial(probs, 1).squeeze(1)  # (R,)
            logp_sum = logp_sum + logp.gather(1, tokens.unsqueeze(1)).squeeze(1) * alive
            lengths = lengths + alive.long()
            out.append(torch.where(alive, tokens, torch.full_like(tokens, end)))
            alive = alive & (tokens != end)
            if not alive.any():
                break
        return torch.stack(out, 1), lengths, logp_sum


def step_counts(lengths: list[int], steps: int) -> list[int]:
    """Rows still running at each of ``steps`` teacher-forced steps (``lengths`` sorted longest first)."""
    return [sum(1 for n in lengths if n - 1 > t) for t in range(steps)]


def pack_targets(captions: torch.Tensor, lengths: list[int]) -> torch.Tensor:
    """The targets (N,) matching ``forward(..., packed=True)``: step by step, the rows still running."""
    counts = step_counts(lengths, captions.size(1) - 1)
    return torch.cat([captions[:n, t + 1] for t, n in enumerate(counts)])
