"""Extending a trained model's vocabulary keeps every known word's behaviour and starts new words sensibly."""

import pytest
import torch

from captioner.errors import CaptionerError
from captioner.model.checkpoint import Checkpoint, build_model
from captioner.model.decode import DecodeOptions, decode
from captioner.model.decoder import AttentionDecoder, DecoderConfig
from captioner.model.vocab import SPECIALS, Vocabulary
from captioner.model.vocab_extension import extend_vocabulary


def small_checkpoint():
    torch.manual_seed(0)
    vocab = Vocabulary([*SPECIALS, "a", "dog", "horse", "runs", "on", "grass"])
    config = DecoderConfig(
        vocab_size=len(vocab), feature_dim=8, feature_proj_dim=8, embed_dim=6, hidden_dim=8, attention_dim=4
    )
    state = AttentionDecoder(config).state_dict()
    return Checkpoint(config, "efficientnet_lite0", vocab, state)


def test_known_words_keep_their_rows_and_captions():
    ckpt = small_checkpoint()
    bigger, added = extend_vocabulary(ckpt, ["zebra", "dog", "canine"], {"zebra": "horse"})
    assert added == ["zebra", "canine"] and bigger.vocab.words[-2:] == ["zebra", "canine"]
    assert bigger.config.vocab_size == len(ckpt.vocab) + 2
    for key, rows in ckpt.decoder_state.items():
        assert torch.equal(bigger.decoder_state[key][: rows.shape[0]], rows), key
    zebra, horse = bigger.vocab.index["zebra"], bigger.vocab.index["horse"]
    for key in ("embed.weight", "classifier.weight", "classifier.bias"):
        assert torch.equal(bigger.decoder_state[key][zebra], bigger.decoder_state[key][horse])  # DCC transfer
    canine = bigger.decoder_state["embed.weight"][bigger.vocab.index["canine"]]
    assert torch.allclose(canine, ckpt.decoder_state["embed.weight"][len(SPECIALS) :].mean(0))  # the mean start
    feats = torch.randn(3, 5, 8)
    options = DecodeOptions(beam_size=2, max_length=6)
    before = [c[0].text for c in decode(build_model(ckpt, with_encoder=False).decoder, feats, ckpt.vocab, options)]
    model = build_model(bigger, with_encoder=False)  # loads: the new shapes fit
    with torch.no_grad():  # with the new words' logits pushed out of reach, decoding is exactly as before
        model.decoder.classifier.bias[-2:] = -1e9
    after = [c[0].text for c in decode(model.decoder, feats, bigger.vocab, options)]
    assert before == after


def test_nothing_new_is_the_same_checkpoint_and_bad_sources_are_errors():
    ckpt = small_checkpoint()
    assert extend_vocabulary(ckpt, ["dog", "a"]) == (ckpt, [])
    with pytest.raises(CaptionerError, match="'cat' is not in the vocabulary"):
        extend_vocabulary(ckpt, ["kitten"], {"kitten": "cat"})
