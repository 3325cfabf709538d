"""The smaller commands: merge, explain, plot and prepare."""

from __future__ import annotations

from pathlib import Path

import click

from captioner.cli.app import main
from captioner.cli.options import decode_flags, decode_options
from captioner.data.formats import FORMATS


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Merged file (atomic)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "jsonl", "csv"]),
    help="Output format [default: from OUTPUT's suffix: .jsonl, .csv, else text].",
)
def merge(inputs, output, fmt):
    """Merge the outputs of sharded caption runs (--shard I/N, or torchrun) into one file.

    Each input's format comes from its suffix. Every path appears once: a caption beats an error record for the
    same file, otherwise the later input wins. A cut-off last line (a killed run) is skipped with a warning.

    Example:

    \b
        captioner merge captions.*-of-4.jsonl -o captions.jsonl
    """
    from captioner.photos.merge import merge_outputs

    summary = merge_outputs(list(inputs), output, fmt)
    for name in summary.partial:
        click.echo(f"Warning: {name}: last line was cut off (a killed run?); skipped it", err=True)
    extra = f", {summary.duplicates} duplicates dropped" if summary.duplicates else ""
    failed = f", {summary.failed} errors" if summary.failed else ""
    click.echo(f"{output}: {summary.records} records from {len(inputs)} files{extra}{failed}", err=True)


@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("explain.png"), show_default=True
)
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), help="Model file (default: shipped).")
@decode_flags
@click.option("--n-best", default=3, show_default=True, type=click.IntRange(1), help="Captions listed on top.")
@click.option(
    "--guidance/--no-guidance", default=True, show_default=True, help="Let the classifier's labels steer the caption."
)
def explain(*, path, output, weights, beam_size, max_length, length_penalty, n_best, guidance):
    """Draw what the model looked at: the photo under each word's attention map.

    Example:

    \b
        captioner explain photo.jpg -o explain.png
    """
    from captioner.evaluation.explain import explain_image, render
    from captioner.labels.describe import Describer
    from captioner.labels.guide import DEFAULT_GUIDE
    from captioner.model.checkpoint import read_checkpoint
    from captioner.model.decode import model_defaults
    from captioner.photos.caption import resolve_weights
    from captioner.photos.pipeline import Captioner

    ckpt = read_checkpoint(resolve_weights(weights))
    options = model_defaults(
        decode_options(beam_size, max_length, length_penalty, min(n_best, beam_size), 1), ckpt.meta
    )
    expl = explain_image(Captioner(Describer(ckpt, DEFAULT_GUIDE if guidance else None)), path, options)
    render(expl, output)
    for i, c in enumerate(expl.captions, 1):
        click.echo(f"{i}. {c.text}\t{c.score:.3f}")
    click.echo(f"-> {output}", err=True)


@main.command()
@click.argument("run", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="PNG [default: curves.png beside the metrics].",
)
def plot(run, output):
    """Redraw the training curves of a run (its folder or its metrics.jsonl).

    Example:

    \b
        captioner plot runs/mine/
    """
    from captioner.evaluation.plots import plot_curves, read_metrics

    rows = read_metrics(run)
    folder = run if run.is_dir() else run.parent
    out = plot_curves(rows, output or folder / "curves.png", title=str(folder))
    click.echo(f"{len(rows)} epochs -> {out}")


_SPLITS_FOLDER = click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for captions_{train,val,test}.json.",
)


def _echo_splits(output: Path, summary: dict[str, tuple[int, int]]) -> None:
    for split, (n_images, n_captions) in summary.items():
        click.echo(f"{output / f'captions_{split}.json'}: {n_images} images, {n_captions} captions")


@main.group()
def prepare():
    """Convert datasets to COCO caption files.

    Example:

    \b
        captioner prepare flickr8k ~/data/flickr8k -o ~/data/flickr8k
    """


@prepare.command("flickr8k")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_SPLITS_FOLDER
def prepare_flickr8k_cmd(root, output):
    """Flickr8k (ROOT holds Flickr8k_text/ and images/) to captions_{train,val,test}.json.

    Example:

    \b
        captioner prepare flickr8k ~/data/flickr8k -o ~/data/flickr8k
    """
    from captioner.data.prepare import prepare_flickr8k

    _echo_splits(output, prepare_flickr8k(root, output))


@prepare.command("karpathy")
@click.argument("split_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_SPLITS_FOLDER
@click.option(
    "--restval",
    type=click.Choice(["train", "val", "test", "skip"]),
    default="train",
    show_default=True,
    help="Where COCO's 'restval' images go.",
)
def prepare_karpathy_cmd(split_file, output, restval):
    """Karpathy's split file (dataset_coco.json, dataset_flickr30k.json, ...) to captions_{train,val,test}.json.

    For COCO, file names become train2014/... and val2014/...: pass the folder holding both as --train-images.

    Example:

    \b
        captioner prepare karpathy ~/data/coco/dataset_coco.json -o ~/data/coco
    """
    from captioner.data.prepare import prepare_karpathy

    _echo_splits(output, prepare_karpathy(split_file, output, restval))


class SplitType(click.ParamType):
    """``80/10/10`` or ``90/10`` (parts of 100, or any proportions) -> shares adding up to 1."""

    name = "TRAIN/VAL[/TEST]"

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        try:
            parts = [float(p) for p in str(value).split("/")]
        except ValueError:
            parts = []
        if len(parts) not in (2, 3) or any(p < 0 for p in parts) or parts[0] <= 0 or sum(parts) <= 0:
            self.fail(f"{value!r} is not TRAIN/VAL or TRAIN/VAL/TEST proportions (e.g. 80/10/10)", param, ctx)
        return [p / sum(parts) for p in parts]


@prepare.command("captions")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for captions.json, or captions_{train,val,test}.json with --split.",
)
@click.option(
    "--images",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder the file names are relative to [default: SOURCE's folder, or SOURCE if a folder].",
)
@click.option("--format", "caption_format", type=click.Choice(FORMATS), default="auto", show_default=True)
@click.option("--image-column", help="Photo column of a CSV/TSV/JSON Lines file [default: file_name, image, ...].")
@click.option("--caption-column", help="Caption column of a CSV/TSV/JSON Lines file [default: caption, text, ...].")
@click.option("--split", "shares", type=SplitType(), help="Split by photo, e.g. 80/10/10 (train/val/test) or 90/10.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the split.")
def prepare_captions_cmd(*, source, output, images, caption_format, image_column, caption_column, shares, seed):
    """Any caption format train reads (CSV/TSV, JSON Lines, imagefolder, .txt sidecars, COCO) to COCO files.

    The result works with every command that takes COCO files (score, train); file names stay relative to the
    image folder. Missing photos are left out (the run stops if fewer than half are found); --split divides the
    photos, each with all its captions, with a seeded shuffle.

    Example:

    \b
        captioner prepare captions my_photos/ -o my_photos/coco --split 80/10/10
        captioner prepare captions captions.csv --images photos/ -o coco/
    """
    from captioner.data.formats import ReadOptions
    from captioner.data.prepare import prepare_captions

    options = ReadOptions(caption_format, image_column, caption_column)
    summary, captions = prepare_captions(source, output, images=images, options=options, shares=shares, seed=seed)
    for note in captions.notes:
        click.echo(note, err=True)
    root = images or (source if source.is_dir() else source.parent)
    for stem, (n_images, n_captions) in summary.items():
        click.echo(f"{output / f'{stem}.json'}: {n_images} images, {n_captions} captions")
    click.echo(f"file names are relative to {root} (pass it as --images / --train-images)", err=True)
