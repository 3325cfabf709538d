"""``captioner score``: decode a caption file's images with a model, or read predictions, then score them.

BLEU-1..4 always (nltk, our tokenizer); with the ``metrics`` extra and Java also CIDEr-D, METEOR, ROUGE-L and
pycocoevalcap's own BLEU (PTB tokenizer); optionally an HTML page of the best and worst images by CIDEr-D.
"""

from __future__ import annotations

import json
from pathlib import Path

from captioner.atomic import atomic_write
from captioner.coco import CaptionedImage, load_captions
from captioner.errors import CaptionerError
from captioner.metrics import CiderD, corpus_bleu
from captioner.vocab import tokenize


def read_predictions(path: Path) -> dict[str, str]:
    """File name -> caption from ``caption --format jsonl`` output (error records are skipped)."""
    preds: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise CaptionerError(f"{path}: cannot read ({e})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise CaptionerError(f"{path}:{n}: not JSON ({e.msg})") from None
        if not isinstance(rec, dict) or not isinstance(rec.get("path"), str):
            raise CaptionerError(f"{path}:{n}: expected an object with a 'path'")
        if isinstance(rec.get("caption"), str):
            preds[rec["path"]] = rec["caption"]
    return preds


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
        from captioner.coco_eval import available, coco_scores

        reason = available()
        if reason is None:
            scores = coco_scores([im.captions for im in images], hyps)
            per_image = scores.pop("per_image_cider")
            result.update({k: round(v, 3 if k == "cider" else 2) for k, v in scores.items()})
        else:
            result["coco_metrics"] = f"skipped: {reason}"
    if html is not None:
        from captioner.gallery import write_score_report

        if per_image is None:  # our own CIDEr-D, same definition, no Java needed
            scorer = CiderD(refs)
            per_image = [scorer.score(h, r) for h, r in zip(tokens, refs)]
        items = [
            {"file_name": im.file_name, "image": im.path, "prediction": h, "references": im.captions, "cider": c}
            for im, h, c in zip(images, hyps, per_image)
        ]
        write_score_report(html, items, title=f"captioner score: {summary}")
    return result


def score_predictions(
    captions: Path,
    predictions: Path,
    max_images: int | None = None,
    images_root: Path | None = None,
    coco: bool = True,
    html: Path | None = None,
) -> dict:
    """Score ``caption`` output against a COCO file, images matched by file name (or its path suffix)."""
    refs = load_captions(captions, images_root or Path("."), check_files=False, max_images=max_images)
    preds = read_predictions(predictions)
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
            f"{predictions}: no prediction for {len(missing)} of {len(refs.images)} images ({', '.join(missing[:3])})"
        )
    return evaluate_captions(used, hyps, f"{len(hyps)} images, predictions from {predictions}", coco, html)


def score_weights(
    captions: Path,
    images: Path,
    weights: Path,
    beam_size: int = 3,
    max_length: int = 20,
    length_penalty: float | None = None,
    batch_size: int = 64,
    max_images: int | None = None,
    cache_dir: Path | None = None,
    save_predictions: Path | None = None,
    progress: bool = False,
    coco: bool = True,
    html: Path | None = None,
) -> dict:
    """Decode every image of ``captions`` with the model at ``weights`` (features cached) and score the result."""
    from captioner.checkpoint import load_model
    from captioner.features import FeatureCache, default_cache_dir, file_digest
    from captioner.inference import DecodeOptions, decode
    from captioner.training_run import load_split

    refs = load_captions(captions, images, max_images=max_images)
    model, ckpt = load_model(weights)
    if length_penalty is None:
        length_penalty = float(ckpt.meta.get("decode", {}).get("length_penalty", 0.0))
    spec = model.encoder.spec
    tag = "pretrained" if ckpt.encoder_state is None else f"trained-{file_digest(weights)[:12]}"
    cache = FeatureCache(cache_dir or default_cache_dir(), spec.name, spec.image_size, tag)
    split = load_split(refs, spec.name, cache, workers=2, device="cpu", progress=progress, encoder=model.encoder)
    options = DecodeOptions(beam_size, max_length, length_penalty, 1, batch_size)
    caps = decode(model.decoder, split.features, ckpt.vocab, options)
    hyps = [c[0].text if c else "" for c in caps]
    if save_predictions is not None:
        with atomic_write(save_predictions) as f:
            for im, c in zip(refs.images, caps):
                f.write(
                    json.dumps(
                        {
                            "path": im.file_name,
                            "caption": c[0].text if c else "",
                            "score": round(c[0].score, 4) if c else None,
                        }
                    )
                    + "\n"
                )
    summary = f"{len(hyps)} images, beam size {beam_size}, length penalty {length_penalty:g}, model {weights}"
    return evaluate_captions(refs.images, hyps, summary, coco, html)
