"""--precision: what auto means on CPUs with and without bfloat16, one-line errors, and the int8 encoder."""

import pytest
import torch

from captioner.errors import CaptionerError
from captioner.photos.precision import resolve_precision

AVX512_BF16 = frozenset({"avx2", "avx512f", "avx512_bf16", "avx512_vnni"})
AVX2 = frozenset({"avx2", "fma"})
AMX = frozenset({"avx2", "avx512f", "amx_bf16", "amx_int8"})


def test_auto_is_bf16_where_the_cpu_has_it_and_fp32_elsewhere():
    assert resolve_precision("auto", flags=AVX512_BF16).name == "bf16"
    assert resolve_precision("auto", flags=AMX).decoder == "bf16"
    auto = resolve_precision("auto", flags=AVX2)
    assert (auto.name, auto.encoder, auto.decoder) == ("fp32", "fp32", "fp32")
    assert "auto" in str(auto)


def test_auto_never_quantises_the_encoder():
    for flags in (AVX512_BF16, AVX2, AMX):
        assert resolve_precision("auto", flags=flags).encoder == "fp32"


def test_int8_keeps_the_decoder_in_what_the_cpu_runs_fast():
    assert resolve_precision("int8", flags=AVX512_BF16).decoder == "bf16"
    assert resolve_precision("int8", flags=AVX2).decoder == "fp32"
    assert resolve_precision("int8", flags=AVX2).encoder == "int8"


def test_bad_requests_are_one_line_errors():
    with pytest.raises(CaptionerError, match="AVX-512 BF16 or AMX") as e:
        resolve_precision("bf16", flags=AVX2)
    assert "\n" not in str(e.value)
    with pytest.raises(CaptionerError, match="unknown precision"):
        resolve_precision("fp16")
    with pytest.raises(CaptionerError, match="for the CPU"):
        resolve_precision("int8", "cuda")
    assert resolve_precision("auto", "cuda").name == "fp32"


def test_the_shipped_int8_encoder_is_close_to_fp32():
    pytest.importorskip("onnxruntime")
    from captioner.model.encoder import build_encoder
    from captioner.model.onnx import OnnxEncoder, int8_path

    encoder = build_encoder("efficientnet_lite0")
    path = int8_path(encoder)
    if path is None:
        pytest.skip("no int8 graph shipped for this encoder")
    torch.manual_seed(0)
    images = torch.nn.functional.interpolate(torch.rand(2, 3, 28, 28) * 255, size=224, mode="bilinear").to(torch.uint8)
    with torch.inference_mode():
        ref = encoder.forward_features(images)
    got = OnnxEncoder(path)(images)
    assert got.shape == ref.shape
    cos = torch.nn.functional.cosine_similarity(got.flatten(1), ref.flatten(1))
    assert cos.min() > 0.9  # int8 (u8s8, with or without VNNI): ~0.99 on photos


def test_int8_graph_of_other_weights_is_not_used():
    pytest.importorskip("onnxruntime")
    from captioner.model.encoder import build_encoder
    from captioner.model.onnx import int8_path, onnx_encoder

    encoder = build_encoder("efficientnet_lite0", pretrained=False)
    assert int8_path(encoder) is None
    with pytest.raises(CaptionerError, match="no int8 graph"):
        onnx_encoder(encoder, "unused", "int8")
