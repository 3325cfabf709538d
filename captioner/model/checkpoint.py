"""One self-describing checkpoint file: plain data only, so ``torch.load(weights_only=True)`` reads it.

Layout (format_version 1)::

    {"format_version": 1, "model_config": {...DecoderConfig}, "encoder": {"name": str, "trained": bool},
     "vocab": [str, ...], "decoder": state_dict, "encoder_state": the trunk's state_dict under "features."
     (only if the encoder was trained),
     "meta": {...}, and, in training checkpoints only, "train_state": {...optimizer, epoch, rng...}}
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from captioner.atomic import atomic_write
from captioner.errors import CaptionerError
from captioner.model.caption_model import CaptionModel
from captioner.model.decoder import AttentionDecoder, DecoderConfig
from captioner.model.encoder import Encoder, build_encoder, encoder_spec
from captioner.model.state import load_checked
from captioner.model.vocab import Vocabulary

FORMAT_VERSION = 1
DEFAULT_WEIGHTS_NAME = "default.pt"


@dataclass
class Checkpoint:
    config: DecoderConfig
    encoder_name: str
    vocab: Vocabulary
    decoder_state: dict[str, torch.Tensor]
    encoder_state: dict[str, torch.Tensor] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    train_state: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {
            "format_version": FORMAT_VERSION,
            "model_config": asdict(self.config),
            "encoder": {"name": self.encoder_name, "trained": self.encoder_state is not None},
            "vocab": list(self.vocab.words),
            "decoder": self.decoder_state,
            "meta": self.meta,
        }
        if self.encoder_state is not None:
            d["encoder_state"] = self.encoder_state
        if self.train_state is not None:
            d["train_state"] = self.train_state
        return d


def save_checkpoint(ckpt: Checkpoint, path: str | os.PathLike) -> None:
    """Write atomically: a crash or full disk never leaves a half-written file at ``path``."""
    with atomic_write(path, "wb") as f:
        torch.save(ckpt.to_dict(), f)


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read and validate a checkpoint; every problem is one ``CaptionerError`` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CaptionerError(f"{path}: no such checkpoint file")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if not zipfile.is_zipfile(path):  # not torch.save's format at all
            raise CaptionerError(f"{path}: not a readable checkpoint (not a PyTorch file)") from None
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(e))
        what = f"it contains {found.group(1)}" if found else "it holds more than plain data"
        raise CaptionerError(f"{path}: refused to load: {what}, not plain weights (never executed)") from None
    except Exception as e:  # noqa: BLE001  torch.load of arbitrary bytes raises anything (IndexError, KeyError, ...)
        if not zipfile.is_zipfile(path):
            raise CaptionerError(f"{path}: not a readable checkpoint (not a PyTorch file)") from None
        raise CaptionerError(
            f"{path}: not a readable checkpoint (truncated or damaged PyTorch file: "
            f"{str(e).splitlines()[0][:120] if str(e) else type(e).__name__})"
        ) from None
    if not isinstance(raw, dict) or "format_version" not in raw:
        raise CaptionerError(f"{path}: not a captioner checkpoint (no format_version)")
    if raw["format_version"] != FORMAT_VERSION:
        raise CaptionerError(
            f"{path}: checkpoint format version {raw['format_version']!r}; this captioner reads "
            f"version {FORMAT_VERSION}"
        )
    try:
        config, vocab, encoder_name, decoder_state = _fields(raw)
    except CaptionerError as e:
        raise CaptionerError(f"{path}: {e}") from None
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise CaptionerError(f"{path}: checkpoint is missing or has a malformed field ({e})") from None
    try:
        encoder_spec(encoder_name)
    except CaptionerError as e:
        raise CaptionerError(f"{path}: {e}") from None
    if config.vocab_size != len(vocab):
        raise CaptionerError(f"{path}: config says {config.vocab_size} words but the vocabulary has {len(vocab)}")
    emb = decoder_state.get("embed.weight")
    if emb is None or emb.shape[0] != len(vocab):
        rows = None if emb is None else emb.shape[0]
        raise CaptionerError(f"{path}: the embedding has {rows} rows but the vocabulary has {len(vocab)} words")
    return Checkpoint(
        config,
        encoder_name,
        vocab,
        decoder_state,
        raw.get("encoder_state"),
        raw.get("meta", {}),
        raw.get("train_state"),
    )


def _tensors(state: object, what: str) -> dict[str, torch.Tensor]:
    if not isinstance(state, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()):
        raise CaptionerError(f"checkpoint field {what!r} is not a mapping of names to tensors")
    return state


def _fields(raw: dict) -> tuple[DecoderConfig, Vocabulary, str, dict[str, torch.Tensor]]:
    """The typed fields of a raw checkpoint dict; a wrong type is a ``CaptionerError`` (or a KeyError/TypeError)."""
    kinds = {f.name: f.type for f in fields(DecoderConfig)}
    values = {k: v for k, v in raw["model_config"].items() if k in kinds}
    for name, value in values.items():
        ok = isinstance(value, bool) if kinds[name] == "bool" else not isinstance(value, bool)
        if kinds[name] == "int":
            ok = ok and isinstance(value, int) and value > 0
        elif kinds[name] == "float":
            ok = ok and isinstance(value, (int, float)) and 0 <= value < 1
        if not ok:
            raise CaptionerError(f"checkpoint model_config has a bad {name}: {value!r}")
    vocab = Vocabulary(raw["vocab"])
    if not all(isinstance(w, str) for w in vocab.words):
        raise CaptionerError("checkpoint vocabulary holds something other than words")
    encoder_name = raw["encoder"]["name"]
    if not isinstance(encoder_name, str):
        raise CaptionerError(f"checkpoint encoder name is not a string: {encoder_name!r}")
    for key, kind in (("meta", dict), ("train_state", dict)):
        if raw.get(key) is not None and not isinstance(raw[key], kind):
            raise CaptionerError(f"checkpoint field {key!r} is not a mapping")
    if raw.get("encoder_state") is not None:
        _tensors(raw["encoder_state"], "encoder_state")
    return DecoderConfig(**values), vocab, encoder_name, _tensors(raw["decoder"], "decoder")


def build_model(ckpt: Checkpoint, source: str = "checkpoint", with_encoder: bool = True) -> CaptionModel:
    """The ``CaptionModel`` a checkpoint describes, in eval mode, on the CPU, in float32."""
    decoder = AttentionDecoder(ckpt.config)
    load_checked(decoder, {k: v.float() for k, v in ckpt.decoder_state.items()}, source)
    encoder: Encoder | None = None
    if with_encoder:
        encoder = build_encoder(ckpt.encoder_name, pretrained=ckpt.encoder_state is None)
        if encoder.spec.channels != ckpt.config.feature_dim:
            raise CaptionerError(
                f"{source}: encoder {ckpt.encoder_name} gives {encoder.spec.channels} channels, "
                f"the decoder expects {ckpt.config.feature_dim}"
            )
        if ckpt.encoder_state is not None:
            trunk = {k.removeprefix("features."): v for k, v in ckpt.encoder_state.items()}
            load_checked(
                encoder.features, {k: v.float() if v.is_floating_point() else v for k, v in trunk.items()}, source
            )
    return CaptionModel(encoder, decoder).eval()


def load_model(path: str | os.PathLike, with_encoder: bool = True) -> tuple[CaptionModel, Checkpoint]:
    """Read ``path`` and build its model: the one call ``caption``, ``score`` and ``explain`` need."""
    ckpt = read_checkpoint(path)
    return build_model(ckpt, str(path), with_encoder), ckpt


def release(ckpt: Checkpoint, half: bool = True) -> Checkpoint:
    """A stripped copy for shipping: no optimizer or RNG state, weights in float16 if ``half``."""

    def cast(state):
        if state is None:
            return None
        return {k: v.half() if half and v.is_floating_point() else v for k, v in state.items()}

    return Checkpoint(
        ckpt.config, ckpt.encoder_name, ckpt.vocab, cast(ckpt.decoder_state), cast(ckpt.encoder_state), ckpt.meta, None
    )


def default_weights() -> Path | None:
    """The shipped model: ``$CAPTIONER_WEIGHTS``, else ``captioner/weights/default.pt`` in the installed package,
    else ``weights/default.pt`` beside a source checkout. None if none is there."""
    env = os.environ.get("CAPTIONER_WEIGHTS")
    if env:
        return Path(env)
    candidates = []
    try:
        from importlib.resources import files

        candidates.append(Path(str(files("captioner.weights") / DEFAULT_WEIGHTS_NAME)))
    except (ModuleNotFoundError, TypeError):
        pass
    candidates.append(Path(__file__).resolve().parents[2] / "weights" / DEFAULT_WEIGHTS_NAME)
    return next((p for p in candidates if p.is_file()), None)
