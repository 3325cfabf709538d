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


class _ShardType(click.ParamType):
    name = "I/N"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        i, _, n = str(value).partition("/")
        if not (i.isdigit() and n.isdigit() and 1 <= int(i) <= int(n)):
            self.fail(f"{value!r} is not I/N with 1 <= I <= N (e.g. 1/4)", param, ctx)
        return int(i) - 1, int(n)


def shard_output(path: Path, index: int, count: int) -> Path:
    """``captions.jsonl`` -> ``captions.2-of-4.jsonl`` for the second of four torchrun processes."""
    return path.with_name(f"{path.stem}.{index + 1}-of-{count}{path.suffix}")


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
@click.option(
    "--backend",
    type=click.Choice(["auto", "torch", "onnx"]),
    default="auto",
    show_default=True,
    help="Encoder runtime on the CPU; auto: ONNX Runtime for folders and several files, PyTorch for one file.",
)
@click.option(
    "--shard",
    type=_ShardType(),
    help="Caption only slice I of N (1-based) of the sorted file list, e.g. 2/4 on the second of four machines; "
    "under torchrun it is taken from RANK/WORLD_SIZE.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def caption(paths, quiet, **o):
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
    from captioner.distributed import env_shard
    from captioner.images import DEFAULT_MAX_PIXELS
    from captioner.runtime import onnx_available

    shard = o["shard"]
    if shard is None and env_shard() is not None:  # under torchrun: one slice per process, own output files
        shard = env_shard()
        quiet = quiet or shard[0] > 0
        for key in ("output", "html"):
            if o[key] is not None:
                o[key] = shard_output(o[key], *shard)
    weights_path = _resolve_weights(o["weights"])
    model, ckpt = load_model(weights_path)
    decode = _decode_options(
        ckpt.meta, o["beam_size"], o["max_length"], o["length_penalty"], o["n_best"], o["batch_size"]
    )
    if o["n_tags"]:
        decode.n_best = o["beam_size"]  # keywords pool all the beam's captions
    single = len(paths) == 1 and paths[0].is_file()
    options = CaptionOptions(
        decode=decode,
        batch_size=o["batch_size"],
        recursive=o["recursive"],
        workers=o["workers"] if o["workers"] is not None else (0 if single else 2),
        max_pixels=o["max_pixels"] or DEFAULT_MAX_PIXELS,
        shard=shard,
    )
    job = BatchJob(
        list(paths),
        o["fmt"],
        o["output"],
        o["resume"],
        o["n_best"],
        o["n_tags"],
        o["xmp"],
        o["xmp_name"],
        o["embed"],
        o["html"],
        model_name=ckpt.meta.get("name", weights_path.stem),
    )
    backend = o["backend"]
    if backend == "auto":
        backend = "onnx" if onnx_available() and not single else "torch"
    elif backend == "onnx" and not onnx_available():
        raise CaptionerError("--backend onnx needs onnxruntime (pip install onnxruntime)")
    captioner = Captioner(model, ckpt.vocab, pick_device(o["device"]), backend)
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
        output = o["output"]
        click.echo(f"{done} ({', '.join(e for e in extra if e)})" + (f" -> {output}" if output else ""), err=True)
    if summary.interrupted:
        again = "interrupted; run the same command with --resume to continue"
        click.echo(again if o["output"] else "interrupted", err=True)
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
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Start from this model's decoder and vocabulary (e.g. --epochs 0 --scst-epochs 3 for self-critical only).",
)
@click.option("--encoder-lr", default=1e-5, show_default=True, type=click.FloatRange(0, min_open=True))
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def train(quiet, **opts):
    """Train a caption model on COCO-style caption files, with the encoder frozen and its features cached.

    Runs as one process, or under torchrun as DistributedDataParallel (gloo on CPU, nccl on CUDA):
    torchrun --nproc_per_node 2 -m captioner train ...

    Example:

        captioner train --train-captions train.json --train-images imgs/ \\
            --val-captions val.json --val-images imgs/ -o model.pt
    """
    from captioner.training_run import TrainRequest, run_training

    if (opts["val_captions"] is None) != (opts["val_images"] is None):
        raise click.UsageError("--val-captions and --val-images go together")
    model_keys = "hidden_dim embed_dim attention_dim dropout".split()
    train_keys = (
        "epochs scst_epochs lr scst_lr scst_top_k label_smoothing attention_reg average_last seed min_word_freq "
        "precision "
        "grad_accum fine_tune_encoder_from_epoch fine_tune_blocks encoder_lr"
    ).split()
    request_keys = (
        "train_captions train_images val_captions val_images output encoder max_images min_word_freq "
        "cache_dir workers device resume val_beam_size train_device init"
    ).split()
    request = TrainRequest(
        **{k: opts[k] for k in request_keys},
        progress=_progress_enabled(quiet),
        model={k: opts[k] for k in model_keys},
        train={**{k: opts[k] for k in train_keys}, "batch_images": opts["batch_size"]},
    )
    sys.exit(run_training(request, log=lambda m: click.echo(m, err=True)))


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
    help="Folder of the images (needed with --weights and for --html).",
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
@click.option("--bleu-only", is_flag=True, help="Skip the COCO metrics (CIDEr-D, METEOR, ROUGE-L).")
@click.option(
    "--html",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a page of the best and worst images by CIDEr-D, with their references.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def score(**opts):
    """Score captions against references: corpus BLEU-1..4 (x100, all references, closest reference length).

    With the metrics extra (pip install 'captioner[metrics]') and Java, also CIDEr-D, METEOR and ROUGE-L from
    pycocoevalcap, on its PTB tokenisation. SPICE is not computed (it downloads Stanford models at first use).

    Example:

        captioner score --weights model.pt --captions test.json --images imgs/

        captioner score --predictions captions.jsonl --captions test.json --html report.html
    """
    import json

    from captioner.scoring import score_predictions, score_weights

    if (opts["weights"] is None) == (opts["predictions"] is None):
        raise click.UsageError("give exactly one of --weights or --predictions")
    coco = not opts["bleu_only"]
    if opts["predictions"] is not None:
        result = score_predictions(
            opts["captions"], opts["predictions"], opts["max_images"], opts["images"], coco, opts["html"]
        )
    else:
        if opts["images"] is None:
            raise click.UsageError("--weights needs --images")
        result = score_weights(
            opts["captions"],
            opts["images"],
            _resolve_weights(opts["weights"]),
            opts["beam_size"],
            opts["max_length"],
            opts["length_penalty"],
            opts["batch_size"],
            opts["max_images"],
            opts["cache_dir"],
            opts["save_predictions"],
            _progress_enabled(opts["quiet"]),
            coco,
            opts["html"],
        )
    if opts["as_json"]:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(result["summary"])
    names = {
        "bleu1": "BLEU-1",
        "bleu2": "BLEU-2",
        "bleu3": "BLEU-3",
        "bleu4": "BLEU-4",
        "meteor": "METEOR",
        "rouge_l": "ROUGE-L",
        "cider": "CIDEr-D",
    }
    for key, name in names.items():
        if key in result:
            click.echo(f"{name}\t{result[key]:.3f}" if key == "cider" else f"{name}\t{result[key]:.2f}")
    if "coco_metrics" in result:
        click.echo(f"(CIDEr-D, METEOR, ROUGE-L {result['coco_metrics']})", err=True)


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

        captioner merge captions.*-of-4.jsonl -o captions.jsonl
    """
    from captioner.merge import merge_outputs

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
@_decode_flags
@click.option("--n-best", default=3, show_default=True, type=click.IntRange(1), help="Captions listed on top.")
def explain(path, output, weights, beam_size, max_length, length_penalty, n_best):
    """Draw what the model looked at: the photo under each word's attention map.

    Example:

        captioner explain photo.jpg -o explain.png
    """
    from captioner.captioning import Captioner
    from captioner.checkpoint import load_model
    from captioner.explain import explain_image, render

    model, ckpt = load_model(_resolve_weights(weights))
    options = _decode_options(ckpt.meta, beam_size, max_length, length_penalty, min(n_best, beam_size), 1)
    expl = explain_image(Captioner(model, ckpt.vocab), path, options)
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

        captioner plot runs/mine/
    """
    from captioner.plots import plot_curves, read_metrics

    rows = read_metrics(run)
    folder = run if run.is_dir() else run.parent
    out = plot_curves(rows, output or folder / "curves.png", title=str(folder))
    click.echo(f"{len(rows)} epochs -> {out}")


# ---------------------------------------------------------------------------------------------------------------


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

        captioner prepare flickr8k ~/data/flickr8k -o ~/data/flickr8k
    """


@prepare.command("flickr8k")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_SPLITS_FOLDER
def prepare_flickr8k_cmd(root, output):
    """Flickr8k (ROOT holds Flickr8k_text/ and images/) to captions_{train,val,test}.json.

    Example:

        captioner prepare flickr8k ~/data/flickr8k -o ~/data/flickr8k
    """
    from captioner.prepare import prepare_flickr8k

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

        captioner prepare karpathy ~/data/coco/dataset_coco.json -o ~/data/coco
    """
    from captioner.prepare import prepare_karpathy

    _echo_splits(output, prepare_karpathy(split_file, output, restval))
