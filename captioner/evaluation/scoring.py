"""``captioner score``: decode a caption file's images with a model, or read predictions, then score them.

BLEU-1..4 always (nltk, our tokenizer); with the ``metrics`` extra and Java also CIDEr-D, METEOR, ROUGE-L and
pycocoevalcap's own BLEU (PTB tokenizer); optionally an HTML page of the best and worst images by CIDEr-D.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from captioner.atomic import atomic_write
from captioner.data.coco import CaptionedImage, load_captions
from captioner.errors import CaptionerError
from captioner.evaluation.metrics import CiderD, corpus_bleu
from captioner.model.decode import DecodeOptions
from captioner.model.vocab import tokenize


@dataclass
class ScoreConfig:
    """One ``captioner score`` run: references, and either a model to decode with or saved predictions."""

    captions: Path  # COCO caption file with the references
    images: Path | None = None  # the images' folder (needed with weights, and for html)
    weights: Path | None = None
    predictions: Path | None = None  # JSON Lines from ``caption --format jsonl``
    decode: DecodeOptions = field(default_factory=lambda: DecodeOptions(batch_size=64, length_penalty=None))
    max_images: int | None = None
    cache_dir: Path | None = None
    save_predictions: Path | None = None
    coco: bool = True  # also the pycocoevalcap metrics
    html: Path | None = None
    progress: bool = False
    guidance: bool = True  # decode as ``caption`` does, the classifier's labels steering the captions
    precision: str = "fp32"  # auto | fp32 | bf16 | int8, as ``caption --precision`` (photos.precision)


def read_predictions(path: Path) -> dict[str, str]:
    """File name -> caption from ``caption --format jsonl`` output (error records are skipped)."""
    from captioner.photos.records import read_records

    return {r.path: r.caption for r in read_records(path, "jsonl").records if r.ok}


def evaluate_captions(
    images: list[CaptionedImage], hyps: list[str], summary: str, coco: bool = True, html: Path | None = None
) -> dict:
    """All the scores of ``hyps`` against the images' references, and the HTML report if asked for."""
    refs = [[tokenize(r) for r in im.captions] for im in images]
    tokens = [tokenize(h) for h in hyps]
    result = {k: round(v, 2) for k, v in corpus_bleu(refs, tokens).items()}
    result["images"], result["summary"] = len(hyps), summary
    per_image = None
    if coco:
        from captioner.evaluation.coco_eval import available, coco_scores

        reason = available()
        if reason is None:
            scores = coco_scores([im.captions for im in images], hyps)
            per_image = scores.pop("per_image_cider")
            result.update({k: round(v, 3 if k == "cider" else 2) for k, v in scores.items()})
        else:
            result["coco_metrics"] = f"skipped: {reason}"
    if html is not None:
        from captioner.evaluation.report import write_score_report

        if per_image is None:  # our own CIDEr-D, same definition, no Java needed
            scorer = CiderD(refs)
            per_image = [scorer.score(h, r) for h, r in zip(tokens, refs)]
        items = [
            {"file_name": im.file_name, "image": im.path, "prediction": h, "references": im.captions, "cider": c}
            for im, h, c in zip(images, hyps, per_image)
        ]
        write_score_report(html, items, title=f"captioner score: {summary}")
    return result


def score(config: ScoreConfig) -> dict:
    """Score the predictions or the model the config names; the dict holds the metrics and a summary line."""
    if config.predictions is not None:
        return _score_predictions(config)
    return _score_weights(config)


def _score_predictions(config: ScoreConfig) -> dict:
    """Score ``caption`` output against a COCO file, images matched by file name (or its path suffix)."""
    refs = load_captions(config.captions, config.images or Path("."), check_files=False, max_images=config.max_images)
    preds = read_predictions(config.predictions)
    by_name: dict[str, str] = {}
    for path, cap in preds.items():
        by_name.setdefault(Path(path).name, cap)
    hyps, used, missing = [], [], []
    for im in refs.images:
        cap = preds.get(im.file_name)
        if cap is None:
            cap = by_name.get(Path(im.file_name).name)
        if cap is None:
            missing.append(im.file_name)
            continue
        hyps.append(cap)
        used.append(im)
    if missing:
        raise CaptionerError(
            f"{config.predictions}: no prediction for {len(missing)} of {len(refs.images)} images "
            f"({', '.join(missing[:3])})"
        )
    summary = f"{len(hyps)} images, predictions from {config.predictions}"
    return evaluate_captions(used, hyps, summary, config.coco, config.html)


def _score_weights(config: ScoreConfig) -> dict:
    """Decode every image of the caption file with the model (features cached) and score the result."""
    from captioner.data.features import FeatureCache, caption_set_features, default_cache_dir, file_digest
    from captioner.labels.describe import Describer
    from captioner.labels.guide import DEFAULT_GUIDE
    from captioner.model.checkpoint import read_checkpoint
    from captioner.model.decode import model_defaults
    from captioner.photos.pipeline import Captioner
    from captioner.photos.precision import resolve_precision

    refs = load_captions(config.captions, config.images, max_images=config.max_images)
    ckpt = read_checkpoint(config.weights)
    describer = Describer(ckpt, DEFAULT_GUIDE if config.guidance else None)
    options = model_defaults(config.decode, ckpt.meta)
    precision = resolve_precision(config.precision)
    captioner = Captioner(describer, "cpu", "torch", precision=precision)  # the decoder of that precision
    encoder = describer.model.encoder
    if precision.encoder == "fp32":  # the cached features are float32 encoder outputs
        tag = "pretrained" if ckpt.encoder_state is None else f"trained-{file_digest(config.weights)[:12]}"
        cache = FeatureCache(config.cache_dir or default_cache_dir(), encoder.spec.name, encoder.spec.image_size, tag)
        features = caption_set_features(refs, encoder, cache, progress=config.progress)
    else:  # never the float32 cache: this precision's own encoder on every photo
        features = caption_set_features(refs, encoder, None, progress=config.progress, extract=captioner.features)
    caps = [d.captions for d in describer.describe(features, options)]
    hyps = [c[0].text if c else "" for c in caps]
    if config.save_predictions is not None:
        with atomic_write(config.save_predictions) as f:
            for im, c in zip(refs.images, caps):
                score = round(c[0].score, 4) if c else None
                f.write(json.dumps({"path": im.file_name, "caption": c[0].text if c else "", "score": score}) + "\n")
    summary = (
        f"{len(hyps)} images, beam size {options.beam_size}, length penalty {options.length_penalty:g}, "
        f"guidance {'on' if config.guidance else 'off'}, precision {precision.name}, model {config.weights}"
    )
    return evaluate_captions(refs.images, hyps, summary, config.coco, config.html)
