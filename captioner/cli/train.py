"""``captioner train``: parse the options into a ``TrainConfig`` and run it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from captioner.cli.app import main, progress_enabled
from captioner.data.formats import FORMATS
from captioner.errors import EXIT_CODES_HELP


def _init_weights(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    """``--init``: a model file, or ``default`` for the shipped model."""
    if value is None:
        return None
    if value == "default":
        from captioner.model.checkpoint import default_weights

        path = default_weights()
        if path is None:
            raise click.BadParameter("no shipped model is installed; pass a model file", ctx, param)
        return path
    path = Path(value)
    if not path.is_file():
        raise click.BadParameter(f"{value!r}: no such model file ('default' is the shipped model)", ctx, param)
    return path


@main.command(epilog=EXIT_CODES_HELP)
@click.option(
    "--train-captions",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Training captions: a COCO .json, a .csv/.tsv or .jsonl table, a Hugging Face imagefolder, or a folder of "
    "photos with .txt/.caption files beside them.",
)
@click.option(
    "--train-images",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder the training file names are relative to [default: the caption file's folder].",
)
@click.option(
    "--val-captions",
    type=click.Path(exists=True, path_type=Path),
    help="Validation captions, any format (BLEU-4 each epoch picks the best checkpoint) [default: hold out "
    "--val-share of the training photos].",
)
@click.option(
    "--val-images",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder the validation file names are relative to [default: the caption file's folder].",
)
@click.option(
    "--format",
    "caption_format",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="Caption format of both sources (auto: from the folder's contents or the file's suffix).",
)
@click.option("--image-column", help="Photo column of a CSV/TSV/JSON Lines file [default: file_name, image, ...].")
@click.option("--caption-column", help="Caption column of a CSV/TSV/JSON Lines file [default: caption, text, ...].")
@click.option(
    "--val-share",
    default=0.1,
    show_default=True,
    type=click.FloatRange(0, 0.5),
    help="Without --val-captions, hold out this share of the photos (seeded by --seed, at most 500) to validate on.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Checkpoint to write; metrics.jsonl goes beside it.",
)
@click.option("--encoder", default="efficientnet_lite0", show_default=True)
@click.option("--epochs", default=8, show_default=True, type=click.IntRange(0), help="Cross-entropy epochs.")
@click.option(
    "--scst-epochs",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Self-critical epochs (CIDEr-D reward) after them.",
)
@click.option(
    "--batch-size",
    default=32,
    show_default=True,
    type=click.IntRange(1),
    help="Images per batch (each with all its captions).",
)
@click.option("--lr", default=5e-4, show_default=True, type=click.FloatRange(0, min_open=True))
@click.option(
    "--scst-top-k",
    default=5,
    show_default=True,
    type=click.IntRange(0),
    help="Self-critical samples draw each word from the k most likely (0: all).",
)
@click.option("--scst-lr", default=2e-5, show_default=True, type=click.FloatRange(0, min_open=True))
@click.option("--min-word-freq", default=5, show_default=True, type=click.IntRange(1))
@click.option("--hidden-dim", default=512, show_default=True, type=click.IntRange(8))
@click.option("--embed-dim", default=512, show_default=True, type=click.IntRange(8))
@click.option("--attention-dim", default=512, show_default=True, type=click.IntRange(8))
@click.option("--dropout", default=0.5, show_default=True, type=click.FloatRange(0, 1, max_open=True))
@click.option("--label-smoothing", default=0.1, show_default=True, type=click.FloatRange(0, 1, max_open=True))
@click.option(
    "--attention-reg",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Weight of the doubly-stochastic attention penalty.",
)
@click.option(
    "--average-last",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Also try the average of the last N epochs' weights.",
)
@click.option("--val-beam-size", default=3, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--max-images", type=click.IntRange(1), help="Use only the first N images of each split.")
@click.option("--resume", is_flag=True, help="Continue from OUTPUT.resume (after Ctrl-C or a crash).")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Feature cache [default: $CAPTIONER_CACHE or ~/.cache/captioner].",
)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(0), help="Image-decoding processes.")
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Device for computing features.",
)
@click.option(
    "--train-device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Device the model trains on.",
)
@click.option(
    "--precision",
    type=click.Choice(["fp32", "bf16", "fp16"]),
    default="fp32",
    show_default=True,
    help="Autocast precision for training (fp16 needs CUDA).",
)
@click.option(
    "--grad-accum",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Micro-batches per optimizer step (the batch is split into them).",
)
@click.option(
    "--fine-tune-encoder-from-epoch",
    type=click.IntRange(1),
    default=None,
    help="From this epoch on also train the last encoder blocks; features are then computed on the fly.",
)
@click.option("--fine-tune-blocks", default=3, show_default=True, type=click.IntRange(1))
@click.option(
    "--init",
    callback=_init_weights,
    help="Fine-tune this model ('default': the shipped one); new words of the captions extend its vocabulary "
    "(e.g. --epochs 0 --scst-epochs 3 for self-critical training only).",
)
@click.option("--encoder-lr", default=1e-5, show_default=True, type=click.FloatRange(0, min_open=True))
@click.option(
    "--keep-resume/--no-keep-resume",
    default=False,
    show_default=True,
    help="Keep OUTPUT.resume (the resumable state) after the run finishes; an interrupted run always keeps it.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def train(quiet, **opts):
    """Train a caption model on your captioned photos, with the encoder frozen and its features cached.

    Reads COCO caption JSON, CSV/TSV and JSON Lines tables (several rows per photo allowed), Hugging Face
    imagefolder datasets and folders of photos with .txt/.caption sidecars. Without --val-captions a seeded share
    of the photos is held out for validation. With --init it fine-tunes a model, adding the new words.

    Runs as one process, or under torchrun as DistributedDataParallel (gloo on CPU, nccl on CUDA):
    torchrun --nproc_per_node 2 -m captioner train ...

    Example:

    \b
        captioner train --train-captions my_photos/ --init default -o runs/mine/model.pt --epochs 3
        captioner train --train-captions train.json --train-images imgs/ \\
            --val-captions val.json --val-images imgs/ -o model.pt
    """
    from captioner.training.run import run_training

    if opts["val_images"] is not None and opts["val_captions"] is None:
        raise click.UsageError("--val-images needs --val-captions")
    if opts["epochs"] == 0 and opts["scst_epochs"] == 0:
        raise click.UsageError("nothing to train: --epochs and --scst-epochs are both 0")
    config = train_config(opts, progress_enabled(quiet))
    sys.exit(run_training(config, log=lambda m: click.echo(m, err=True)))


def train_config(opts: dict, progress: bool):
    """The ``TrainConfig`` of the parsed options: every option lands in exactly one typed field."""
    from dataclasses import fields

    from captioner.data.formats import ReadOptions
    from captioner.model.decode import DecodeOptions
    from captioner.training.config import DataConfig, ModelOptions, Recipe, TrainConfig

    def pick(cls, **renamed):
        names = {f.name for f in fields(cls)}
        return {k: opts[k] for k in names if k in opts} | {k: opts[v] for k, v in renamed.items()}

    recipe = Recipe(**pick(Recipe, batch_images="batch_size"), decode=DecodeOptions(beam_size=opts["val_beam_size"]))
    return TrainConfig(
        data=DataConfig(
            **pick(DataConfig), read=ReadOptions(opts["caption_format"], opts["image_column"], opts["caption_column"])
        ),
        output=opts["output"],
        recipe=recipe,
        model=ModelOptions(**pick(ModelOptions)),
        encoder=opts["encoder"],
        train_device=opts["train_device"],
        resume=opts["resume"],
        init=opts["init"],
        keep_resume=opts["keep_resume"],
        progress=progress,
    )
