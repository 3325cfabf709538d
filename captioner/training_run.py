"""Everything ``captioner train`` does around the training loop: data, vocabulary, feature cache, signals."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from captioner.checkpoint import read_checkpoint
from captioner.coco import CaptionSet, load_captions
from captioner.distributed import World, init_world, shutdown
from captioner.encoders import build_encoder, encoder_spec
from captioner.errors import CaptionerError
from captioner.features import FeatureCache, default_cache_dir, encode_images
from captioner.inference import DecodeOptions
from captioner.model import DecoderConfig
from captioner.train import Split, TrainConfig, TrainingInterrupted, train
from captioner.vocab import Vocabulary

EXIT_INTERRUPTED = 130


@dataclass
class TrainRequest:
    train_captions: Path
    train_images: Path
    output: Path
    val_captions: Path | None = None
    val_images: Path | None = None
    encoder: str = "efficientnet_lite0"
    max_images: int | None = None
    min_word_freq: int = 5
    cache_dir: Path | None = None
    workers: int = 2
    device: str = "auto"
    resume: bool = False
    progress: bool = False
    model: dict = field(default_factory=dict)  # DecoderConfig fields
    train: dict = field(default_factory=dict)  # TrainConfig fields
    val_beam_size: int = 3
    train_device: str = "cpu"  # where the decoder trains ("auto": CUDA if there is one)
    init: Path | None = None  # start from this checkpoint's decoder (and vocabulary) instead of from scratch


def load_split(
    captions: CaptionSet,
    encoder_name: str,
    cache: FeatureCache | None,
    workers: int,
    device: str,
    progress: bool,
    encoder=None,
    world: World | None = None,
) -> Split:
    """Features for every image of ``captions`` (from the cache when possible) with their captions.

    Under torchrun each rank first computes its own shard into the cache; after a barrier all read the lot.
    """
    from tqdm import tqdm

    world = world or World()
    paths = [im.path for im in captions.images]
    encoder = encoder or build_encoder(encoder_name)
    if world.active:
        if cache is None:
            raise CaptionerError("distributed training needs the feature cache")
        encode_images(paths[world.rank :: world.size], encoder, cache, workers=workers, device=device)
        world.barrier()
    with tqdm(
        total=len(paths),
        desc=f"features {captions.source.name}",
        unit="img",
        disable=not (progress and world.main),
        leave=False,
    ) as bar:
        feats = encode_images(paths, encoder, cache, workers=workers, device=device, progress=bar.update)
    return Split(feats, [im.captions for im in captions.images], [im.file_name for im in captions.images], paths)


def run_training(req: TrainRequest, log: Callable[[str], None] = print) -> int:
    """Train as requested; returns the exit status (0 done, 130 interrupted with a resumable state saved)."""
    from captioner.captioning import pick_device

    spec = encoder_spec(req.encoder)
    try:  # runs/mine/model.pt: the run's folder is made for it
        req.output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CaptionerError(f"{req.output.parent}: cannot create the output folder ({e.strerror or e})") from None
    train_device = str(pick_device(req.train_device))
    world = init_world(train_device)
    if world.active and train_device.startswith("cuda"):
        train_device = f"cuda:{world.local_rank}"
    say = log if world.main else (lambda m: None)
    try:
        train_set = load_captions(req.train_captions, req.train_images, max_images=req.max_images)
        val_set = (
            load_captions(req.val_captions, req.val_images, max_images=req.max_images) if req.val_captions else None
        )
        for note in train_set.notes + (val_set.notes if val_set else []):
            say(note)
        init = read_checkpoint(req.init) if req.init else None
        if init is not None and init.encoder_name != req.encoder:
            raise CaptionerError(f"{req.init}: was trained with encoder {init.encoder_name}, not {req.encoder}")
        vocab = (
            init.vocab
            if init
            else Vocabulary.build((c for im in train_set.images for c in im.captions), req.min_word_freq)
        )
        say(
            f"{len(train_set.images)} training images, {sum(len(i.captions) for i in train_set.images)} captions, "
            f"vocabulary of {len(vocab)} words (seen at least {req.min_word_freq} times)"
            + (f"; {world.size} processes" if world.active else "")
        )
        device = str(pick_device(req.device))
        if world.active and device.startswith("cuda"):
            device = f"cuda:{world.local_rank}"
        cache = FeatureCache(req.cache_dir or default_cache_dir(), spec.name, spec.image_size)
        encoder = build_encoder(req.encoder)
        t0 = time.perf_counter()
        train_split = load_split(train_set, req.encoder, cache, req.workers, device, req.progress, encoder, world)
        val_split = (
            load_split(val_set, req.encoder, cache, req.workers, device, req.progress, encoder, world)
            if val_set
            else None
        )
        say(f"features ready in {time.perf_counter() - t0:.0f}s (cache: {cache.dir})")
        del encoder

        model_config = (
            init.config if init else DecoderConfig(vocab_size=len(vocab), feature_dim=spec.channels, **req.model)
        )
        known = TrainConfig.__dataclass_fields__
        cfg = TrainConfig(
            **{k: v for k, v in req.train.items() if k in known}, decode=DecodeOptions(beam_size=req.val_beam_size)
        )
        meta = {
            "dataset": {
                "train": str(req.train_captions),
                "val": str(req.val_captions) if req.val_captions else None,
                "train_images": len(train_set.images),
            },
            "decode": {"beam_size": req.val_beam_size, "length_penalty": 0.0},
        }
        if init is not None:
            meta["init"] = str(req.init)
        return _train_with_signals(
            train_split,
            val_split,
            vocab,
            model_config,
            cfg,
            req,
            spec.name,
            meta,
            world,
            train_device,
            say,
            init.decoder_state if init else None,
        )
    finally:
        shutdown(world)


def _train_with_signals(
    train_split, val_split, vocab, model_config, cfg, req, encoder_name, meta, world, device, log, init_state
) -> int:
    stop = {"flag": False}

    def handler(signum, frame):
        if stop["flag"]:  # a second Ctrl-C: give up at once
            raise KeyboardInterrupt
        stop["flag"] = True
        log("stopping: saving a resumable checkpoint at the end of this step (Ctrl-C again to abort)")

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = train(
            train_split,
            val_split,
            vocab,
            model_config,
            cfg,
            req.output,
            encoder_name,
            meta,
            req.resume,
            should_stop=lambda: stop["flag"],
            log=log,
            progress=req.progress,
            world=world,
            device=device,
            encoder_builder=lambda: build_encoder(encoder_name),
            init_state=init_state,
        )
    except TrainingInterrupted as e:
        log(f"interrupted; resume with the same command plus --resume (state saved in {e.path})")
        return EXIT_INTERRUPTED
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    log(f"done in {result['elapsed'] / 60:.1f} min; best checkpoint: {req.output}")
    return 0
