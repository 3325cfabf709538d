"""Loading weights into a module with one clear error when they do not fit."""

from __future__ import annotations

import torch
from torch import nn

from captioner.errors import CaptionerError


def load_checked(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """``load_state_dict(strict=True)`` after checking names and shapes, with one clear error if they differ."""
    own = module.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise CaptionerError(
            f"{source}: weights do not fit the model (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    for key, value in state.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise CaptionerError(
                f"{source}: {key} has shape {tuple(value.shape)}, the model expects {tuple(own[key].shape)}"
            )
    module.load_state_dict(state, strict=True)
