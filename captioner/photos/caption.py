"""``captioner caption`` as one library call: load the model, choose the encoder runtime, run the job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from captioner.errors import CaptionerError
from captioner.photos.config import CaptionConfig
from captioner.photos.job import JobSummary, run_job
from captioner.photos.pipeline import Captioner


def resolve_weights(weights: Path | None) -> Path:
    """``weights``, or the shipped model; a clear error when neither exists."""
    from captioner.model.checkpoint import default_weights

    if weights is not None:
        return weights
    found = default_weights()
    if found is None:
        raise CaptionerError(
            "no default weights are installed; train a model (captioner train ... -o model.pt) "
            "and pass --weights model.pt"
        )
    return found


def choose_backend(backend: str, single_file: bool, precision: str = "fp32") -> str:
    """``auto``: ONNX Runtime for folders and several files, PyTorch for one file (no export or session cost); the
    int8 encoder is an ONNX Runtime graph, so int8 always runs there."""
    from captioner.model.onnx import onnx_available

    if precision == "int8":
        if backend == "torch":
            raise CaptionerError("--precision int8 runs the encoder with ONNX Runtime: use --backend onnx or auto")
        backend = "onnx"
    if backend == "auto":
        return "onnx" if onnx_available() and not single_file else "torch"
    if backend == "onnx" and not onnx_available():
        raise CaptionerError(
            f"--{'precision int8' if precision == 'int8' else 'backend onnx'} needs onnxruntime "
            "(pip install onnxruntime)"
        )
    return backend


def load_captioner(config: CaptionConfig) -> tuple[Captioner, dict, str]:
    """The captioner a config asks for, the checkpoint's meta, and the model's name."""
    from captioner.devices import pick_device
    from captioner.labels.describe import Describer
    from captioner.labels.guide import DEFAULT_GUIDE
    from captioner.model.checkpoint import read_checkpoint
    from captioner.photos.pipeline import Captioner
    from captioner.photos.precision import resolve_precision

    weights = resolve_weights(config.weights)
    ckpt = read_checkpoint(weights)
    describer = Describer(ckpt, DEFAULT_GUIDE if config.guidance else None)
    single = len(config.inputs) == 1 and config.inputs[0].is_file()
    device = pick_device(config.device)
    precision = resolve_precision(config.precision, device.type)
    backend = choose_backend(config.backend, single, precision.encoder)
    captioner = Captioner(describer, device, backend, precision=precision)
    return captioner, ckpt.meta, ckpt.meta.get("name", weights.stem)


def caption_files(
    config: CaptionConfig,
    on_error: Callable[[str], None] = lambda m: None,
    on_info: Callable[[str], None] = lambda m: None,
) -> JobSummary:
    """Caption ``config.inputs`` with the model ``config.weights`` as the config says; returns what happened.
    ``on_info`` hears how the run runs (the precision and encoder runtime chosen)."""
    from captioner.model.decode import model_defaults

    if config.resume and config.output is None:
        raise CaptionerError("--resume needs -o/--output: the file that says what is already done")
    captioner, meta, name = load_captioner(config)
    on_info(f"precision {captioner.precision}, encoder on {captioner.backend}")
    config = replace(config, decode=model_defaults(config.decode, meta))
    summary = run_job(captioner, config, on_error, model_name=name)
    if summary.total == 0 and summary.resumed == 0:
        raise CaptionerError("no images found in " + ", ".join(str(p) for p in config.inputs))
    return summary
