"""``captioner score``: parse the options into a ``ScoreConfig``, score, print the table."""

from __future__ import annotations

import json
from pathlib import Path

import click

from captioner.cli.app import main, progress_enabled
from captioner.cli.options import decode_flags, precision_option

METRIC_NAMES = {
    "bleu1": "BLEU-1",
    "bleu2": "BLEU-2",
    "bleu3": "BLEU-3",
    "bleu4": "BLEU-4",
    "meteor": "METEOR",
    "rouge_l": "ROUGE-L",
    "cider": "CIDEr-D",
}


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
@decode_flags
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
@click.option(
    "--guidance/--no-guidance",
    default=True,
    show_default=True,
    help="With --weights: decode as caption does, the classifier's labels steering the captions.",
)
@precision_option(
    "fp32",
    "With --weights: decode in this number format, as `caption --precision` does (int8 encodes every photo "
    "afresh, never from the float32 feature cache).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def score(
    *,
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
    bleu_only,
    html,
    as_json,
    quiet,
    guidance,
    precision,
):
    """Score captions against references: corpus BLEU-1..4 (x100, all references, closest reference length).

    With the metrics extra (pip install 'captioner[metrics]') and Java, also CIDEr-D, METEOR and ROUGE-L from
    pycocoevalcap, on its PTB tokenisation. SPICE is not computed (it downloads Stanford models at first use).

    Example:

    \b
        captioner score --weights model.pt --captions test.json --images imgs/
        captioner score --predictions captions.jsonl --captions test.json --html report.html
    """
    from captioner.evaluation.scoring import ScoreConfig
    from captioner.evaluation.scoring import score as run_score
    from captioner.model.decode import DecodeOptions
    from captioner.photos.caption import resolve_weights

    if (weights is None) == (predictions is None):
        raise click.UsageError("give exactly one of --weights or --predictions")
    if predictions is None and images is None:
        raise click.UsageError("--weights needs --images")
    config = ScoreConfig(
        captions,
        images=images,
        weights=resolve_weights(weights) if predictions is None else None,
        predictions=predictions,
        decode=DecodeOptions(beam_size, max_length, length_penalty, 1, batch_size),
        max_images=max_images,
        cache_dir=cache_dir,
        save_predictions=save_predictions,
        coco=not bleu_only,
        html=html,
        progress=progress_enabled(quiet),
        guidance=guidance,
        precision=precision,
    )
    result = run_score(config)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(result["summary"])
    for key, name in METRIC_NAMES.items():
        if key in result:
            click.echo(f"{name}\t{result[key]:.3f}" if key == "cider" else f"{name}\t{result[key]:.2f}")
    if "coco_metrics" in result:
        click.echo(f"(CIDEr-D, METEOR, ROUGE-L {result['coco_metrics']})", err=True)
