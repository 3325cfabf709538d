"""The typed configuration of training: the recipe, the data, the whole run, and the state a run carries along.

``TrainConfig`` is built once by the CLI and passed down; ``Recipe`` is what a checkpoint records as
``meta["train_config"]`` (and what ``--resume`` insists be unchanged); ``TrainState`` is what a resumable state
file saves besides the weights and the optimizer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from captioner.data.formats import ReadOptions
from captioner.model.decode import DecodeOptions
from captioner.model.decoder import DecoderConfig

PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass
class Recipe:
    """How to train: epochs, batches, learning rates, losses, selection, precision."""

    epochs: int = 8  # teacher-forced (cross-entropy) epochs
    batch_images: int = 32  # images per optimizer step, over all processes and accumulation steps
    lr: float = 5e-4  # peak of the one-cycle schedule
    weight_decay: float = 0.01
    warmup: float = 0.15  # fraction of the steps spent rising to the peak learning rate
    grad_clip: float = 2.0
    label_smoothing: float = 0.1
    attention_reg: float = 1.0  # weight of the doubly-stochastic attention penalty
    max_caption_length: int = 30  # words; longer training captions are cut
    min_word_freq: int = 5
    seed: int = 0
    scst_epochs: int = 0  # self-critical epochs with a CIDEr-D reward after the cross-entropy ones
    scst_lr: float = 2e-5
    scst_samples: int = 5  # sampled captions per image; each one's baseline is the mean reward of the others
    scst_max_length: int = 16
    scst_top_k: int = 5  # sample each word from the k most likely (0: the full distribution)
    average_last: int = 1  # average the weights of the last N epochs of each phase if that scores better
    select_metric: str = "bleu4"  # "bleu4" or "cider": what picks the best epoch on the validation split
    precision: str = "fp32"  # autocast: "bf16" on CPUs/GPUs that support it, "fp16" (with loss scaling) on CUDA
    grad_accum: int = 1  # micro-batches per optimizer step
    fine_tune_encoder_from_epoch: int | None = None  # 1-based; from then on features are computed on the fly
    fine_tune_blocks: int = 3  # trainable modules at the end of the encoder when fine-tuning
    encoder_lr: float = 1e-5
    decode: DecodeOptions = field(default_factory=DecodeOptions)  # validation beam search

    @property
    def total_epochs(self) -> int:
        return self.epochs + self.scst_epochs

    def as_plain(self) -> dict:
        """JSON-like dict (tuples as lists), so recipes compare equal after a checkpoint round trip."""
        import json

        return json.loads(json.dumps(asdict(self)))


@dataclass
class ModelOptions:
    """The decoder sizes a user may choose; the rest of ``DecoderConfig`` follows from the data and encoder."""

    hidden_dim: int = 512
    embed_dim: int = 512
    attention_dim: int = 512
    dropout: float = 0.5

    def decoder_config(self, vocab_size: int, feature_dim: int) -> DecoderConfig:
        return DecoderConfig(vocab_size=vocab_size, feature_dim=feature_dim, **asdict(self))


@dataclass
class DataConfig:
    """The caption sources (a file or folder in any format ``data.formats`` reads), their image folders, the
    validation share held out without a validation set, and how features are computed and cached."""

    train_captions: Path
    train_images: Path | None = None  # None: the caption file's folder (or the caption folder itself)
    val_captions: Path | None = None
    val_images: Path | None = None
    read: ReadOptions = field(default_factory=ReadOptions)  # format and columns, for both sources
    val_share: float = 0.1  # of the training photos, held out (seeded) when there is no validation set; 0: none
    max_images: int | None = None  # only the first N images of each split (quick runs)
    cache_dir: Path | None = None  # feature cache; None: $CAPTIONER_CACHE or ~/.cache/captioner
    workers: int = 2  # image-decoding processes
    device: str = "auto"  # where features are computed


@dataclass
class TrainConfig:
    """One ``captioner train`` run, as the CLI built it."""

    data: DataConfig
    output: Path  # the best checkpoint; the run's folder holds metrics.jsonl, curves.png and the resume state
    recipe: Recipe = field(default_factory=Recipe)
    model: ModelOptions = field(default_factory=ModelOptions)
    encoder: str = "efficientnet_lite0"
    train_device: str = "auto"  # where the decoder trains
    resume: bool = False
    init: Path | None = None  # start from this checkpoint's decoder and vocabulary (extended by the new words)
    keep_resume: bool = False  # keep OUTPUT.resume after a finished run (an interrupted run always keeps it)
    progress: bool = False


@dataclass
class TrainState:
    """Where a run is: the next epoch and step, what it has recorded, and the best weights so far."""

    epoch: int = 0
    step: int = 0
    history: list[dict] = field(default_factory=list)  # one row per epoch (and per averaging try)
    best: list[float] | None = None  # (selection metric, -val loss) of the best weights
    best_state: dict[str, Any] | None = None  # the best decoder weights
    recent: list[dict[str, Any]] = field(default_factory=list)  # the last epochs' weights, for averaging
    elapsed: float = 0.0  # training seconds before this process
    encoder_state: dict[str, Any] | None = None  # the encoder that goes with best_state, when it was fine-tuned

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> TrainState:
        return cls(**{f.name: d[f.name] for f in fields(cls)})
