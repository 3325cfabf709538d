"""The attention decoder's beam-search step rearranged for inference: the same function, far fewer FLOPs and calls.

``FastDecoder`` is built from a trained ``AttentionDecoder`` (whose own ``step`` stays the reference that training
and tests use) and computes the same log-probabilities:

- every linear map of the previous hidden state (attention query, context gate, the LSTM's recurrent part and, one
  step late, the deep output's hidden part) is one matmul at the end of each step, kept with the beam's state;
- the LSTM's input map of the word embedding is a lookup table (V, 4H), its map of the context one matmul with the
  deep output's;
- the projected grid and the attention keys are kept once per image (``memory_per_image``), not once per beam:
  the image's beams attend to them together (one (R, P) x (P, F) matmul per image instead of R of (1, P) x (P, F));
- the attention's tanh is evaluated as ``tanh(x) = 2 sigmoid(2x) - 1``, the 2s folded into the keys and the score
  weights and the -1 dropped (a constant added to every position's score cancels in the softmax): PyTorch's CPU
  tanh is several times slower than its sigmoid over the (B, R, P, A) tensor that dominates the step;
- with ``precision="bf16"`` the matmuls of the grid (projection, keys), the hidden state and the context run in
  bfloat16 (AVX-512 BF16 / AMX kernels, 2.5x float32's speed here; sums in float32, results rounded); the classifier
  (rounding the logits to bfloat16 changes 5% of Flickr8k test captions, against 0.5% for all the rest), the
  attention and the LSTM's cell stay float32.

Legend: N rows (beams), B images, R = N / B beams per image, P grid positions, D encoder channels, F projected
feature dims, A attention dims, E embedding dims, H hidden dims, V vocabulary.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from captioner.model.beam import Tensors
from captioner.model.decoder import AttentionDecoder

PRECISIONS = ("fp32", "bf16")


class FastDecoder(nn.Module):
    """Inference-only twin of an ``AttentionDecoder``: ``start`` and ``step`` as beam search calls them."""

    memory_per_image = True  # beam search passes memory (B, ...), each image's R beams consecutive rows of the state

    def __init__(self, decoder: AttentionDecoder, precision: str = "fp32"):
        super().__init__()
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        cfg = decoder.config
        self.config, self.precision = cfg, precision
        self.deep = cfg.deep_output
        mm_dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        d = decoder
        with torch.no_grad():
            w_ih = d.lstm.weight_ih.float()  # (4H, E + F): [embedding | context] columns
            E = cfg.embed_dim
            # the hidden state's maps, one matmul: [2 x attention query | gate | LSTM recurrent | deep output]
            parts = [2 * d.att_hidden.weight, d.gate.weight, d.lstm.weight_hh]
            biases = [2 * d.att_hidden.bias, d.gate.bias, d.lstm.bias_hh + d.lstm.bias_ih]
            if self.deep:
                parts.append(d.out_hidden.weight)
                biases.append(d.out_hidden.bias)
            self.sizes = [p.size(0) for p in parts]
            self.hidden_b = nn.Parameter(torch.cat(biases).float(), requires_grad=False)  # first: decode's dtype
            self.hidden_w = nn.Parameter(torch.cat(parts).float().to(mm_dtype), requires_grad=False)
            # the context's maps: [LSTM input | deep output]
            ctx = [w_ih[:, E:]] + ([d.out_context.weight.float()] if self.deep else [])
            self.context_w = nn.Parameter(torch.cat(ctx).to(mm_dtype), requires_grad=False)
            self.word_gates = nn.Parameter(d.embed.weight.float() @ w_ih[:, :E].t(), requires_grad=False)  # (V, 4H)
            self.embed = nn.Parameter(d.embed.weight.float().clone(), requires_grad=False)  # (V, E)
            self.score_w = nn.Parameter(2 * d.att_score.weight.float().view(-1, 1), requires_grad=False)  # (A, 1)
            # float32 in every precision: bfloat16 logits change 5% of the captions (see the module's docstring)
            self.classifier_w = nn.Parameter(d.classifier.weight.float(), requires_grad=False)
            self.classifier_b = nn.Parameter(d.classifier.bias.float(), requires_grad=False)
            # the grid's projection and attention keys, once per image: (P, D) x (D, F) and (P, F) x (F, A)
            self.proj_w = nn.Parameter(d.feature_proj[0].weight.float().to(mm_dtype), requires_grad=False)
            self.proj_b = nn.Parameter(d.feature_proj[0].bias.float(), requires_grad=False)
            self.keys_w = nn.Parameter(2 * d.att_feature.weight.float().to(mm_dtype), requires_grad=False)
            self.keys_b = nn.Parameter(2 * d.att_feature.bias.float(), requires_grad=False)
        self.init_h, self.init_c = d.init_h, d.init_c

    def _mm(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
        """x (N, in) @ w (out, in).T (+ b) in the matmul precision, float32 out."""
        y = torch.mm(x.to(w.dtype), w.t()).float()
        return y if b is None else y.add_(b)

    def start(self, features: torch.Tensor) -> tuple[Tensors, Tensors]:
        """Memory (projected grid, 2x attention keys) and state (h, c, the hidden maps of h) for (B, P, D) or
        (B, D, H, W) features."""
        if features.dim() == 4:
            features = features.flatten(2).transpose(1, 2)  # (B, P, D)
        B, P, D = features.shape
        feats = torch.relu_(self._mm(features.reshape(B * P, D), self.proj_w, self.proj_b))  # (B*P, F)
        keys = self._mm(feats, self.keys_w, self.keys_b).view(B, P, -1)  # (B, P, A), doubled
        feats = feats.view(B, P, -1)  # (B, P, F)
        mean = feats.mean(1)  # (B, F)
        h, c = torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean))  # (B, H)
        return (feats, keys), (h, c, self._mm(h, self.hidden_w, self.hidden_b))

    def step(self, tokens: torch.Tensor, state: Tensors, memory: Tensors) -> tuple[torch.Tensor, Tensors, torch.Tensor]:
        """Log-probabilities (N, V) of the token after ``tokens`` (N,), the new state, attention (N, P).

        ``memory`` has one row per image (B rows; B = N also works: one beam per row) and N is a multiple of B."""
        h, c, hidden = state
        feats, keys = memory  # (B, P, F), (B, P, A)
        N, (B, P, A) = h.size(0), keys.shape
        query, gate, recurrent = hidden[:, : sum(self.sizes[:3])].split(self.sizes[:3], 1)  # (N, A), (N, F), (N, 4H)
        z = torch.sigmoid_(keys.unsqueeze(1) + query.view(B, N // B, 1, A))  # (B, R, P, A): (tanh + 1) / 2
        alpha = torch.matmul(z, self.score_w).view(B, N // B, P).softmax(2)  # (B, R, P)
        context = torch.bmm(alpha, feats).view(N, -1)  # (N, F)
        context = torch.sigmoid(gate).mul_(context)  # (N, F)
        ctx = self._mm(context, self.context_w)  # (N, 4H [+ E])
        gates = ctx[:, : recurrent.size(1)].add_(recurrent).add_(self.word_gates.index_select(0, tokens))  # (N, 4H)
        i, f, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(f).mul_(c).add_(torch.sigmoid(i).mul_(torch.tanh(g)))  # (N, H)
        h = torch.sigmoid(o).mul_(torch.tanh(c))  # (N, H)
        hidden = self._mm(h, self.hidden_w, self.hidden_b)  # (N, A + F + 4H [+ E]): next step's maps of h
        if self.deep:
            out = hidden[:, sum(self.sizes[:3]) :].add_(ctx[:, recurrent.size(1) :])  # (N, E)
            out = torch.tanh_(out.add_(self.embed.index_select(0, tokens)))
        else:
            out = h
        logits = self._mm(out, self.classifier_w, self.classifier_b)  # (N, V)
        return F.log_softmax(logits, -1), (h, c, hidden), alpha.view(N, P)
