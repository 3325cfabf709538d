"""The attention LSTM decoder (Show, Attend and Tell, Xu et al. 2015) and the encoder + decoder pair.

Legend: B batch, T caption steps, P grid positions (H*W), D encoder channels, F projected feature dims,
A attention dims, E embedding dims, H hidden dims, V vocabulary.
No I/O, no devices, no files here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from captioner.beam import Tensors


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
        self.att_score = nn.Linear(cfg.attention_dim, 1)
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
        captions: torch.Tensor,
        image_index: torch.Tensor | None = None,
        lengths: list[int] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, T-1, V) for captions[:, 1:] given captions[:, :-1], and attention weights (B, T-1, P).

        ``image_index`` (B,) maps captions to rows of ``features`` (several captions per image share one
        projection). ``lengths`` (tokens incl. <start> and <end>, sorted descending) lets each step skip the rows
        whose caption has ended; their outputs are zeros.
        """
        memory, state = self.start(features)
        if image_index is not None:
            memory = tuple(m.index_select(0, image_index) for m in memory)  # (B, P, .)
            state = tuple(s.index_select(0, image_index) for s in state)  # (B, H)
        (feats, keys), (h, c) = memory, state
        B, T = captions.size(0), captions.size(1) - 1
        emb = self.embed_dropout(self.embed(captions[:, :-1]))  # (B, T, E)
        hs, contexts, alphas = [], [], []
        for t in range(T):
            n = B if lengths is None else sum(1 for n_tok in lengths if n_tok - 1 > t)  # rows still running
            h, c = h[:n], c[:n]
            context, alpha = self._attend(h, feats[:n], keys[:n])  # (n, F), (n, P)
            h, c = self.lstm(torch.cat([emb[:n, t], context], 1), (h, c))  # (n, H)
            hs.append(F.pad(h, (0, 0, 0, B - n)))
            contexts.append(F.pad(context, (0, 0, 0, B - n)))
            alphas.append(F.pad(alpha, (0, 0, 0, B - n)))
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


def doubly_stochastic_penalty(alphas: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Xu et al. eq. 14: push each position's attention, summed over the caption, towards 1.

    alphas (B, T, P), mask (B, T) true at real tokens; returns the mean over the batch of sum_p (1 - sum_t a)^2.
    """
    total = (alphas * mask.unsqueeze(2)).sum(1)  # (B, P)
    return ((1.0 - total) ** 2).sum(1).mean()


class CaptionModel(nn.Module):
    """An encoder (image -> grid) and a decoder (grid -> words). ``encoder`` may be None when features are cached."""

    def __init__(self, encoder: nn.Module | None, decoder: AttentionDecoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def features(self, images: torch.Tensor) -> torch.Tensor:
        if self.encoder is None:
            raise RuntimeError("this model has no encoder; pass features instead of images")
        return self.encoder(images)  # (B, D, H, W)

    def forward(self, images_or_features: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, T-1, V); images are (B, 3, S, S), features (B, D, H, W) or (B, P, D)."""
        x = images_or_features
        if x.dim() == 4 and x.size(1) == 3:
            x = self.features(x)
        return self.decoder(x, captions)[0]
