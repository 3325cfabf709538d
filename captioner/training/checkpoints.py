"""What a training run writes: the best checkpoint, the resumable state beside it, and where its logs go."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from captioner.errors import CaptionerError
from captioner.model.checkpoint import Checkpoint, read_checkpoint
from captioner.model.decoder import DecoderConfig
from captioner.model.vocab import Vocabulary
from captioner.training.config import Recipe


def resume_path(out: Path) -> Path:
    return out.with_name(out.name + ".resume")


def metrics_path(out: Path) -> Path:
    return out.parent / "metrics.jsonl"


def cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of ``module``'s weights."""
    return {k: v.detach().clone().cpu() for k, v in module.state_dict().items()}


def load_resume(out: Path, vocab: Vocabulary, config: DecoderConfig, recipe: Recipe, world_size: int) -> Checkpoint:
    """The resumable state saved beside ``out``, after checking it belongs to the same run."""
    path = resume_path(out)
    if not path.is_file():
        raise CaptionerError(f"{path}: nothing to resume (no such file)")
    saved = read_checkpoint(path)
    if saved.vocab != vocab or asdict(saved.config) != asdict(config):
        raise CaptionerError(f"{path}: was trained with another vocabulary or model configuration")
    ts = saved.train_state or {}
    if ts.get("train_config") != recipe.as_plain() or ts.get("world_size") != world_size:
        raise CaptionerError(
            f"{path}: was started with other training options or another number of processes; resume with the same ones"
        )
    return saved
