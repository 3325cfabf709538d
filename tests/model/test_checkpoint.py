import os
import pickle

import pytest
import torch

from captioner.errors import CaptionerError
from captioner.model.checkpoint import (
    FORMAT_VERSION,
    Checkpoint,
    build_model,
    read_checkpoint,
    release,
    save_checkpoint,
)
from captioner.model.decoder import AttentionDecoder, DecoderConfig
from captioner.model.vocab import Vocabulary


def make_ckpt():
    vocab = Vocabulary.build(["a red square", "a blue circle"], min_freq=1)
    cfg = DecoderConfig(
        vocab_size=len(vocab), feature_dim=1280, feature_proj_dim=8, embed_dim=8, hidden_dim=8, attention_dim=8
    )
    torch.manual_seed(0)
    dec = AttentionDecoder(cfg)
    return Checkpoint(cfg, "efficientnet_lite0", vocab, dec.state_dict(), meta={"seed": 0})


def test_round_trip(tmp_path):
    ckpt = make_ckpt()
    save_checkpoint(ckpt, tmp_path / "m.pt")
    back = read_checkpoint(tmp_path / "m.pt")
    assert back.vocab == ckpt.vocab and back.config == ckpt.config and back.meta == {"seed": 0}
    for k, v in ckpt.decoder_state.items():
        assert torch.equal(back.decoder_state[k], v)
    raw = torch.load(tmp_path / "m.pt", weights_only=True)
    assert raw["format_version"] == FORMAT_VERSION and isinstance(raw["vocab"], list)


def test_release_is_half_and_builds(tmp_path):
    small = release(make_ckpt())
    assert all(v.dtype == torch.float16 for v in small.decoder_state.values() if v.is_floating_point())
    save_checkpoint(small, tmp_path / "r.pt")
    model = build_model(read_checkpoint(tmp_path / "r.pt"), with_encoder=False)
    assert next(model.decoder.parameters()).dtype == torch.float32


def test_truncated_file(tmp_path):
    save_checkpoint(make_ckpt(), tmp_path / "m.pt")
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "t.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CaptionerError, match="t.pt: not a readable checkpoint"):
        read_checkpoint(tmp_path / "t.pt")


def test_random_file(tmp_path):
    (tmp_path / "r.pt").write_bytes(os.urandom(5000))
    with pytest.raises(CaptionerError, match="r.pt"):
        read_checkpoint(tmp_path / "r.pt")


def test_other_format_version(tmp_path):
    d = make_ckpt().to_dict()
    d["format_version"] = 99
    torch.save(d, tmp_path / "v.pt")
    with pytest.raises(CaptionerError, match="format version 99"):
        read_checkpoint(tmp_path / "v.pt")


def test_vocab_size_mismatch(tmp_path):
    d = make_ckpt().to_dict()
    d["vocab"] = d["vocab"] + ["extra"]
    d["model_config"]["vocab_size"] += 1
    torch.save(d, tmp_path / "m.pt")
    with pytest.raises(CaptionerError, match="embedding has .* rows but the vocabulary has"):
        read_checkpoint(tmp_path / "m.pt")


def test_state_dict_shape_mismatch_is_clear(tmp_path):
    d = make_ckpt().to_dict()
    d["decoder"]["lstm.weight_hh"] = torch.zeros(3, 3)
    torch.save(d, tmp_path / "m.pt")
    with pytest.raises(CaptionerError, match="lstm.weight_hh has shape"):
        build_model(read_checkpoint(tmp_path / "m.pt"), str(tmp_path / "m.pt"), with_encoder=False)


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_with_code_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    evil = Evil()
    evil.marker = marker
    d = make_ckpt().to_dict()
    d["meta"] = {"x": evil}
    with open(tmp_path / "evil.pt", "wb") as f:
        torch.save(d, f, pickle_module=pickle)
    with pytest.raises(CaptionerError, match="refused to load"):
        read_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


def test_not_a_checkpoint_dict(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "x.pt")
    with pytest.raises(CaptionerError, match="not a captioner checkpoint"):
        read_checkpoint(tmp_path / "x.pt")
    with pytest.raises(CaptionerError, match="no such checkpoint"):
        read_checkpoint(tmp_path / "missing.pt")
