"""FastDecoder computes what AttentionDecoder.step computes: same log-probabilities, same beams."""

import pytest
import torch

from captioner.model.beam import beam_search
from captioner.model.decoder import AttentionDecoder, DecoderConfig
from captioner.model.fast_decoder import FastDecoder


def small_decoder(**kw) -> AttentionDecoder:
    torch.manual_seed(0)
    cfg = DecoderConfig(
        vocab_size=30, feature_dim=16, feature_proj_dim=12, embed_dim=10, hidden_dim=14, attention_dim=9, **kw
    )
    dec = AttentionDecoder(cfg).eval()
    with torch.no_grad():
        for p in dec.parameters():  # trained-like magnitudes: untrained biases are too small to test much
            p.mul_(3)
    return dec


@pytest.mark.parametrize("deep_output", [True, False])
def test_fp32_steps_match_the_reference_step(deep_output):
    dec = small_decoder(deep_output=deep_output)
    fast = FastDecoder(dec)
    feats = torch.randn(5, 4, 16)  # (B, P, D)
    with torch.inference_mode():
        (m1, s1), (m2, s2) = dec.start(feats), fast.start(feats)
        for t in range(6):
            tokens = torch.randint(0, 30, (5,), generator=torch.Generator().manual_seed(t))
            logp1, s1, a1 = dec.step(tokens, s1, m1)
            logp2, s2, a2 = fast.step(tokens, s2, m2)
            assert torch.allclose(logp1, logp2, atol=1e-4), (logp1 - logp2).abs().max()
            assert torch.allclose(a1, a2, atol=1e-5)
            assert torch.allclose(s1[0], s2[0], atol=1e-5) and torch.allclose(s1[1], s2[1], atol=1e-5)


def test_grid_features_are_accepted():
    dec = small_decoder()
    grid = torch.randn(2, 16, 2, 2)  # (B, D, H, W)
    with torch.inference_mode():
        logp1, _, _ = dec.step(torch.tensor([1, 2]), dec.start(grid)[1], dec.start(grid)[0])
        m, s = FastDecoder(dec).start(grid)
        logp2, _, _ = FastDecoder(dec).step(torch.tensor([1, 2]), s, m)
    assert torch.allclose(logp1, logp2, atol=1e-4)


def test_beam_search_finds_the_same_captions():
    dec = small_decoder()
    feats = torch.randn(6, 4, 16)
    kw = {"beam_size": 3, "max_length": 8, "n_best": 3}
    ref = beam_search(dec, feats, 1, 2, **kw)
    got = beam_search(FastDecoder(dec), feats, 1, 2, **kw)
    assert [[h.tokens for h in hs] for hs in ref] == [[h.tokens for h in hs] for hs in got]
    for hs, gs in zip(ref, got):
        assert [float(h.score) for h in hs] == pytest.approx([float(g.score) for g in gs], abs=1e-4)


def test_bf16_stays_close_to_fp32():
    """bfloat16 matmuls (emulated where the CPU lacks them): log-probabilities within bfloat16's rounding."""
    dec = small_decoder()
    feats = torch.randn(4, 4, 16)
    fast, half = FastDecoder(dec), FastDecoder(dec, "bf16")
    assert half.hidden_w.dtype == half.proj_w.dtype == torch.bfloat16 and half.classifier_w.dtype == torch.float32
    with torch.inference_mode():
        (m1, s1), (m2, s2) = fast.start(feats), half.start(feats)
        tokens = torch.tensor([1, 5, 7, 9])
        for _ in range(4):
            logp1, s1, _ = fast.step(tokens, s1, m1)
            logp2, s2, _ = half.step(tokens, s2, m2)
            assert (logp1.exp() - logp2.exp()).abs().max() < 0.05
            assert logp2.dtype == torch.float32


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision"):
        FastDecoder(small_decoder(), "fp8")
