"""The command line: a thin Click layer over the library. Heavy imports happen inside commands, so --help is instant."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from captioner import __version__
from captioner.errors import CaptionerError

EXIT_SOME_FAILED = 1


class _Group(click.Group):
    """Turns the library's ``CaptionerError`` into Click's one-line ``Error: ...`` with exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CaptionerError as e:
            raise click.ClickException(str(e)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="captioner")
def main() -> None:
    """Caption photos with a CNN encoder and an attention LSTM decoder.

    Example:

        captioner caption photo.jpg
    """


def _progress_enabled(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


def _resolve_weights(weights: Path | None) -> Path:
    from captioner.checkpoint import default_weights

    if weights is not None:
        return weights
    found = default_weights()
    if found is None:
        raise CaptionerError(
            "no default weights are installed; train a model (captioner train ... -o model.pt) "
            "and pass --weights model.pt"
        )
    return found


def _decode_options(
    ckpt_meta: dict, beam_size: int, max_length: int, length_penalty: float | None, n_best: int, batch_size: int
):
    from captioner.inference import DecodeOptions

    if length_penalty is None:  # the value chosen on the validation split for this model, if it recorded one
        length_penalty = float(ckpt_meta.get("decode", {}).get("length_penalty", 0.0))
    if not 1 <= n_best <= beam_size:
        raise click.UsageError(f"--n-best ({n_best}) must be between 1 and --beam-size ({beam_size})")
    return DecodeOptions(beam_size, max_length, length_penalty, n_best, batch_size)


def _decode_flags(f):
    f = click.option(
        "--max-length",
        default=20,
        show_default=True,
        type=click.IntRange(1, 100),
        help="Most tokens per caption, <end> included.",
    )(f)
    f = click.option(
        "--length-penalty",
        type=float,
        default=None,
        help="GNMT length penalty alpha (default: the value stored with the model, else 0).",
    )(f)
    f = click.option("--beam-size", default=3, show_default=True, type=click.IntRange(1, 50))(f)
    return f


# ---------------------------------------------------------------------------------------------------------------


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), help="Model file (default: shipped).")
@_decode_flags
@click.option("--n-best", default=1, show_default=True, type=click.IntRange(1), help="Captions kept per image.")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1), help="Images per batch.")
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(0),
    help="Image-decoding processes [default: 2, 0 for a single file].",
)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "jsonl", "csv"]),
    default="text",
    show_default=True,
    help="text: PATH<TAB>CAPTION; jsonl and csv add score, n-best captions and tags.",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here (atomically) instead of stdout."
)
@click.option("--resume", is_flag=True, help="With -o: skip files already in OUTPUT and append the rest.")
@click.option(
    "--tags",
    "n_tags",
    default=8,
    show_default=True,
    type=click.IntRange(0),
    help="Keywords per image (from the n-best captions).",
)
@click.option("--xmp", is_flag=True, help="Write/merge an XMP sidecar beside each image (caption + keywords).")
@click.option(
    "--xmp-name",
    type=click.Choice(["photo.xmp", "photo.jpg.xmp"]),
    default="photo.xmp",
    show_default=True,
    help="Sidecar naming convention.",
)
@click.option(
    "--embed",
    is_flag=True,
    help="Also write caption and keywords INTO the image files (JPEG, PNG, WebP: EXIF and XMP; pixels untouched).",
)
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path), help="Write a gallery page here.")
@click.option("--recursive/--no-recursive", default=True, show_default=True, help="Descend into sub-folders.")
@click.option(
    "--max-pixels", type=click.IntRange(1), default=None, help="Refuse larger images [default: Pillow's 89,478,485]."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def caption(
    paths,
    weights,
    beam_size,
    max_length,
    length_penalty,
    n_best,
    batch_size,
    workers,
    device,
    fmt,
    output,
    resume,
    n_tags,
    xmp,
    xmp_name,
    embed,
    html,
    recursive,
    max_pixels,
    quiet,
):
    """Caption image files and folders (folders are searched recursively).

    Prints PATH<TAB>CAPTION lines, or JSON Lines / CSV with --format. Unreadable files are reported and skipped;
    the exit status is 1 if any failed, 130 if interrupted (run again with --resume to continue).

    Example:

        captioner caption photo.jpg

        captioner caption ~/Pictures/shoot/ --format jsonl -o captions.jsonl --xmp --resume
    """
    from captioner.batch import BatchJob, run_batch
    from captioner.captioning import Captioner, CaptionOptions, pick_device
    from captioner.checkpoint import load_model
    from captioner.images import DEFAULT_MAX_PIXELS

    weights_path = _resolve_weights(weights)
    model, ckpt = load_model(weights_path)
    decode = _decode_options(ckpt.meta, beam_size, max_length, length_penalty, n_best, batch_size)
    if n_tags:
        decode.n_best = beam_size  # keywords pool all the beam's captions
    options = CaptionOptions(
        decode=decode,
        batch_size=batch_size,
        workers=workers if workers is not None else (0 if len(paths) == 1 and paths[0].is_file() else 2),
        recursive=recursive,
        max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
    )
    job = BatchJob(
        list(paths),
        fmt,
        output,
        resume,
        n_best,
        n_tags,
        xmp,
        xmp_name,
        embed,
        html,
        model_name=ckpt.meta.get("name", weights_path.stem),
    )
    captioner = Captioner(model, ckpt.vocab, pick_device(device))
    summary = run_batch(
        captioner,
        job,
        options,
        on_error=lambda m: click.echo(f"Error: {m}", err=True),
        progress=_progress_enabled(quiet),
    )
    if summary.total == 0 and summary.resumed == 0:
        raise CaptionerError("no images found in " + ", ".join(str(p) for p in paths))
    if not quiet or summary.failed or summary.interrupted:
        done = f"captioned {summary.total - summary.failed} of {summary.total} files"
        extra = [
            f"{summary.resumed} already done" if summary.resumed else "",
            f"{summary.failed} failed" if summary.failed else "",
            f"kept {summary.kept_descriptions} hand-written descriptions" if summary.kept_descriptions else "",
            f"{summary.total / max(summary.seconds, 1e-9):.1f} images/s",
        ]
        click.echo(f"{done} ({', '.join(e for e in extra if e)})" + (f" -> {output}" if output else ""), err=True)
    if summary.interrupted:
        click.echo("interrupted; run the same command with --resume to continue" if output else "interrupted", err=True)
        sys.exit(130)
    if summary.failed:
        sys.exit(EXIT_SOME_FAILED)


# ---------------------------------------------------------------------------------------------------------------


@main.command()
@click.option(
    "--train-captions",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="COCO caption JSON of the training images.",
)
@click.option(
    "--train-images",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder the training file_names are relative to.",
)
@click.option(
    "--val-captions",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="COCO caption JSON for validation (BLEU-4 each epoch picks the best checkpoint).",
)
@click.option("--val-images", type=click.Path(exists=True, file_okay=False, path_type=Path))
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
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def train(
    train_captions,
    train_images,
    val_captions,
    val_images,
    output,
    encoder,
    epochs,
    scst_epochs,
    batch_size,
    lr,
    scst_lr,
    min_word_freq,
    hidden_dim,
    embed_dim,
    attention_dim,
    dropout,
    label_smoothing,
    attention_reg,
    average_last,
    val_beam_size,
    seed,
    max_images,
    resume,
    cache_dir,
    workers,
    device,
    quiet,
):
    """Train a caption model on COCO-style caption files, with the encoder frozen and its features cached.

    Example:

        captioner train --train-captions train.json --train-images imgs/ \\
            --val-captions val.json --val-images imgs/ -o model.pt
    """
    from captioner.training_run import TrainRequest, run_training

    if (val_captions is None) != (val_images is None):
        raise click.UsageError("--val-captions and --val-images go together")
    request = TrainRequest(
        train_captions=train_captions,
        train_images=train_images,
        val_captions=val_captions,
        val_images=val_images,
        output=output,
        encoder=encoder,
        max_images=max_images,
        min_word_freq=min_word_freq,
        cache_dir=cache_dir,
        workers=workers,
        device=device,
        resume=resume,
        progress=_progress_enabled(quiet),
        model={"hidden_dim": hidden_dim, "embed_dim": embed_dim, "attention_dim": attention_dim, "dropout": dropout},
        train={
            "epochs": epochs,
            "scst_epochs": scst_epochs,
            "batch_images": batch_size,
            "lr": lr,
            "scst_lr": scst_lr,
            "label_smoothing": label_smoothing,
            "attention_reg": attention_reg,
            "average_last": average_last,
            "seed": seed,
            "min_word_freq": min_word_freq,
        },
        val_beam_size=val_beam_size,
    )
    code = run_training(request, log=lambda m: click.echo(m, err=True))
    sys.exit(code)


# ---------------------------------------------------------------------------------------------------------------


@main.command()
@click.option(
    "--captions",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="COCO caption JSON with the reference captions.",
)
@click.option(
    "--images",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of the images (needed with --weights).",
)
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), help="Model to decode with.")
@click.option(
    "--predictions",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Or: JSON Lines from `captioner caption --format jsonl`, matched by file name.",
)
@_decode_flags
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1))
@click.option("--max-images", type=click.IntRange(1), help="Score only the first N images.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), help="Feature cache.")
@click.option(
    "--save-predictions",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the decoded captions as JSON Lines.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def score(
    captions,
    images,
    weights,
    predictions,
    beam_size,
    max_length,
    length_penalty,
    batch_size,
    max_images,
    cache_dir,
    save_predictions,
    as_json,
    quiet,
):
    """Score captions against references: corpus BLEU-1..4 (x100, all references, closest reference length).

    Example:

        captioner score --weights model.pt --captions test.json --images imgs/

        captioner score --predictions captions.jsonl --captions test.json
    """
    import json

    from captioner.scoring import score_predictions, score_weights

    if (weights is None) == (predictions is None):
        raise click.UsageError("give exactly one of --weights or --predictions")
    if predictions is not None:
        result = score_predictions(captions, predictions, max_images)
    else:
        if images is None:
            raise click.UsageError("--weights needs --images")
        result = score_weights(
            captions,
            images,
            _resolve_weights(weights),
            beam_size,
            max_length,
            length_penalty,
            batch_size,
            max_images,
            cache_dir,
            save_predictions,
            progress=_progress_enabled(quiet),
        )
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(result["summary"])
        for key in ("bleu1", "bleu2", "bleu3", "bleu4"):
            click.echo(f"{key.upper().replace('BLEU', 'BLEU-')}\t{result[key]:.2f}")


# ---------------------------------------------------------------------------------------------------------------


@main.group()
def prepare():
    """Convert datasets to COCO caption files.

    Example:

        captioner prepare flickr8k ~/data/flickr8k -o ~/data/flickr8k
    """


@prepare.command("flickr8k")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for captions_{train,val,test}.json.",
)
def prepare_flickr8k_cmd(root, output):
    """Flickr8k (ROOT holds Flickr8k_text/ and images/) to captions_{train,val,test}.json.

    Example:

        captioner prepare flickr8k ~/data/flickr8k -o ~/data/flickr8k
    """
    from captioner.prepare import prepare_flickr8k

    for split, (n_images, n_captions) in prepare_flickr8k(root, output).items():
        click.echo(f"{output / f'captions_{split}.json'}: {n_images} images, {n_captions} captions")
