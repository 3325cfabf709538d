"""``captioner caption``: parse the options into a ``CaptionConfig``, run it, print the summary, exit."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from captioner.cli.app import main, progress_enabled
from captioner.cli.options import ShardType, decode_flags, decode_options, precision_option
from captioner.errors import EXIT_CODES_HELP, ExitCode
from captioner.paths import display_path


@main.command(epilog=EXIT_CODES_HELP)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), help="Model file (default: shipped).")
@decode_flags
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
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here instead of stdout. Records reach OUTPUT.partial (synced every batch), which replaces OUTPUT "
    "at the end: a killed run loses at most one batch.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="With -o: continue where an interrupted or killed run stopped; files already captioned are skipped, files "
    "that failed are tried again.",
)
@click.option(
    "--tags",
    "n_tags",
    default=8,
    show_default=True,
    type=click.IntRange(0),
    help="Keywords per image: the classifier's labels at least --label-threshold probable, then the caption's "
    "words when it is confident (0: none).",
)
@click.option(
    "--label-threshold",
    default=0.3,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="A label at least this probable (its classes pooled by noun: tabby + tiger cat = cat) becomes a keyword "
    "and a category path (animal/mammal/cat). 0.3 keeps labels right ~63% of the time on Flickr8k val.",
)
@click.option(
    "--min-confidence",
    default=0.2,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="With --xmp/--embed: leave photos whose caption confidence is below this untouched (listed at the end, "
    "marked in the gallery). Confidence ~ the share of such captions that describe their photo.",
)
@click.option(
    "--guidance/--no-guidance",
    default=True,
    show_default=True,
    help="Let what the classifier is sure of steer the caption (constrained beam search; nouns the model never "
    "learned, such as zebra, are said only where the classifier sees them).",
)
@click.option("--xmp", is_flag=True, help="Write/merge an XMP sidecar beside each image (caption + keywords).")
@click.option(
    "--xmp-name",
    type=click.Choice(["photo.jpg.xmp", "photo.xmp"]),
    default="photo.jpg.xmp",
    show_default=True,
    help="Sidecar naming: photo.jpg.xmp (darktable, digiKam, Immich) or photo.xmp (Lightroom, Capture One; refused "
    "where two photos share a name stem). An existing sidecar of either name is used.",
)
@click.option(
    "--embed",
    is_flag=True,
    help="Also write caption and keywords INTO the image files (JPEG, PNG, WebP: EXIF, IPTC and XMP; image data "
    "untouched).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="DANGEROUS: with --xmp/--embed, replace descriptions written by hand (EXIF, IPTC, XMP) with the machine "
    "caption; the hand-written text is lost. Without it they are always kept. Keywords are never removed.",
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
@precision_option(
    "auto",
    "Number format on the CPU. auto: bf16 (decoder matmuls) where the CPU has bfloat16 kernels (AVX-512 BF16, "
    "AMX), else fp32; int8 quantises the encoder too (faster, captions as good, ~3 in 4 the same as fp32's). "
    "-v prints the choice.",
)
@click.option(
    "--shard",
    type=ShardType(),
    help="Caption only slice I of N (1-based) of the sorted file list, e.g. 2/4 on the second of four machines; "
    "under torchrun it is taken from RANK/WORLD_SIZE.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
@click.option("-v", "--verbose", is_flag=True, help="Text output adds each caption's confidence and labels.")
def caption(
    *,
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
    overwrite,
    html,
    recursive,
    max_pixels,
    backend,
    precision,
    shard,
    quiet,
    verbose,
    label_threshold,
    min_confidence,
    guidance,
):
    """Caption image files and folders (folders are searched recursively).

    Prints PATH<TAB>CAPTION lines, or JSON Lines / CSV with --format. Unreadable files are reported and skipped;
    the exit status is 1 if any failed, 130 if interrupted (run again with --resume to continue).

    Example:

    \b
        captioner caption photo.jpg
        captioner caption ~/Pictures/shoot/ --format jsonl -o captions.jsonl --xmp --resume
    """
    from captioner.data.images import DEFAULT_MAX_PIXELS
    from captioner.photos.caption import caption_files
    from captioner.photos.config import CaptionConfig, ScanOptions
    from captioner.photos.files import env_shard, shard_output

    if resume and output is None:
        raise click.UsageError("--resume needs -o/--output: the file that says what is already done")
    if overwrite and not (xmp or embed):
        raise click.UsageError("--overwrite needs --xmp or --embed: it is about the descriptions in photo metadata")
    if shard is None and env_shard() is not None:  # under torchrun: one slice per process, own output files
        shard = env_shard()
        quiet = quiet or shard[0] > 0
        output, html = (shard_output(p, *shard) if p is not None else None for p in (output, html))
    decode = decode_options(beam_size, max_length, length_penalty, n_best, batch_size)
    if n_tags:
        decode.n_best = beam_size  # keywords pool all the beam's captions
    single = len(paths) == 1 and paths[0].is_file()
    scan = ScanOptions(
        batch_size=batch_size,
        workers=workers if workers is not None else (0 if single else 2),
        recursive=recursive,
        max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
        shard=shard,
    )
    config = CaptionConfig(
        list(paths),
        weights=weights,
        device=device,
        backend=backend,
        precision=precision,
        decode=decode,
        scan=scan,
        fmt=fmt,
        output=output,
        resume=resume,
        n_best=n_best,
        tags=n_tags,
        xmp=xmp,
        xmp_name=xmp_name,
        embed=embed,
        overwrite=overwrite,
        html=html,
        progress=progress_enabled(quiet),
        verbose=verbose,
        guidance=guidance,
        label_threshold=label_threshold,
        min_confidence=min_confidence,
    )
    summary = caption_files(
        config,
        on_error=lambda m: click.echo(f"Error: {m}", err=True),
        on_info=lambda m: click.echo(m, err=True) if verbose else None,
    )
    if not quiet or summary.failed or summary.interrupted:
        click.echo(summary_line(summary, output), err=True)
        if summary.unsure:
            shown = ", ".join(display_path(p) for p in summary.unsure[:10])
            more = f" and {len(summary.unsure) - 10} more" if len(summary.unsure) > 10 else ""
            click.echo(
                f"left untouched (caption confidence below {min_confidence:g}): {shown}{more}",
                err=True,
            )
    if summary.interrupted:
        click.echo("interrupted; run the same command with --resume to continue" if output else "interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    if summary.failed:
        sys.exit(ExitCode.FAILED)


def summary_line(summary, output: Path | None) -> str:
    """``captioned 4 of 5 files (1 failed, 12.0 images/s) -> out.jsonl``"""
    extra = [
        f"{summary.resumed} already done" if summary.resumed else "",
        f"{summary.failed} failed" if summary.failed else "",
        f"kept {summary.kept_descriptions} hand-written descriptions" if summary.kept_descriptions else "",
        f"metadata already up to date in {summary.unchanged}" if summary.unchanged else "",
        f"{len(summary.unsure)} too unsure for metadata" if summary.unsure else "",
        f"{summary.total / max(summary.seconds, 1e-9):.1f} images/s",
    ]
    done = f"captioned {summary.total - summary.failed} of {summary.total} files"
    return f"{done} ({', '.join(e for e in extra if e)})" + (f" -> {display_path(output)}" if output else "")
