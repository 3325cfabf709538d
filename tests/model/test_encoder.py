import urllib.error

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from captioner.data.images import to_tensor
from captioner.errors import CaptionerError
from captioner.model.efficientnet_lite import SameConv2d, efficientnet_lite0
from captioner.model.encoder import Normalizer, build_encoder, encoder_spec, list_encoders

skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def lite0():
    return efficientnet_lite0(pretrained=True)


def top1(model, array):
    img = Image.fromarray(array).convert("RGB")
    x = Normalizer(encoder_spec("efficientnet_lite0").mean, encoder_spec("efficientnet_lite0").std)(
        to_tensor(img, 224)[None]
    )
    with torch.inference_mode():
        return int(model(x).argmax())


def test_lite0_port_classifies_real_photos(lite0):
    import torchvision

    categories = torchvision.models.ResNet50_Weights.IMAGENET1K_V2.meta["categories"]
    assert "cat" in categories[top1(lite0, skimage_data.chelsea())]  # Egyptian / tiger / tabby cat
    assert categories[top1(lite0, skimage_data.coffee())] == "espresso"


def test_lite0_grid_is_1280x7x7_at_224():
    enc = build_encoder("efficientnet_lite0", pretrained=False)
    with torch.inference_mode():
        assert enc.forward_features(torch.zeros(2, 3, 224, 224, dtype=torch.uint8)).shape == (2, 49, 1280)
    assert enc.spec.grid == (7, 7)
    assert enc.spec.mean == pytest.approx((0.498,) * 3, abs=1e-3)
    assert enc.spec.std == pytest.approx((0.502,) * 3, abs=1e-3)


def test_lite0_uses_relu6_and_no_squeeze_excitation(lite0):
    kinds = {type(m).__name__ for m in lite0.modules()}
    assert "ReLU6" in kinds and "ReLU" not in kinds and "SqueezeExcitation" not in kinds
    assert sum(1 for m in lite0.modules() if isinstance(m, SameConv2d)) == 5  # the stem and 4 stride-2 stages


@pytest.mark.parametrize("size,kernel", [(224, 3), (56, 5), (7, 3), (15, 5)])
def test_same_padding_matches_tensorflow(size, kernel):
    conv = SameConv2d(2, 3, kernel, stride=2, bias=False)
    x = torch.randn(1, 2, size, size)
    out_size = -(-size // 2)
    total = max((out_size - 1) * 2 + kernel - size, 0)
    before, after = total // 2, total - total // 2  # TensorFlow puts the odd pixel after
    expected = F.conv2d(F.pad(x, (before, after, before, after)), conv.weight, stride=2)
    assert torch.allclose(conv(x), expected)
    assert conv(x).shape[-1] == out_size


@pytest.mark.parametrize(
    "name,channels", [("resnet50", 2048), ("resnet101", 2048), ("mobilenet_v3_large", 960), ("efficientnet_b0", 1280)]
)
def test_torchvision_backbones_give_grids(name, channels):
    enc = build_encoder(name, pretrained=False)
    assert enc.spec.channels == channels
    with torch.inference_mode():
        features = enc.forward_features(torch.zeros(1, 3, 224, 224, dtype=torch.uint8))
        assert features.shape == (1, 49, channels)
        assert enc.forward_head(features).shape == (1, 1000)


def test_offline_download_is_a_clear_error(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(CaptionerError, match="could not get the pretrained weights.*resnet50"):
        build_encoder("resnet50", pretrained=True)


def test_unknown_encoder_lists_the_valid_ones():
    with pytest.raises(CaptionerError, match="efficientnet_lite0.*resnet50"):
        build_encoder("vgg99")
    assert "efficientnet_lite0" in list_encoders()


def test_normalizer_matches_lite_preprocessing():
    x = torch.tensor(np.arange(256, dtype=np.uint8)).repeat(3, 1).view(1, 3, 16, 16)
    spec = encoder_spec("efficientnet_lite0")
    assert torch.allclose(Normalizer(spec.mean, spec.std)(x), (x.float() - 127) / 128, atol=1e-5)


def test_forward_head_is_the_classifier_on_the_same_features(lite0):
    """The ImageNet head runs on forward_features' output: no second pass, the same logits as the whole network."""
    enc = build_encoder("efficientnet_lite0")
    x = to_tensor(Image.fromarray(skimage_data.coffee()).convert("RGB"), 224)[None]  # (1, 3, 224, 224) uint8
    with torch.inference_mode():
        logits = enc.forward_head(enc.forward_features(x))
        spec = encoder_spec("efficientnet_lite0")
        whole = lite0(Normalizer(spec.mean, spec.std)(x))
    assert logits.shape == (1, 1000)
    assert torch.allclose(logits, whole, atol=1e-4)
    assert int(logits.argmax()) == 967  # espresso


def test_channels_last_gives_the_same_features():
    enc = build_encoder("efficientnet_lite0", pretrained=False)
    x = torch.randint(0, 256, (2, 3, 96, 96), dtype=torch.uint8)
    with torch.inference_mode():
        plain = enc.forward_features(x)
        fast = enc.use_channels_last().forward_features(x)
    assert torch.allclose(plain, fast, atol=1e-4)


def test_captioning_imports_neither_torchvision_nor_dynamo(tmp_path):
    """torchvision.ops imports torch._dynamo (triton, sympy): 170 MB and 1.2 s in every captioning process."""
    import subprocess
    import sys

    Image.fromarray(skimage_data.coffee()).save(tmp_path / "coffee.jpg")
    code = (
        "import sys\n"
        "from captioner.cli import main\n"
        f"main(['caption', {str(tmp_path / 'coffee.jpg')!r}, '-q'], standalone_mode=False)\n"
        "bad = [m for m in ('torchvision', 'torch._dynamo', 'sympy') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "coffee" in run.stdout
