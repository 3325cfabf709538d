import pytest
import torch

from captioner.model.caption_model import CaptionModel
from captioner.model.decoder import AttentionDecoder, DecoderConfig
from captioner.training.losses import doubly_stochastic_penalty


def small_decoder(**kw):
    torch.manual_seed(0)
    cfg = DecoderConfig(
        vocab_size=20, feature_dim=16, feature_proj_dim=12, embed_dim=10, hidden_dim=14, attention_dim=9, **kw
    )
    return AttentionDecoder(cfg).eval()


@pytest.mark.parametrize("deep_output", [True, False])
def test_teacher_forcing_equals_step_by_step(deep_output):
    dec = small_decoder(deep_output=deep_output)
    feats = torch.randn(3, 16, 2, 2)  # (B, D, H, W)
    caps = torch.randint(4, 20, (3, 7))
    logits, alphas = dec(feats, caps)
    assert logits.shape == (3, 6, 20) and alphas.shape == (3, 6, 4)
    memory, state = dec.start(feats)
    for t in range(6):
        logp, state, alpha = dec.step(caps[:, t], state, memory)
        assert torch.allclose(logp, logits[:, t].log_softmax(-1), atol=1e-5)
        assert torch.allclose(alpha, alphas[:, t], atol=1e-6)


def test_length_skipping_and_image_index_do_not_change_valid_outputs():
    dec = small_decoder()
    feats = torch.randn(2, 4, 16)  # (I, P, D)
    index = torch.tensor([1, 0, 1, 0])
    lengths = [7, 5, 4, 2]
    caps = torch.randint(4, 20, (4, 7))
    for i, n in enumerate(lengths):
        caps[i, n:] = 0
    full, _ = dec(feats[index], caps)
    fast, alphas = dec(feats, caps, index, lengths)
    for i, n in enumerate(lengths):
        assert torch.allclose(full[i, : n - 1], fast[i, : n - 1], atol=1e-5)
        assert torch.all(alphas[i, n - 1 :] == 0)


def test_doubly_stochastic_penalty_is_zero_when_each_position_sums_to_one():
    alphas = torch.eye(3).unsqueeze(0)  # (1, T=3, P=3): step t looks only at position t
    assert doubly_stochastic_penalty(alphas, torch.ones(1, 3, dtype=torch.bool)) == 0
    assert doubly_stochastic_penalty(alphas, torch.tensor([[True, True, False]])) == pytest.approx(1 / 3)


def test_caption_model_takes_images_or_features():
    from captioner.model.encoder import build_encoder

    enc = build_encoder("efficientnet_lite0", pretrained=False)
    dec = AttentionDecoder(
        DecoderConfig(vocab_size=12, feature_dim=1280, feature_proj_dim=8, embed_dim=8, hidden_dim=8, attention_dim=8)
    )
    model = CaptionModel(enc, dec).eval()
    caps = torch.randint(4, 12, (2, 5))
    images = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    with torch.no_grad():
        feats = enc.forward_features(images)  # (2, P, D)
        assert feats.shape == (2, 4, 1280)
        assert torch.allclose(model(images, caps), model(feats, caps), atol=1e-5)


def test_packed_logits_are_the_real_tokens_of_the_padded_ones():
    from captioner.model.decoder import pack_targets

    dec = small_decoder()
    feats = torch.randn(2, 4, 16)
    index, lengths = torch.tensor([0, 1, 1]), [6, 4, 3]
    caps = torch.randint(4, 20, (3, 6))
    for i, n in enumerate(lengths):
        caps[i, n:] = 0
    padded, _ = dec(feats, caps, index, lengths)
    packed, _ = dec(feats, caps, index, lengths, packed=True)
    targets = pack_targets(caps, lengths)
    assert packed.shape == (sum(n - 1 for n in lengths), 20) and targets.shape == (packed.size(0),)
    rows = [(i, t) for t in range(5) for i, n in enumerate(lengths) if n - 1 > t]
    for k, (i, t) in enumerate(rows):
        assert torch.allclose(packed[k], padded[i, t], atol=1e-5)
        assert targets[k] == caps[i, t + 1]


def test_sampling_log_probabilities_and_top_k():
    dec = small_decoder()
    feats = torch.randn(2, 16, 2, 2)
    torch.manual_seed(1)
    seqs, lengths, logp = dec.sample(feats, n=3, max_length=6, start=1, end=2, banned=(0, 3))
    assert seqs.shape[0] == 6 and logp.requires_grad
    assert not torch.isin(seqs, torch.tensor([0, 1, 3])).any()  # never <pad>, <start> or a banned word
    # the summed log-probability is that of the sampled words, <end> included, under teacher forcing
    memory, state = dec.start(feats.repeat_interleave(3, 0))
    tokens, total = torch.full((6,), 1), torch.zeros(6)
    for t in range(seqs.size(1)):
        step_logp, state, _ = dec.step(tokens, state, memory)
        tokens = seqs[:, t]
        total += step_logp.gather(1, tokens[:, None]).squeeze(1) * (t < lengths).float()
    assert torch.allclose(total, logp.detach(), atol=1e-5)
    # top_k=1 is greedy: the most likely allowed word at every step
    greedy, _, _ = dec.sample(feats, n=2, max_length=6, start=1, end=2, banned=(0, 3), top_k=1)
    memory, state = dec.start(feats.repeat_interleave(2, 0))
    tokens = torch.full((4,), 1)
    for t in range(greedy.size(1)):
        step_logp, state, _ = dec.step(tokens, state, memory)
        step_logp[:, [0, 1, 3]] = -float("inf")
        alive = (greedy[:, :t] != 2).all(1)
        assert torch.equal(greedy[alive, t], step_logp.argmax(1)[alive])
        tokens = greedy[:, t]
