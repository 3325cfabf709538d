"""Choosing the torch device from the ``--device`` options (auto, cpu, cuda)."""

from __future__ import annotations

import torch

from captioner.errors import CaptionerError


def pick_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA when a GPU is there, else the CPU; ``cuda`` without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise CaptionerError("--device cuda: no CUDA GPU is available here")
    return torch.device(name)
