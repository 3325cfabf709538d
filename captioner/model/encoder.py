"""Image encoders: a small registry of ImageNet CNNs, each cut into a feature trunk and its ImageNet head.

As in timm, features and head are separate calls: ``forward_features`` (uint8 photos in, (B, P, D) grid out, the
normalisation included) is the one feature path every caller uses; ``forward_head`` maps those same features to
ImageNet logits, never a second pass through the network.

Legend: B batch, S image size, D feature dims, H/W grid height/width, P grid positions (H*W).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from captioner.errors import CaptionerError
from captioner.model.efficientnet_lite import LITE_MEAN, LITE_STD, efficientnet_lite0

Builder = Callable[[bool], tuple[nn.Module, nn.Module]]  # pretrained -> (trunk, head)


@dataclass(frozen=True)
class EncoderSpec:
    """What a caption model needs to know about an encoder: its output width and its preprocessing."""

    name: str
    channels: int  # D of the grid
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    image_size: int = 224  # images are resized (stretched) to image_size x image_size
    stride: int = 32  # input pixels per grid cell

    @property
    def grid(self) -> tuple[int, int]:
        """(H, W) of the feature grid."""
        side = self.image_size // self.stride
        return side, side


class Normalizer(nn.Module):
    """uint8 (B, 3, S, S) -> float (B, 3, S, S) normalised with an encoder's mean and std, in one fused step."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        std_t = torch.tensor(std).view(1, 3, 1, 1)
        self.register_buffer("scale", 1.0 / (255.0 * std_t), persistent=False)
        self.register_buffer("shift", -torch.tensor(mean).view(1, 3, 1, 1) / std_t, persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift, images.float(), self.scale)


class Encoder(nn.Module):
    """A backbone's feature trunk (``features``) and ImageNet head (``head``), with its own normalisation."""

    def __init__(self, spec: EncoderSpec, features: nn.Module, head: nn.Module):
        super().__init__()
        self.spec = spec
        self.normalize = Normalizer(spec.mean, spec.std)
        self.features = features
        self.head = head
        self.channels_last = False

    def use_channels_last(self) -> Encoder:
        """Run the trunk in channels-last memory format (faster for eager CPU inference, identical results)."""
        self.features.to(memory_format=torch.channels_last)
        self.channels_last = True
        return self

    def forward_features(self, images: torch.Tensor, grad_blocks: int = 0) -> torch.Tensor:
        """Photos (B, 3, S, S), uint8 or float in 0..255, to grid features (B, P, D).

        With ``grad_blocks`` > 0 only the last ``grad_blocks`` modules of the trunk record gradients (encoder
        fine-tuning); the rest runs frozen, without autograd.
        """
        x = self.normalize(images)  # (B, 3, S, S)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if grad_blocks:
            cut = len(self.features) - grad_blocks
            with torch.no_grad():
                x = self.features[:cut](x)
            x = self.features[cut:](x)
        else:
            x = self.features(x)  # (B, D, H, W)
        return x.flatten(2).transpose(1, 2)  # (B, P, D)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (B, classes) from grid features (B, P, D): the head on their mean (global pooling)."""
        return self.head(features.float().mean(1))  # (B, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_features(images)

    def trunk_state(self) -> dict[str, torch.Tensor]:
        """A CPU copy of the trunk's weights under ``features.*`` (what a checkpoint stores for a tuned encoder)."""
        return {f"features.{k}": v.detach().clone().cpu() for k, v in self.features.state_dict().items()}

    def load_trunk_state(self, state: dict[str, torch.Tensor]) -> None:
        self.features.load_state_dict({k.removeprefix("features."): v for k, v in state.items()})


# ---------------------------------------------------------------------------------------------------------------
# The builders: pretrained -> (trunk, head).


def _build_lite0(pretrained: bool) -> tuple[nn.Module, nn.Module]:
    model = efficientnet_lite0(pretrained)
    return model.features, model.classifier


_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _torchvision(name: str, weights_name: str, split: Callable[[nn.Module], tuple[nn.Module, nn.Module]]) -> Builder:
    def build(pretrained: bool) -> tuple[nn.Module, nn.Module]:
        import torchvision.models as tvm

        weights = tvm.get_weight(weights_name) if pretrained else None
        try:
            model = tvm.get_model(name, weights=weights)
        except (OSError, RuntimeError) as e:  # URLError is an OSError; a broken download is a RuntimeError
            raise CaptionerError(
                f"could not get the pretrained weights for encoder {name!r} ({weights.url}): "
                f"{e}. They are downloaded once into {torch.hub.get_dir()}/checkpoints; "
                "connect to the internet or put the file there."
            ) from None
        return split(model)

    return build


def _resnet_split(model: nn.Module) -> tuple[nn.Module, nn.Module]:
    return nn.Sequential(*list(model.children())[:-2]), model.fc  # trunk without avgpool and fc


def _features_split(model: nn.Module) -> tuple[nn.Module, nn.Module]:
    return model.features, model.classifier


_REGISTRY: dict[str, tuple[EncoderSpec, Builder]] = {
    "efficientnet_lite0": (EncoderSpec("efficientnet_lite0", 1280, LITE_MEAN, LITE_STD), _build_lite0),
    "resnet50": (
        EncoderSpec("resnet50", 2048, _IMAGENET_MEAN, _IMAGENET_STD),
        _torchvision("resnet50", "ResNet50_Weights.IMAGENET1K_V2", _resnet_split),
    ),
    "resnet101": (
        EncoderSpec("resnet101", 2048, _IMAGENET_MEAN, _IMAGENET_STD),
        _torchvision("resnet101", "ResNet101_Weights.IMAGENET1K_V2", _resnet_split),
    ),
    "mobilenet_v3_large": (
        EncoderSpec("mobilenet_v3_large", 960, _IMAGENET_MEAN, _IMAGENET_STD),
        _torchvision("mobilenet_v3_large", "MobileNet_V3_Large_Weights.IMAGENET1K_V2", _features_split),
    ),
    "efficientnet_b0": (
        EncoderSpec("efficientnet_b0", 1280, _IMAGENET_MEAN, _IMAGENET_STD),
        _torchvision("efficientnet_b0", "EfficientNet_B0_Weights.IMAGENET1K_V1", _features_split),
    ),
}


def list_encoders() -> list[str]:
    return sorted(_REGISTRY)


def encoder_spec(name: str) -> EncoderSpec:
    """The spec of a registered encoder; an unknown name is an error listing the valid ones."""
    if name not in _REGISTRY:
        raise CaptionerError(f"unknown encoder {name!r}; choose one of: {', '.join(list_encoders())}")
    return _REGISTRY[name][0]


def build_encoder(name: str, pretrained: bool = True) -> Encoder:
    """Build encoder ``name`` in eval mode; ``pretrained=False`` gives random weights (for tests)."""
    spec = encoder_spec(name)
    trunk, head = _REGISTRY[name][1](pretrained)
    return Encoder(spec, trunk, head).eval()
