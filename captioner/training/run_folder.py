"""What a finished run leaves in its folder: a sample page of validation photos, a README saying which files
matter and which can go, and the resumable state removed unless it is to be kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from captioner.atomic import atomic_write
from captioner.evaluation.report import write_sample_page
from captioner.model.checkpoint import build_model, read_checkpoint
from captioner.model.decode import decode, model_defaults
from captioner.training.batches import Split
from captioner.training.checkpoints import metrics_path, resume_path
from captioner.training.config import Recipe

SAMPLES = 24  # photos on the sample page
SAMPLES_NAME = "samples.html"


def write_samples(out: Path, split: Split, recipe: Recipe, validation: bool) -> Path:
    """``samples.html`` beside ``out``: evenly spaced photos of ``split`` with the saved model's caption (decoded as
    ``caption`` would: its beam size, its length penalty) above their reference captions."""
    from dataclasses import replace

    ckpt = read_checkpoint(out)
    decoder = build_model(ckpt, str(out), with_encoder=False).decoder
    n = len(split.captions)
    k = min(SAMPLES, n)
    chosen = [i * n // k for i in range(k)]  # evenly spaced, all distinct
    options = model_defaults(replace(recipe.decode, length_penalty=None), ckpt.meta)
    caps = decode(decoder, split.features[chosen], ckpt.vocab, options)
    items = [
        {
            "file_name": split.names[i],
            "image": split.paths[i] if split.paths else "",
            "prediction": c[0].text if c else "",
            "references": split.captions[i],
        }
        for i, c in zip(chosen, caps)
    ]
    which = "validation photos" if validation else "training photos (the run had no validation set)"
    subtitle = f"{len(items)} of {n} {which}: the model's caption in bold, the references numbered below"
    return write_sample_page(out.parent / SAMPLES_NAME, items, f"captioner train: {out}", subtitle)


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 2**20:.0f} MB" if path.is_file() else "absent"


def finish_folder(out: Path, keep_resume: bool, log: Callable[[str], None]) -> None:
    """Delete the resumable state unless ``keep_resume``, write the folder's README, say what is where."""
    state = resume_path(out)
    removed = ""
    if state.is_file() and not keep_resume:
        removed = f"; deleted {state.name} ({_size(state)}, the resumable state: the run is finished)"
        state.unlink()
    lines = [
        f"This folder holds one `captioner train` run. Keep {out.name}; everything else can be deleted.",
        "",
        f"{out.name}  the trained model (captioner caption --weights {out.name} PHOTO)",
        f"{metrics_path(out).name}  one row of training and validation metrics per epoch",
        f"curves.png  those metrics drawn (captioner plot {out.parent.name or '.'})",
        f"{SAMPLES_NAME}  validation photos with the model's captions and their references",
    ]
    if state.is_file():
        lines.append(f"{state.name}  the resumable state, {_size(state)}: only --resume reads it; safe to delete")
    with atomic_write(out.parent / "README.txt") as f:
        f.write("\n".join(lines) + "\n")
    log(f"run folder {out.parent}: {out.name} ({_size(out)}), curves.png, {SAMPLES_NAME}, README.txt{removed}")
